"""Shared steps for contract tests: drive a deal to a given state with honest defaults."""

from __future__ import annotations

import hashlib
import secrets

from client.chain.exchange import ETH
from client.delivery import Commitment, encode_bytes
from tests.contracts.conftest import DATASET, ETHER, Env

MAX_PRICE = 1 * ETHER
QUOTE_FEE = ETHER // 100
PRICE = 6 * ETHER // 10


def terms(label: str) -> bytes:
    """A distinct 32-byte terms hash per label."""
    return hashlib.sha3_256(label.encode()).digest()


def open_deal(env: Env, *, label: str = "t", buyer: str | None = None, max_price: int = MAX_PRICE,
              quote_fee: int = QUOTE_FEE, token: str = ETH, dataset: bytes = DATASET) -> int:
    deal_id, _ = env.ex.open_deal(env.who.seller, dataset, terms(label), max_price, quote_fee,
                                  sender=buyer or env.who.buyer, token=token)
    return deal_id


def release(size: int = 5000) -> tuple[bytes, bytes, bytes, bytes, Commitment]:
    """(data, key, cipher, leaves, commitment) of a fresh honest encoding."""
    data, key = secrets.token_bytes(size), secrets.token_bytes(32)
    cipher, leaves, commitment = encode_bytes(data, key)
    return data, key, cipher, leaves, commitment


def quote(env: Env, deal_id: int, *, price: int = PRICE, epsilon_milli: int = 1000,
          commitment: Commitment | None = None) -> Commitment:
    commitment = commitment or release()[4]
    env.ex.post_quote(deal_id, price, epsilon_milli, commitment, sender=env.who.oracle)
    return commitment


def quoted_deal(env: Env, **open_kwargs) -> int:
    """A deal in state Quoted with the default price and epsilon."""
    deal_id = open_deal(env, **open_kwargs)
    quote(env, deal_id)
    return deal_id


def revealed_deal(env: Env, *, label: str = "t", size: int = 5000, **open_kwargs) -> tuple[int, bytes, bytes, bytes, Commitment]:
    """A deal in state Revealed; returns (dealId, key, cipher, leaves, commitment)."""
    deal_id = open_deal(env, label=label, **open_kwargs)
    _, key, cipher, leaves, commitment = release(size)
    quote(env, deal_id, commitment=commitment)
    env.ex.accept(deal_id, sender=open_kwargs.get("buyer") or env.who.buyer)
    env.ex.reveal_key(deal_id, key, sender=env.who.oracle)
    return deal_id, key, cipher, leaves, commitment
