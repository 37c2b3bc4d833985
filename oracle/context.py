"""What the HTTP API and the watcher share at run time: the store, the chain binding and the
hub's identity. Built once by `hub serve` (from Settings) or by a test."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable

from client.chain import Exchange

from .store import Store

__all__ = ["HubContext"]


@dataclass
class HubContext:
    """The hub's running state: `seller` and `oracle` are checksummed addresses; `max_spec_bytes`
    bounds PUT /v1/specs; `auth_past` / `auth_future` are the signature window in seconds.
    The owner's page: `owner_secret_hash` (None keeps it locked), `owner_session_seconds`, the hub's
    payment `tokens`, and `signer` for the seller's own transactions (withdraw): a LocalAccount, or
    None to send as `seller` on a node that holds its key (development chains)."""

    store: Store
    exchange: Exchange
    chain_id: int
    seller: str
    oracle: str
    max_spec_bytes: int = 16 * 1024 * 1024
    max_terms_bytes: int = 64 * 1024
    auth_past: int = 300
    auth_future: int = 30
    clock: Callable[[], float] = field(default=time.time)
    owner_secret_hash: str | None = None
    owner_session_seconds: int = 3600
    tokens: tuple[str, ...] = ("0x0000000000000000000000000000000000000000",)
    signer: Any = None
