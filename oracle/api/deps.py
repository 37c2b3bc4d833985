"""FastAPI dependencies as `Annotated` aliases: the hub's context, and a request body read in a
bounded way (never more than the limit plus one chunk in memory)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from oracle.context import HubContext
from oracle.errors import BadRequest, TooLarge

__all__ = ["get_context", "ContextDep", "read_bounded"]


def get_context(request: Request) -> HubContext:
    """The `HubContext` the app was created with."""
    return request.app.state.hub


ContextDep = Annotated[HubContext, Depends(get_context)]


async def read_bounded(request: Request, limit: int, what: str, *, content_types: tuple[str, ...] = ()) -> bytes:
    """The request body, refused with `TooLarge` as soon as it exceeds `limit` bytes (by its
    Content-Length or while streaming it), and with `BadRequest` for a Content-Type not listed."""
    ctype = request.headers.get("content-type")
    if content_types and ctype is not None and ctype.split(";")[0].strip().lower() not in content_types:
        raise BadRequest(f"{what} must be sent as {' or '.join(content_types)}, not {ctype.split(';')[0]!r}")
    declared = request.headers.get("content-length")
    if declared is not None:
        if not declared.isdigit():
            raise BadRequest("the Content-Length header is not a number")
        if int(declared) > limit:
            raise TooLarge(f"{what} is {int(declared)} bytes, over this hub's limit of {limit} bytes")
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > limit:
            raise TooLarge(f"{what} is over this hub's limit of {limit} bytes")
    return bytes(body)
