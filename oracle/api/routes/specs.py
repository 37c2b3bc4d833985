"""`PUT /v1/specs`: upload a pricing spec bundle (safetensors; never unpickled)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from oracle import service

from ..deps import ContextDep, read_bounded
from ..models import ErrorBody, SpecCreated

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["deal"])

_BODY = {"requestBody": {"required": True, "content": {"application/octet-stream": {"schema": {"type": "string", "format": "binary"}}}}}


@router.put("/specs", status_code=201, response_model=SpecCreated, openapi_extra=_BODY,
            responses={400: {"model": ErrorBody}, 413: {"model": ErrorBody}, 422: {"model": ErrorBody}})
async def create_spec(request: Request, ctx: ContextDep) -> SpecCreated:
    """Store a spec bundle after strict validation; answer its specHash for the terms."""
    body = await read_bounded(request, ctx.max_spec_bytes, "the spec bundle",
                              content_types=("application/octet-stream",))
    return SpecCreated(specHash=await run_in_threadpool(service.accept_spec, ctx, body))
