"""The hub's durable state in SQLite (WAL): the ONE module that runs queries, so a server database
can replace it. INTERFACE STUB written by the lead: helper "hub-core" implements every method with
exactly these signatures (it may add methods; it must not rename these); helper "hub-api" codes
against them. Delete this paragraph when implemented."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["Store", "DatasetRecord", "OfferRecord", "TermsRecord", "DealRecord"]


@dataclass(frozen=True)
class DatasetRecord:
    """A dataset the hub sells: id (0x + 64 hex), name, release schema (privacy.Schema as JSON dict),
    rows and the on-chain cap in milli-epsilon (EXACT = 2**32 - 1)."""

    dataset_id: str
    name: str
    schema: dict[str, Any]
    rows: int
    epsilon_cap_milli: int


@dataclass(frozen=True)
class OfferRecord:
    """A per-buyer (buyer = checksummed address) or default (buyer = None) offer; `release` and
    `pricing` are exactly the JSON objects the protocol's terms and GET /v1/offers carry."""

    offer_id: str
    dataset_id: str
    buyer: str | None
    release: dict[str, Any]
    pricing: dict[str, Any]
    tokens: tuple[str, ...]
    min_quote_fee: int

    def public(self) -> dict[str, Any]:
        """The offer as GET /v1/offers lists it."""
        return {"offerId": self.offer_id, "datasetId": self.dataset_id, "release": self.release,
                "pricing": self.pricing, "tokens": list(self.tokens), "minQuoteFee": str(self.min_quote_fee)}


@dataclass(frozen=True)
class TermsRecord:
    """Terms the hub accepted (PUT /v1/terms answered 201): the canonical bytes and their hash."""

    terms_hash: str
    canonical: bytes
    buyer: str
    dataset_id: str
    offer_id: str
    spec_hash: str | None


@dataclass(frozen=True)
class DealRecord:
    """What the hub knows of a deal. `phase` is the contract's state name ("Open", "Quoted", ...,
    or "Declined"-reason kept in `reason`); `cipher_path` / `leaves_path` exist once quoted.
    `key` is secret until revealed on chain: never serve it."""

    deal_id: int
    buyer: str
    terms_hash: str
    phase: str
    reason: str | None = None
    price: int | None = None
    epsilon_milli: int | None = None
    n: int | None = None
    cipher_path: Path | None = None
    leaves_path: Path | None = None


class Store:
    """Open (create, migrate) the hub's database at `path`; files (raw data, releases,
    ciphertexts) live under `path.parent`."""

    def __init__(self, path: Path) -> None:
        raise NotImplementedError

    # datasets
    def add_dataset(self, record: DatasetRecord, raw: bytes) -> None: ...
    def get_dataset(self, dataset_id: str) -> DatasetRecord | None: ...
    def list_datasets(self) -> list[DatasetRecord]: ...
    def raw_data(self, dataset_id: str) -> bytes: ...  # hub-internal: never served

    # offers
    def put_offer(self, offer: OfferRecord) -> None: ...
    def get_offer(self, offer_id: str) -> OfferRecord | None: ...
    def offers_for(self, buyer: str) -> list[OfferRecord]: ...  # that buyer's offers plus the defaults

    # specs
    def put_spec(self, spec_hash: str, data: bytes) -> None: ...  # idempotent
    def get_spec(self, spec_hash: str) -> bytes | None: ...
    def spec_evaluated(self, spec_hash: str, dataset_id: str) -> bool: ...

    # terms
    def put_terms(self, record: TermsRecord) -> None: ...  # idempotent
    def get_terms(self, terms_hash: str) -> TermsRecord | None: ...

    # deals
    def get_deal(self, deal_id: int) -> DealRecord | None: ...
