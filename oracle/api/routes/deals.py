"""`GET /v1/deals/<id>` and the buyer's two downloads, authenticated, streamed and resumable."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, AsyncIterator

import anyio
from fastapi import APIRouter, Header, Path as PathParam
from fastapi.responses import StreamingResponse
from starlette.concurrency import run_in_threadpool

from oracle import service

from ..auth import authenticate
from ..deps import ContextDep
from ..models import DealPublic, ErrorBody
from ..ranges import ByteRange, parse_range

__all__ = ["router", "STREAM_CHUNK", "stream_file"]

router = APIRouter(prefix="/v1/deals", tags=["deal"])

#: Bytes read from disk per step of a download: memory per download stays this, whatever the release's size.
STREAM_CHUNK = 256 * 1024

DealId = Annotated[int, PathParam(description="the deal's on-chain id (1, 2, 3, ...)")]
Authorization = Annotated[str | None, Header(description="Spartacus issued=<unix seconds>, signature=0x<130 hex>")]
RangeHeader = Annotated[str | None, Header(alias="Range", description="one range: bytes=a-b, bytes=a- or bytes=-k")]
_DOWNLOAD = {200: {"content": {"application/octet-stream": {}}}, 206: {"description": "the range asked for"},
             **{s: {"model": ErrorBody} for s in (400, 401, 403, 404, 409, 416)}}


@router.get("/{deal_id}", response_model=DealPublic, responses={404: {"model": ErrorBody}})
def read_deal(ctx: ContextDep, deal_id: DealId) -> DealPublic:
    """The deal's phase as the contract names it, and the hub's reason when it declined."""
    return DealPublic.model_validate(service.deal_public(ctx, deal_id))


async def stream_file(path: Path, part: ByteRange, chunk: int = STREAM_CHUNK) -> AsyncIterator[bytes]:
    """Yield bytes `part.start` .. `part.end` of `path`, `chunk` at a time, read off the event loop."""
    fd = await anyio.to_thread.run_sync(os.open, str(path), os.O_RDONLY)
    try:
        pos, end = part.start, part.end + 1
        while pos < end:
            data = await anyio.to_thread.run_sync(os.pread, fd, min(chunk, end - pos), pos)
            if not data:  # the file shrank under us: end short rather than loop
                return
            pos += len(data)
            yield data
    finally:
        os.close(fd)


async def _download(ctx: ContextDep, deal_id: int, authorization: str | None, range_header: str | None,
                    which: str) -> StreamingResponse:
    signer = authenticate(authorization, chain_id=ctx.chain_id, contract=ctx.exchange.address, deal_id=deal_id,
                          now=ctx.clock(), past=ctx.auth_past, future=ctx.auth_future)
    deal = await run_in_threadpool(service.deal_for_download, ctx, deal_id, signer)
    path = Path(deal.cipher_path if which == "ciphertext" else deal.leaves_path)
    size = (await anyio.to_thread.run_sync(os.stat, path)).st_size
    part = parse_range(range_header, size)
    headers = {"Content-Length": str(part.length), "Accept-Ranges": "bytes", "Cache-Control": "no-store"}
    if part.partial:
        headers["Content-Range"] = part.content_range
    return StreamingResponse(stream_file(path, part), status_code=206 if part.partial else 200,
                             media_type="application/octet-stream", headers=headers)


@router.get("/{deal_id}/ciphertext", response_class=StreamingResponse, responses=_DOWNLOAD)
async def read_ciphertext(ctx: ContextDep, deal_id: DealId, authorization: Authorization = None,
                          range_header: RangeHeader = None) -> StreamingResponse:
    """The encrypted release, n x 1024 bytes, to the deal's buyer while it is Quoted, Accepted or Revealed."""
    return await _download(ctx, deal_id, authorization, range_header, "ciphertext")


@router.get("/{deal_id}/leaves", response_class=StreamingResponse, responses=_DOWNLOAD)
async def read_leaves(ctx: ContextDep, deal_id: DealId, authorization: Authorization = None,
                      range_header: RangeHeader = None) -> StreamingResponse:
    """The plain leaves, n x 32 bytes, to the deal's buyer while it is Quoted, Accepted or Revealed."""
    return await _download(ctx, deal_id, authorization, range_header, "leaves")
