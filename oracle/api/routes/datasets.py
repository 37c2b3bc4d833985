"""`GET /v1/datasets`: what the hub sells, with the privacy budget spent as the chain says."""

from __future__ import annotations

from fastapi import APIRouter

from oracle import service

from ..deps import ContextDep
from ..models import DatasetPublic

__all__ = ["router"]

router = APIRouter(prefix="/v1", tags=["catalogue"])


@router.get("/datasets", response_model=list[DatasetPublic])
def read_datasets(ctx: ContextDep) -> list[DatasetPublic]:
    """Every dataset: release schema, rows, the epsilon cap and what quotes have spent of it."""
    return [DatasetPublic.model_validate(d) for d in service.datasets_public(ctx)]
