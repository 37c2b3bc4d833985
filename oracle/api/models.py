"""The JSON shapes of protocol.md "Hub HTTP API" as pydantic models, in families by resource.
Field names are the protocol's camelCase keys; they document the API at /docs."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

__all__ = [
    "ErrorBody", "InfoPublic", "DatasetPublic", "OfferPublic", "OffersPublic", "SpecCreated",
    "TermsCreated", "DealPublic",
]

_HEX32 = r"^0x[0-9a-f]{64}$"
_ADDRESS = r"^0x[0-9a-fA-F]{40}$"
_UINT = r"^(0|[1-9][0-9]*)$"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ErrorBody(_Model):
    """Every error: a code (the protocol's table) and what is wrong and how to fix it."""

    error: str = Field(examples=["unprocessable"])
    detail: str = Field(examples=["token 0x... is not one offer 'o1' lists (0x000...0): pay with one of them"])


class InfoPublic(_Model):
    """`GET /v1/info`: which protocol, chain, contract, seller and oracle this hub speaks for."""

    protocol: str = Field(examples=["spartacus-v1"])
    chainId: int
    contract: str = Field(pattern=_ADDRESS)
    seller: str = Field(pattern=_ADDRESS)
    oracle: str = Field(pattern=_ADDRESS)


class DatasetPublic(_Model):
    """A dataset on sale: its release schema, size and privacy budget (spent as the chain says)."""

    datasetId: str = Field(pattern=_HEX32)
    name: str
    schema_: dict[str, Any] = Field(alias="schema", description="the release schema: features/label/columns with kinds and bounds")
    rows: int
    epsilonCapMilli: int
    epsilonSpentMilli: int

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class OfferPublic(_Model):
    """One offer: the release's precision, the price rule, the tokens accepted and the minimum quote fee."""

    offerId: str
    datasetId: str = Field(pattern=_HEX32)
    release: dict[str, Any] = Field(description='{"epsilon": "<decimal>" | "exact", "mechanism": {"name", ...}}')
    pricing: dict[str, Any] = Field(description='{"method": "<MDE method>", "curve": {...}} or {"method": "fixed", "price": "<uint>"}')
    tokens: list[str]
    minQuoteFee: str = Field(pattern=_UINT)


class OffersPublic(_Model):
    """`GET /v1/offers?buyer=`: the offers made to that buyer (its own and the hub's defaults)."""

    buyer: str = Field(pattern=_ADDRESS)
    offers: list[OfferPublic]


class SpecCreated(_Model):
    """`PUT /v1/specs` answered 201: the keccak of the bundle, for the terms' specHash."""

    specHash: str = Field(pattern=_HEX32)


class TermsCreated(_Model):
    """`PUT /v1/terms` answered 201: the hash to open the deal with."""

    termsHash: str = Field(pattern=_HEX32)


class DealPublic(_Model):
    """`GET /v1/deals/<id>`: the phase (the contract's state name) and why the hub declined, if it did."""

    dealId: int
    phase: str = Field(examples=["Quoted"])
    reason: str | None
