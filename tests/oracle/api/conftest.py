"""Fixtures for the HTTP API's tests: the API of the shared `hub` fixture (tests/oracle/conftest.py)
behind a TestClient with a fixed clock, the chain accounts' keys to sign delivery messages, and
deals put straight into the store in any phase with real ciphertext files."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from fastapi.testclient import TestClient

from client.delivery import encode_bytes
from oracle.api import create_app
from oracle.api.auth import delivery_message
from oracle.store import write_durable

NOW = 1_900_000_000


@dataclass
class Api:
    """The hub's API under test: `client` (raise_server_exceptions off, as a real server answers 500)."""

    hub: Any
    client: TestClient
    keys: dict[str, Any]
    now: list[float] = field(default_factory=lambda: [float(NOW)])
    plain: dict[int, bytes] = field(default_factory=dict)

    def sign(self, deal_id: int, signer: str | None = None, *, issued: int | None = None,
             message: bytes | None = None) -> str:
        """The `Authorization` header value for `deal_id`, signed by `signer` (default: the buyer)."""
        issued = int(self.now[0]) if issued is None else issued
        msg = message if message is not None else delivery_message(
            self.hub.ctx.chain_id, self.hub.ex.address, deal_id, issued)
        sig = Account.sign_message(encode_defunct(primitive=msg), self.keys[signer or self.hub.buyer]).signature
        return f"Spartacus issued={issued}, signature=0x{bytes(sig).hex()}"

    def headers(self, deal_id: int, signer: str | None = None, **kw: Any) -> dict[str, str]:
        """`{"Authorization": ...}` for `deal_id`."""
        return {"Authorization": self.sign(deal_id, signer, **kw)}

    def put_deal(self, deal_id: int, *, phase: str = "Quoted", buyer: str | None = None, size: int = 5000,
                 reason: str | None = None, files: bool = True, spec_hash: str | None = None,
                 dataset: str = "census", plain: bytes | None = None, terms_hash: str = "0x" + "ab" * 32) -> bytes:
        """A deal in the store in `phase` with a release of `size` random bytes encoded to real
        ciphertext and leaves files (as the pipeline leaves them); returns the release."""
        store = self.hub.store
        store.record_deal_opened(deal_id, buyer=buyer or self.hub.buyer, terms_hash=terms_hash,
                                 dataset_id=self.hub.datasets[dataset], token="0x" + "00" * 20,
                                 max_price=10**18, quote_fee=10**15, block=1)
        plain = os.urandom(size) if plain is None else plain
        size = len(plain)
        if files:
            key = os.urandom(32)
            cipher, leaves, c = encode_bytes(plain, key)
            d = store.deal_dir(deal_id)
            paths = (d / "release.bin", d / "cipher", d / "leaves")
            for p, data in zip(paths, (plain, cipher, leaves)):
                write_durable(p, data)
            store.record_quote_prepared(deal_id, spec_hash=spec_hash, dataset_id=self.hub.datasets[dataset], price=1,
                                        epsilon_milli=1000, key=key, data_root=c.data_root, cipher_root=c.cipher_root,
                                        key_commit=c.key_commit, size=size, n=c.n, release_path=paths[0],
                                        cipher_path=paths[1], leaves_path=paths[2])
        if phase != "Open" or reason:
            store.set_phase(deal_id, phase, reason=reason)
        self.plain[deal_id] = plain
        return plain


@pytest.fixture()
def api(hub) -> Api:
    """The API of a fresh hub, its clock fixed at NOW (move it through `api.now[0]`)."""
    backend = hub.w3.provider.ethereum_tester.backend
    keys = {Account.from_key(k).address: k for k in backend.account_keys}
    holder = Api(hub=hub, client=None, keys=keys)  # type: ignore[arg-type]
    hub.ctx.clock = lambda: holder.now[0]
    holder.client = TestClient(create_app(hub.ctx), raise_server_exceptions=False)
    return holder
