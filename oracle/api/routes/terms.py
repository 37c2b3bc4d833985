"""`PUT /v1/terms`: submit the canonical terms bytes; 201 only for terms the hub will price."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from oracle import service

from ..deps import ContextDep, read_bounded
from ..models import ErrorBody, TermsCreated

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["deal"])

_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {"type": "object"}}}}}


@router.put("/terms", status_code=201, response_model=TermsCreated, openapi_extra=_BODY,
            responses={s: {"model": ErrorBody} for s in (400, 404, 409, 413, 422)})
async def create_terms(request: Request, ctx: ContextDep) -> TermsCreated:
    """Check the terms (400 malformed, 404 unknown dataset or offer, 422 not priceable, 409 spec
    already evaluated, in that order) and store them; answer the termsHash to open the deal with."""
    body = await read_bounded(request, ctx.max_terms_bytes, "the terms document",
                              content_types=("application/json", "application/octet-stream"))
    record = await run_in_threadpool(service.accept_terms, ctx, body)
    return TermsCreated(termsHash=record.terms_hash)
