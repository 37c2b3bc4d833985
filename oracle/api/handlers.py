"""Every error as `{"error": "<code>", "detail": "..."}` (protocol.md "Hub HTTP API"): the hub's own
`HubError`s, FastAPI's validation errors, Starlette's 404/405 for unknown routes, and anything
unexpected (a 500 whose detail says nothing of the data: an exception's text may quote a value)."""

from __future__ import annotations

import logging
from typing import Any, Callable

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from oracle.errors import HubError

from .ranges import RangeNotSatisfiable

__all__ = ["ContainErrors", "error_response", "install_handlers"]

log = logging.getLogger("oracle.api")

_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 405: "method_not_allowed",
          409: "conflict", 413: "too_large", 416: "range_not_satisfiable", 422: "unprocessable"}


def error_response(status: int, code: str, detail: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """The protocol's error body with `status`."""
    return JSONResponse({"error": code, "detail": detail}, status_code=status, headers=headers)


async def _hub_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, HubError)
    headers = None
    if isinstance(exc, RangeNotSatisfiable):
        headers = {"Content-Range": f"bytes */{exc.size}"}
    elif exc.status == 401:
        headers = {"WWW-Authenticate": "Spartacus"}
    return error_response(exc.status, exc.code, exc.detail, headers)


async def _validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    # name where and what, never the input value pydantic keeps in each error
    parts = [f"{'.'.join(str(p) for p in e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in exc.errors()]
    return error_response(400, "bad_request", "; ".join(parts) or "malformed request")


async def _http_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    code = _CODES.get(exc.status_code, "error")
    if exc.status_code == 404:
        detail = f"no such route: {request.method} {request.url.path}; the API is under /v1 (see /docs)"
    elif exc.status_code == 405:
        detail = f"{request.method} is not allowed on {request.url.path} (see /docs)"
    else:
        detail = str(exc.detail)
    return error_response(exc.status_code, code, detail, getattr(exc, "headers", None))


_INTERNAL = "the hub failed on this request; its owner can read the log"


class ContainErrors:
    """ASGI middleware: an unexpected exception becomes the 500 body and goes no further.

    Starlette's own 500 handler re-raises after answering, so that the server logs the traceback;
    that log line would carry the exception's text, which may quote a raw value. Here only its
    type is logged. A failure after the answer started (mid-stream) just ends the response."""

    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracked(message: dict) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:  # noqa: BLE001 - contained on purpose, see the class docstring
            log.error("internal error on %s %s%s: %s", scope.get("method"), scope.get("path"),
                      " (after the answer started)" if started else "", type(exc).__name__)
            if not started:
                response = error_response(500, "internal", _INTERNAL)
                await response(scope, receive, send)


def install_handlers(app: FastAPI) -> None:
    """Register the handlers on `app`, and the middleware that keeps a crash's text out of the logs."""
    app.add_exception_handler(HubError, _hub_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_middleware(ContainErrors)
