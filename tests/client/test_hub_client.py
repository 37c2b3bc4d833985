"""HubClient against a real hub's API over HTTP (uvicorn in a thread, the hub fixture's context):
reads, uploads, errors mapped to named exceptions carrying the hub's error and detail, the exact
EIP-191 authorization, and downloads that resume from a partial file with a byte range."""

from __future__ import annotations

import re
import time

import pytest
from eth_account import Account
from eth_account.messages import encode_defunct

import client.hub_client as hc
from client.chain import State
from client.hub_client import (HubBadRequest, HubClient, HubForbidden, HubNotFound, HubProtocolError, HubUnauthorized,
                               HubUnreachable, HubUnprocessable, auth_header, auth_message)
from tests.client.hubkit import Killed, account_of, live_hub
from tests.oracle.conftest import _cheap_scrypt, _hub_chain, buyer_spec, hub  # noqa: F401 - fixtures
from tests.oracle.hubproc import free_port


def test_reads_and_uploads(hub) -> None:
    with live_hub(hub) as live, HubClient(live.url) as c:
        info = c.info()
        assert (info.chain_id, info.contract, info.seller, info.oracle) == (hub.ctx.chain_id, hub.ex.address, hub.seller,
                                                                            hub.oracle)
        assert {d["datasetId"] for d in c.datasets()} == set(hub.datasets.values())
        mine = {o["offerId"] for o in c.offers(hub.buyer)}
        theirs = {o["offerId"] for o in c.offers(hub.buyer2)}
        assert "fixed-exact" in mine and "fixed-exact" not in theirs and "fixed-dp" in theirs
        assert c.put_spec(hub.spec) == hub.spec_hash
        body, th = hub.terms("fixed-dp")
        assert c.put_terms(body) == th


def test_errors_carry_the_hubs_code_and_detail(hub) -> None:
    with live_hub(hub) as live, HubClient(live.url) as c:
        body, _ = hub.terms("fixed-dp")
        with pytest.raises(HubBadRequest) as err:
            c.put_terms(body + b" ")
        assert err.value.status == 400 and err.value.error and err.value.detail
        body, _ = hub.terms("fixed-dp", buyer=hub.buyer2, offerId="fixed-exact", datasetId=hub.datasets["census-exact"],
                            release=hub.offers["fixed-exact"].release)
        with pytest.raises((HubUnprocessable, HubNotFound)) as err:
            c.put_terms(body)
        assert err.value.status in (404, 422) and err.value.detail
        with pytest.raises(HubNotFound) as err:
            c.deal(999)
        assert "999" in str(err.value)


def test_an_unreachable_hub_fails_fast_by_name() -> None:
    t0 = time.monotonic()
    with pytest.raises(HubUnreachable, match="is it running"):
        HubClient(f"http://127.0.0.1:{free_port()}", timeout=2).info()
    assert time.monotonic() - t0 < 5


def test_the_authorization_is_exactly_the_protocols(hub) -> None:
    acct = account_of(hub, hub.buyer)
    msg = auth_message(31337, hub.ex.address.lower(), 7, 1700000000)
    assert msg == f"spartacus delivery\nchain: 31337\ncontract: {hub.ex.address}\ndeal: 7\nissued: 1700000000"
    header = auth_header(acct, 31337, hub.ex.address, 7, issued=1700000000)
    m = re.fullmatch(r"Spartacus issued=(\d+), signature=0x([0-9a-f]{130})", header)
    assert m and m[1] == "1700000000"
    signer = Account.recover_message(encode_defunct(text=msg), signature=bytes.fromhex(m[2]))
    assert signer == hub.buyer


def _quoted_deal(hub, live) -> int:
    deal_id = hub.deal("fixed-dp")
    live.watcher.step()
    assert hub.ex.state(deal_id) == State.QUOTED
    return deal_id


