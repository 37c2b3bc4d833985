"""Buyer authentication at the hub: the header's grammar (400), a missing header, another scheme, an
unrecoverable signature or one outside [now - 300, now + 30] (401), another address (403)."""

from __future__ import annotations

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from hypothesis import given, strategies as st

from oracle.api.auth import authenticate, delivery_message, parse_authorization
from oracle.errors import BadRequest, Unauthorized

NOW = 1_900_000_000  # the api fixture's fixed clock (tests/oracle/api/conftest.py)


def test_the_signed_message_is_five_lines_without_a_trailing_newline() -> None:
    msg = delivery_message(31337, "0x5FbDB2315678afecb367f032d93F642f64180aa3", 12, 1900000000)
    assert msg == (b"spartacus delivery\nchain: 31337\ncontract: 0x5FbDB2315678afecb367f032d93F642f64180aa3\n"
                   b"deal: 12\nissued: 1900000000")


def test_the_buyer_downloads_with_a_fresh_signature(api) -> None:
    assert api.now[0] == NOW
    api.put_deal(1)
    r = api.client.get("/v1/deals/1/ciphertext", headers=api.headers(1))
    assert r.status_code == 200 and len(r.content) == 5 * 1024


SIG = "0x" + "11" * 65


@pytest.mark.parametrize("header", [
    "Spartacus",
    "Spartacus ",
    f"Spartacus signature={SIG}, issued=1900000000",       # order
    f"Spartacus issued=1900000000,signature={SIG}",         # no space
    f"Spartacus issued=1900000000,  signature={SIG}",       # two spaces
    f"Spartacus issued=1900000000, signature={SIG[:-2]}",   # 128 hex
    f"Spartacus issued=1900000000, signature={SIG}00",      # 132 hex
    f"Spartacus issued=1900000000, signature={SIG[2:]}",    # no 0x
    f"Spartacus issued=01900000000, signature={SIG}",       # leading zero
    f"Spartacus issued=-1, signature={SIG}",
    f"Spartacus issued=1.5, signature={SIG}",
    f"Spartacus issued=1900000000, signature={SIG}, x=1",   # extra parameter
    f"Spartacus issued=1900000000, signature={SIG} ",       # trailing space
    f'Spartacus issued="1900000000", signature={SIG}',
])
def test_a_spartacus_header_breaking_the_grammar_is_400(api, header: str) -> None:
    api.put_deal(1)
    r = api.client.get("/v1/deals/1/ciphertext", headers={"Authorization": header})
    assert r.status_code == 400, header
    assert r.json()["error"] == "bad_request" and "grammar" in r.json()["detail"]


@pytest.mark.parametrize("header", [None, "", "Bearer abc", "Basic dXNlcjpwYXNz", "Spartacusx issued=1"])
def test_no_header_or_another_scheme_is_401(api, header) -> None:
    api.put_deal(1)
    r = api.client.get("/v1/deals/1/leaves", headers={} if header is None else {"Authorization": header})
    assert r.status_code == 401 and r.json()["error"] == "unauthorized"
    assert r.headers["WWW-Authenticate"] == "Spartacus"


def test_an_unrecoverable_signature_is_401(api) -> None:
    api.put_deal(1)
    bad_v = api.sign(1)[:-2] + "05"  # v = 5 is neither 27/28 nor 0/1
    r = api.client.get("/v1/deals/1/ciphertext", headers={"Authorization": bad_v})
    assert r.status_code == 401 and "recovered" in r.json()["detail"]
    zero = f"Spartacus issued={NOW}, signature=0x" + "00" * 65
    assert api.client.get("/v1/deals/1/ciphertext", headers={"Authorization": zero}).status_code == 401


@pytest.mark.parametrize("offset, status", [(-301, 401), (-300, 200), (0, 200), (30, 200), (31, 401), (-10**6, 401)])
def test_the_time_window_is_300_s_past_and_30_s_ahead_of_the_hub_clock(api, offset: int, status: int) -> None:
    api.put_deal(1)
    r = api.client.get("/v1/deals/1/ciphertext", headers=api.headers(1, issued=NOW + offset))
    assert r.status_code == status, r.text
    if status == 401:
        assert "issued" in r.json()["detail"]


def test_the_window_follows_the_hub_clock(api) -> None:
    api.put_deal(1)
    h = api.headers(1)
    assert api.client.get("/v1/deals/1/leaves", headers=h).status_code == 200
    api.now[0] = NOW + 301
    assert api.client.get("/v1/deals/1/leaves", headers=h).status_code == 401


def test_another_address_is_403(api) -> None:
    api.put_deal(1)
    r = api.client.get("/v1/deals/1/ciphertext", headers=api.headers(1, api.hub.buyer2))
    assert r.status_code == 403 and r.json()["error"] == "forbidden"


@pytest.mark.parametrize("field", ["chain", "contract", "deal", "issued", "prefix", "newline"])
def test_a_signature_over_other_bytes_is_403(api, field: str) -> None:
    hub = api.hub
    api.put_deal(1)
    lines = {"chain": hub.ctx.chain_id, "contract": hub.ex.address, "deal": 1, "issued": NOW}
    other = {"chain": 1, "contract": hub.ex.address.lower(), "deal": 2, "issued": NOW - 1}
    if field in other:
        lines[field] = other[field]
    msg = delivery_message(lines["chain"], lines["contract"], lines["deal"], lines["issued"])
    if field == "prefix":
        msg = msg.replace(b"spartacus delivery", b"spartacus download")
    if field == "newline":
        msg += b"\n"
    r = api.client.get("/v1/deals/1/ciphertext", headers=api.headers(1, message=msg, issued=NOW))
    assert r.status_code == 403, field


def test_a_signature_for_one_deal_does_not_open_another(api) -> None:
    api.put_deal(1)
    api.put_deal(2)
    assert api.client.get("/v1/deals/2/ciphertext", headers=api.headers(1)).status_code == 403


@given(st.text(max_size=200))
def test_parse_authorization_raises_only_the_two_named_errors(header: str) -> None:
    try:
        parse_authorization(header)
    except (BadRequest, Unauthorized):
        pass


def test_authenticate_recovers_the_signer() -> None:
    acct = Account.create()
    msg = delivery_message(5, "0x5FbDB2315678afecb367f032d93F642f64180aa3", 3, 100)
    sig = acct.sign_message(encode_defunct(primitive=msg)).signature
    header = f"Spartacus issued=100, signature=0x{bytes(sig).hex()}"
    got = authenticate(header, chain_id=5, contract="0x5FbDB2315678afecb367f032d93F642f64180aa3", deal_id=3, now=100,
                       past=300, future=30)
    assert got == acct.address
    other = authenticate(header, chain_id=5, contract="0x5FbDB2315678afecb367f032d93F642f64180aa3", deal_id=4, now=100,
                         past=300, future=30)
    assert other != acct.address
