"""Fixtures for the owner's page: the shared `hub` (tests/oracle/conftest.py) with an owner secret
set, behind a TestClient, and helpers to log in and read a page's CSRF token."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi.testclient import TestClient

from oracle.api import create_app
from oracle.web import hash_secret

SECRET = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf" value="([^"]+)"')


def csrf_of(html: str) -> str:
    """The first CSRF token in a page's forms."""
    m = _CSRF.search(html)
    assert m is not None, "no CSRF token in the page"
    return m.group(1)


@dataclass
class Page:
    """The hub's app behind a TestClient (`client`), and the `hub` fixture it serves."""

    hub: Any
    client: TestClient

    def login(self, secret: str = SECRET) -> Any:
        """Open the login page and send the secret with its CSRF token; the POST's response."""
        form = self.client.get("/owner/login")
        return self.client.post("/owner/login", data={"csrf": csrf_of(form.text), "secret": secret},
                                follow_redirects=False)

    def csrf(self, path: str = "/owner/offers") -> str:
        """The session's CSRF token, read from a page."""
        r = self.client.get(path)
        assert r.status_code == 200, r.text
        return csrf_of(r.text)


@pytest.fixture()
def people_hub(owner_hub, monkeypatch):
    """`owner_hub` with two datasets holding a boolean private column `sex`, "people-exact" (EXACT
    cap) and "people" (capped), and small, fast sanitizer fits: what a sanitized offer needs."""
    from client.chain.exchange import EXACT
    from oracle import sanitizers
    from oracle.rawdata import dataset_id_for, encode_raw
    from oracle.store import DatasetRecord
    from tests.oracle.test_sanitized_offer_hub import ROWS, SMALL, people_data, people_schema

    monkeypatch.setattr(sanitizers, "FIT_CONFIG", SMALL)
    hub, schema = owner_hub, people_schema()
    for name, cap in (("people-exact", EXACT), ("people", 5000)):
        ds_id = dataset_id_for(hub.seller, name)
        hub.ex.register_dataset(bytes.fromhex(ds_id[2:]), cap, sender=hub.seller)
        hub.store.add_dataset(DatasetRecord(ds_id, name, schema.to_json(), ROWS, cap),
                              encode_raw(people_data(), schema))
        hub.datasets[name] = ds_id
    return hub


@pytest.fixture()
def owner_hub(hub):
    """The `hub` fixture with an owner secret set (scrypt n = 2**10 to keep tests fast)."""
    hub.ctx.owner_secret_hash = hash_secret(SECRET, n=2**10)
    return hub


@pytest.fixture()
def page(owner_hub) -> Page:
    """A TestClient on the hub's app (pages and API), not logged in."""
    with TestClient(create_app(owner_hub.ctx), raise_server_exceptions=True) as client:
        yield Page(owner_hub, client)