def test_downloads_resume_from_a_partial_file(hub, tmp_path, monkeypatch) -> None:
    acct = account_of(hub, hub.buyer)
    with live_hub(hub) as live, HubClient(live.url) as c:
        deal_id = _quoted_deal(hub, live)
        whole = c.download(deal_id, "ciphertext", tmp_path / "whole", acct).read_bytes()
        (q,) = [a for n, a, _, _ in hub.ex.events() if n == "Quoted" and a["dealId"] == deal_id]
        assert len(whole) == -(-q["size"] // 1024) * 1024 > 4096
        # interrupted after a few KiB (a progress callback that raises, as a killed process would stop)
        monkeypatch.setattr(hc, "DOWNLOAD_STEP", 1024)
        calls = []

        def die(done: int, total: int) -> None:
            calls.append((done, total))
            if len(calls) == 3:
                raise Killed("mid-download")

        part = tmp_path / "part"
        with pytest.raises(Killed):
            c.download(deal_id, "ciphertext", part, acct, expected_size=len(whole), progress=die)
        assert 0 < part.stat().st_size < len(whole)
        seen = []
        c.download(deal_id, "ciphertext", part, acct, expected_size=len(whole), progress=lambda d, t: seen.append(d))
        assert part.read_bytes() == whole
        assert seen[0] > calls[-1][0] - 1024  # resumed where it stopped, not from byte 0
        # a complete file is not fetched again; a longer one is started over
        c.download(deal_id, "ciphertext", part, acct, expected_size=len(whole), progress=lambda d, t: 1 / 0)
        long = tmp_path / "long"
        long.write_bytes(whole + b"x")
        assert c.download(deal_id, "ciphertext", long, acct, expected_size=len(whole)).read_bytes() == whole
        with pytest.raises(HubProtocolError, match="commits to"):
            c.download(deal_id, "leaves", tmp_path / "lv", acct, expected_size=len(whole))


def test_downloads_are_served_only_to_the_deals_buyer_with_a_fresh_signature(hub, tmp_path) -> None:
    with live_hub(hub) as live, HubClient(live.url) as c:
        deal_id = _quoted_deal(hub, live)
        with pytest.raises(HubForbidden) as err:
            c.download(deal_id, "leaves", tmp_path / "x", account_of(hub, hub.stranger))
        assert err.value.status == 403 and err.value.error
        stale = auth_header(account_of(hub, hub.buyer), hub.ctx.chain_id, hub.ex.address, deal_id,
                            issued=int(time.time()) - 3600)
        with pytest.raises(HubUnauthorized):
            c._request("GET", f"/v1/deals/{deal_id}/leaves", headers={"Authorization": stale})


def test_a_download_without_content_length_stops_at_the_quoted_size(tmp_path) -> None:
    """A hostile hub answered 200 with no Content-Length and streamed without end: the wallet wrote
    256 MiB for a quote of 11 KiB. It now stops at the size the quote commits to."""
    import httpx

    sent = []

    def endless():
        for _ in range(1000):
            sent.append(1)
            yield b"\0" * 4096

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/v1/info":
            return httpx.Response(200, json={"protocol": "spartacus-v1", "chainId": 1, "contract": "0x" + "11" * 20,
                                             "seller": "0x" + "22" * 20, "oracle": "0x" + "22" * 20})
        return httpx.Response(200, content=endless())  # a generator: chunked, no Content-Length

    client = HubClient("http://hub.test", transport=httpx.MockTransport(handler))
    dest = tmp_path / "ciphertext"
    with pytest.raises(HubProtocolError, match="more than the 11264 bytes"):
        client.download(1, "ciphertext", dest, Account.create(), expected_size=11 * 1024)
    assert dest.stat().st_size <= 11 * 1024 and len(sent) < 1000


def _mock(handler):
    import httpx

    return HubClient("http://hub.test", timeout=1.0, transport=httpx.MockTransport(handler))


INFO = {"protocol": "spartacus-v1", "chainId": 1, "contract": "0x" + "11" * 20, "seller": "0x" + "22" * 20,
        "oracle": "0x" + "22" * 20}


def test_a_hubs_json_nested_without_end_is_refused_not_parsed() -> None:
    """200 KB of brackets from a hostile hub's /v1/info killed the wallet (SIGSEGV in json's C scanner,
    the recursion limit raised by a dependency); the depth is checked before parsing."""
    import httpx

    deep = b"[" * 100_000 + b"]" * 100_000
    with pytest.raises(HubProtocolError, match="nested deeper than 64"):
        _mock(lambda r: httpx.Response(200, content=deep)).info()
    with pytest.raises(HubNotFound):  # an error answer's body is read bounded and depth-checked too
        _mock(lambda r: httpx.Response(404, content=deep)).info()


def test_a_hub_trickling_its_answer_is_cut_off_at_the_timeout() -> None:
    """httpx's timeout bounds each read, so a byte every few hundred ms held a wallet for ever."""
    import httpx

    def trickle():
        for b in b'{"protocol": "spartacus-v1"' + b" " * 100:
            time.sleep(0.05)
            yield bytes([b])

    start = time.monotonic()
    with pytest.raises(hc.HubUnreachable, match="took over 1 s"):
        _mock(lambda r: httpx.Response(200, content=trickle())).info()
    assert time.monotonic() - start < 3


def test_a_download_trickling_under_a_step_per_timeout_is_cut_off(tmp_path) -> None:
    import httpx

    def handler(request):
        if request.url.path == "/v1/info":
            return httpx.Response(200, json=INFO)

        def trickle():
            for _ in range(200):
                time.sleep(0.02)
                yield b"\0" * 16
        return httpx.Response(200, content=trickle(), headers={"Content-Length": str(200 * 16)})

    with pytest.raises(hc.HubUnreachable, match="bytes in 1 s"):
        _mock(handler).download(1, "ciphertext", tmp_path / "c", Account.create(), expected_size=200 * 16)


@pytest.mark.parametrize("body", [{"buyer": "x"}, {"offers": 5}, {"offers": [{"datasetId": "0x1"}]},
                                  {"offers": [{"offerId": "a", "datasetId": "0x1", "release": 1, "pricing": {}}]}, []])
def test_offers_not_in_the_protocols_shape_are_a_protocol_error(body) -> None:
    """A KeyError or TypeError traceback before; now one HubProtocolError naming the shape."""
    import httpx

    with pytest.raises(HubProtocolError, match="not the protocol's shape"):
        _mock(lambda r: httpx.Response(200, json=body)).offers("0x" + "33" * 20)
