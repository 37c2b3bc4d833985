"""`GET /v1/info`: the protocol, chain, contract, seller and oracle this hub speaks for."""

from __future__ import annotations

from fastapi import APIRouter

from oracle.service import PROTOCOL

from ..deps import ContextDep
from ..models import InfoPublic

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["hub"])


@router.get("/info", response_model=InfoPublic)
def read_info(ctx: ContextDep) -> InfoPublic:
    """Which chain and contract to open deals on, and the seller to name in the terms."""
    return InfoPublic(protocol=PROTOCOL, chainId=ctx.chain_id, contract=ctx.exchange.address,
                      seller=ctx.seller, oracle=ctx.oracle)
