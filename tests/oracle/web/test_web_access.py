"""The owner's page's access rules: every page and form needs the owner's session (303 to the login
page, or 401 for a form), every form its CSRF token (403), a buyer's Spartacus header opens nothing,
sessions expire, a wrong secret is refused and counted, and no page shows a raw data value."""

from __future__ import annotations

import time

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

from oracle.api.auth import delivery_message
from oracle.web.routes import COOKIE

from .conftest import SECRET

PAGES = ["/owner", "/owner/", "/owner/datasets", "/owner/offers", "/owner/deals"]
FORMS = ["/owner/offers", "/owner/offers/fixed-dp/delete", "/owner/withdraw", "/owner/logout"]


@pytest.mark.parametrize("path", PAGES[2:])
def test_a_page_without_login_sends_to_the_login_page(page, path) -> None:
    r = page.client.get(path, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/owner/login"


@pytest.mark.parametrize("path", PAGES[:2])
def test_the_page_starts_at_datasets(page, path) -> None:
    r = page.client.get(path, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/owner/datasets"
    assert page.client.get(path).url.path == "/owner/login"  # and, logged out, on to the login page


@pytest.mark.parametrize("path", FORMS)
def test_a_form_without_login_answers_401_and_changes_nothing(page, path) -> None:
    before = page.hub.store.list_offers()
    r = page.client.post(path, data={"csrf": "x", "row": "new", "offer_id": "sneaky", "token": "0x" + "0" * 40},
                         follow_redirects=False)
    assert r.status_code == 401 and "login" in r.text
    assert page.hub.store.list_offers() == before


def test_a_buyers_spartacus_header_does_not_open_a_page(page) -> None:
    key = page.hub.w3.provider.ethereum_tester.backend.account_keys[3]
    issued = int(time.time())
    msg = delivery_message(page.hub.ctx.chain_id, page.hub.ex.address, 1, issued)
    sig = Account.sign_message(encode_defunct(primitive=msg), key).signature
    header = {"Authorization": f"Spartacus issued={issued}, signature=0x{bytes(sig).hex()}"}
    for path in PAGES[2:]:
        r = page.client.get(path, headers=header, follow_redirects=False)
        assert r.status_code == 303 and r.headers["location"] == "/owner/login", path
    assert page.client.post("/owner/withdraw", headers=header, data={"token": "0x" + "0" * 40}).status_code == 401


def test_login_with_the_secret_opens_every_page(page) -> None:
    r = page.login()
    assert r.status_code == 303 and r.headers["location"] == "/owner/datasets"
    cookie = r.cookies.get(COOKIE)
    assert cookie and "httponly" in r.headers["set-cookie"].lower() and "samesite=strict" in r.headers["set-cookie"].lower()
    for path in PAGES[2:]:
        got = page.client.get(path)
        assert got.status_code == 200 and "Log out" in got.text, path
        assert "default-src 'none'" in got.headers["content-security-policy"]


def test_a_wrong_secret_is_refused_and_gives_no_session(page) -> None:
    r = page.login("not the secret at all")
    assert r.status_code == 401 and "Wrong secret" in r.text and COOKIE not in r.cookies
    assert page.client.get("/owner/datasets", follow_redirects=False).status_code == 303


def test_ten_wrong_secrets_in_a_minute_lock_the_login(page) -> None:
    for _ in range(10):
        assert page.login("guess guess guess").status_code == 401
    r = page.login()  # even the right one, until the minute passes
    assert r.status_code == 429


def test_a_login_form_without_its_csrf_token_is_refused(page) -> None:
    page.client.get("/owner/login")
    r = page.client.post("/owner/login", data={"secret": SECRET}, follow_redirects=False)
    assert r.status_code == 403 and COOKIE not in r.cookies


def test_a_hub_without_a_secret_cannot_be_logged_into(page) -> None:
    page.hub.ctx.owner_secret_hash = None
    r = page.login("")
    assert r.status_code == 401 and "hub init" in r.text


def test_a_forged_form_without_the_csrf_token_is_refused(page) -> None:
    assert page.login().status_code == 303
    for data in ({}, {"csrf": ""}, {"csrf": "forged-token"}):
        r = page.client.post("/owner/offers", data={**data, "row": "new", "offer_id": "forged",
                                                    "dataset": page.hub.datasets["census"], "epsilon": "0.5",
                                                    "price": "1"}, follow_redirects=False)
        assert r.status_code == 403 and "CSRF" in r.text
        r = page.client.post("/owner/offers/fixed-dp/delete", data=data, follow_redirects=False)
        assert r.status_code == 403
    assert page.hub.store.get_offer("forged") is None and page.hub.store.get_offer("fixed-dp") is not None
    csrf = page.csrf()
    r = page.client.post("/owner/offers/fixed-dp/delete", data={"csrf": csrf}, follow_redirects=False)
    assert r.status_code == 303 and page.hub.store.get_offer("fixed-dp") is None


def test_a_session_expires(page) -> None:
    now = [1_000_000.0]
    page.hub.ctx.clock = lambda: now[0]
    page.hub.ctx.owner_session_seconds = 600
    assert page.login().status_code == 303
    assert page.client.get("/owner/deals").status_code == 200
    now[0] += 599
    assert page.client.get("/owner/deals").status_code == 200
    now[0] += 2
    r = page.client.get("/owner/deals", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/owner/login"


def test_logout_ends_the_session(page) -> None:
    assert page.login().status_code == 303
    csrf = page.csrf("/owner/deals")
    assert page.client.post("/owner/logout", data={"csrf": csrf}, follow_redirects=False).status_code == 303
    assert page.client.get("/owner/deals", follow_redirects=False).status_code == 303


def test_no_page_shows_a_raw_data_value(page) -> None:
    page.hub.deal("fixed-dp")  # a deal on census so the pages have something to show
    assert page.login().status_code == 303
    x = page.hub.raw["features"]
    samples = {f"{v:.6f}"[:7] for v in x[:20].ravel()} | {repr(float(v)) for v in x[:20].ravel()}
    for path in PAGES[2:]:
        html = page.client.get(path).text
        leaked = sorted(s for s in samples if s in html)
        assert not leaked, (path, leaked)
    assert "x0" in page.client.get("/owner/datasets").text  # the schema is shown, its values are not
