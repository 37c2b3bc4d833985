"""`GET /v1/offers?buyer=`: what this hub offers an address."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from oracle import service

from ..deps import ContextDep
from ..models import ErrorBody, OffersPublic

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["catalogue"])


@router.get("/offers", response_model=OffersPublic, responses={400: {"model": ErrorBody}})
def read_offers(ctx: ContextDep, buyer: Annotated[str, Query(description="the buyer's address (EIP-55 or lower case)")]) -> OffersPublic:
    """The offers made to `buyer` (its own and the hub's defaults): precision, price rule, tokens, minimum quote fee."""
    return OffersPublic.model_validate(service.offers_public(ctx, buyer))
