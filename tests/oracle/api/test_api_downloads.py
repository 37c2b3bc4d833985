"""GET /v1/deals/<id>, /ciphertext and /leaves: the phase and reason, downloads only to the buyer and
only while Quoted, Accepted or Revealed, one HTTP byte range (206, 416), resumable, and streamed in
chunks with memory flat in the release's size."""

from __future__ import annotations

import os
import tracemalloc

import anyio
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from client.chain import State
from client.delivery import Commitment, verify_download
from oracle.api import create_app
from oracle.api.routes import deals as deals_route


def _files(api, deal_id: int) -> tuple[bytes, bytes]:
    d = api.hub.store.get_deal(deal_id)
    return d.cipher_path.read_bytes(), d.leaves_path.read_bytes()


def test_deal_status_names_the_contract_phase_and_the_decline_reason(api) -> None:
    api.put_deal(3, phase="Open", files=False)
    assert api.client.get("/v1/deals/3").json() == {"dealId": 3, "phase": "Open", "reason": None}
    api.hub.store.set_phase(3, "Refunded", reason="the opener is not the terms' buyer")
    assert api.client.get("/v1/deals/3").json() == {"dealId": 3, "phase": "Refunded",
                                                   "reason": "the opener is not the terms' buyer"}


@pytest.mark.parametrize("path", ["/v1/deals/9", "/v1/deals/0", "/v1/deals/-1", "/v1/deals/" + "9" * 30])
def test_an_unknown_deal_is_404(api, path: str) -> None:
    r = api.client.get(path)
    assert r.status_code == 404 and r.json()["error"] == "not_found"


def test_a_deal_id_that_is_not_a_number_is_400(api) -> None:
    r = api.client.get("/v1/deals/abc")
    assert r.status_code == 400 and r.json()["error"] == "bad_request" and "deal_id" in r.json()["detail"]


def test_downloading_an_unknown_deal_is_404_after_authentication(api) -> None:
    r = api.client.get("/v1/deals/9/ciphertext", headers=api.headers(9))
    assert r.status_code == 404
    assert api.client.get("/v1/deals/9/ciphertext").status_code == 401


def test_a_deal_open_on_chain_before_the_watcher_records_it_is_answered_from_the_chain(api) -> None:
    """protocol.md keeps 404 for a deal "that does not exist at this hub at all": one opened with this
    seller exists, even before the watcher (N confirmations, a moment's lag) has recorded it."""
    hub = api.hub
    deal = hub.deal("fixed-dp")  # on chain; the watcher has not run
    assert hub.store.get_deal(deal) is None
    assert api.client.get(f"/v1/deals/{deal}").json() == {"dealId": deal, "phase": "Open", "reason": None}
    r = api.client.get(f"/v1/deals/{deal}/ciphertext", headers=api.headers(deal))
    assert r.status_code == 409 and "is Open" in r.json()["detail"]
    assert api.client.get(f"/v1/deals/{deal}/leaves", headers=api.headers(deal, hub.stranger)).status_code == 403
    # a deal of another seller on the same contract, and an id past dealCount(), are still 404
    hub.ex.register_seller(hub.stranger, sender=hub.stranger)
    hub.ex.register_dataset(b"\x42" * 32, 5000, sender=hub.stranger)
    theirs, _ = hub.ex.open_deal(hub.stranger, b"\x42" * 32, b"\x43" * 32, 10, 0, sender=hub.buyer)
    assert api.client.get(f"/v1/deals/{theirs}").status_code == 404
    assert api.client.get(f"/v1/deals/{theirs + 1}").status_code == 404


def test_the_whole_files_verify_against_the_commitment(api) -> None:
    api.put_deal(1, size=70_000)
    cipher, leaves = _files(api, 1)
    r = api.client.get("/v1/deals/1/ciphertext", headers=api.headers(1))
    assert r.status_code == 200 and r.content == cipher and len(cipher) == 69 * 1024
    assert r.headers["content-type"] == "application/octet-stream"
    assert r.headers["content-length"] == str(len(cipher)) and r.headers["accept-ranges"] == "bytes"
    rl = api.client.get("/v1/deals/1/leaves", headers=api.headers(1))
    assert rl.status_code == 200 and rl.content == leaves and len(leaves) == 69 * 32
    q = api.hub.store.prepared_quote(1)
    verify_download(r.content, rl.content, Commitment(q.data_root, q.cipher_root, q.key_commit, q.size))


@pytest.mark.parametrize("phase, status", [("Open", 409), ("Quoted", 200), ("Accepted", 200), ("Revealed", 200),
                                           ("Settled", 409), ("Refunded", 409)])
def test_downloads_are_served_only_while_quoted_accepted_or_revealed(api, phase: str, status: int) -> None:
    api.put_deal(1, phase=phase, files=phase != "Open")
    for what in ("ciphertext", "leaves"):
        r = api.client.get(f"/v1/deals/1/{what}", headers=api.headers(1))
        assert r.status_code == status, (what, r.text)
        if status == 409:
            assert r.json()["error"] == "conflict" and phase in r.json()["detail"]


@pytest.mark.parametrize("on_chain, status", [(State.QUOTED, 200), (State.ACCEPTED, 200), (State.OPEN, 409),
                                              (State.NONE, 409), (State.REFUNDED, 409)])
def test_a_quote_on_chain_that_the_watcher_has_not_recorded_yet_is_served(api, monkeypatch, on_chain: State,
                                                                           status: int) -> None:
    """postQuote returns before the watcher sets the phase "Quoted": a buyer polling the chain can ask
    in between (a loaded machine widens the gap). The interleaving is forced: the store says Open
    with the quote prepared, the chain says `on_chain`. A 409 there made the buyer reject an honest
    hub's quote and pay the fee."""
    api.put_deal(1, phase="Open")  # files and a prepared quote, the phase not yet moved
    asked = []
    monkeypatch.setattr(api.hub.ctx.exchange, "state", lambda deal_id: asked.append(deal_id) or on_chain)
    for what in ("ciphertext", "leaves"):
        r = api.client.get(f"/v1/deals/1/{what}", headers=api.headers(1))
        assert r.status_code == status, (what, r.text)
    assert asked == [1, 1]
    assert api.hub.store.get_deal(1).phase == "Open"  # a request reads the chain; only the watcher moves the phase
    cipher, leaves = _files(api, 1)
    if status == 200:
        assert r.content == leaves and api.client.get("/v1/deals/1/ciphertext", headers=api.headers(1)).content == cipher


def test_an_open_deal_without_a_prepared_quote_never_asks_the_chain(api, monkeypatch) -> None:
    api.put_deal(1, phase="Open", files=False)
    monkeypatch.setattr(api.hub.ctx.exchange, "state", lambda deal_id: pytest.fail("asked the chain"))
    assert api.client.get("/v1/deals/1/ciphertext", headers=api.headers(1)).status_code == 409


def test_another_buyer_is_403_before_the_phase_is_checked(api) -> None:
    api.put_deal(1, phase="Settled")
    assert api.client.get("/v1/deals/1/ciphertext", headers=api.headers(1, api.hub.buyer2)).status_code == 403


@pytest.mark.parametrize("rng, first, last", [
    ("bytes=0-0", 0, 0), ("bytes=100-2047", 100, 2047), ("bytes=1000-", 1000, 5119), ("bytes=-24", 5096, 5119),
    ("bytes=5000-99999", 5000, 5119), ("bytes=-99999", 0, 5119), ("bytes=5119-5119", 5119, 5119),
])
def test_one_byte_range_is_206_with_content_range(api, rng: str, first: int, last: int) -> None:
    api.put_deal(1, size=5000)
    cipher, _ = _files(api, 1)
    r = api.client.get("/v1/deals/1/ciphertext", headers={**api.headers(1), "Range": rng})
    assert r.status_code == 206, r.text
    assert r.content == cipher[first:last + 1]
    assert r.headers["content-range"] == f"bytes {first}-{last}/{len(cipher)}"
    assert r.headers["content-length"] == str(last - first + 1)


@pytest.mark.parametrize("rng", ["bytes=5120-", "bytes=5120-6000", "bytes=-0", "bytes=99999999-"])
def test_an_unsatisfiable_range_is_416_with_the_size(api, rng: str) -> None:
    api.put_deal(1, size=5000)
    r = api.client.get("/v1/deals/1/ciphertext", headers={**api.headers(1), "Range": rng})
    assert r.status_code == 416 and r.json()["error"] == "range_not_satisfiable"
    assert r.headers["content-range"] == "bytes */5120"


@pytest.mark.parametrize("rng", ["bytes=0-1,5-6", "items=0-1", "bytes=5-1", "bytes=-", "bytes=a-b", "0-1", "bytes=1-2-3"])
def test_a_range_that_is_not_one_of_the_three_forms_is_400(api, rng: str) -> None:
    api.put_deal(1, size=5000)
    r = api.client.get("/v1/deals/1/leaves", headers={**api.headers(1), "Range": rng})
    assert r.status_code == 400 and "Range" in r.json()["detail"]


@settings(max_examples=25, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(cut=st.integers(min_value=0, max_value=69 * 1024 - 1), leaves_cut=st.integers(min_value=0, max_value=69 * 32 - 1))
def test_an_interrupted_download_resumed_with_a_range_equals_the_whole(api, cut: int, leaves_cut: int) -> None:
    if api.hub.store.get_deal(1) is None:
        api.put_deal(1, size=70_000)
    cipher, leaves = _files(api, 1)
    for what, whole, at in (("ciphertext", cipher, cut), ("leaves", leaves, leaves_cut)):
        head = api.client.get(f"/v1/deals/1/{what}", headers={**api.headers(1), "Range": f"bytes=0-{at}"}).content
        tail = api.client.get(f"/v1/deals/1/{what}", headers={**api.headers(1), "Range": f"bytes={at + 1}-"})
        rest = tail.content if tail.status_code == 206 else b""
        assert tail.status_code in (206, 416)
        assert head + rest == whole


def _asgi_get(app, path: str, headers: dict[str, str]) -> tuple[int, list[int], dict[str, str]]:
    """Call `app` directly; return the status, the sizes of the body messages and the headers."""
    sizes: list[int] = []
    start: dict = {}

    calls = []

    async def receive():
        calls.append(1)
        if len(calls) > 1:  # the request had no body; the client then waits until the answer ends
            await anyio.sleep_forever()
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message):
        if message["type"] == "http.response.start":
            start.update(message)
        elif message["type"] == "http.response.body" and message.get("body"):
            sizes.append(len(message["body"]))

    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": path, "raw_path": path.encode(), "query_string": b"", "root_path": "", "server": ("t", 80),
             "client": ("t", 1), "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()]}
    anyio.run(app, scope, receive, send)
    return start["status"], sizes, {k.decode(): v.decode() for k, v in start["headers"]}


def test_a_large_release_is_streamed_in_chunks_never_read_whole(api, monkeypatch) -> None:
    api.put_deal(1, size=4096)
    path = api.hub.store.get_deal(1).cipher_path
    size = 48 * 1024 * 1024
    with open(path, "r+b") as f:  # a 48 MiB ciphertext (sparse: zeros past the first 4 KiB)
        f.truncate(size)
    reads: list[int] = []
    real_pread = os.pread

    def pread(fd, n, offset):
        reads.append(n)
        return real_pread(fd, n, offset)

    monkeypatch.setattr(deals_route.os, "pread", pread)
    app = create_app(api.hub.ctx)
    tracemalloc.start()
    try:
        status, sizes, headers = _asgi_get(app, "/v1/deals/1/ciphertext", api.headers(1))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert status == 200 and sum(sizes) == size and headers["content-length"] == str(size)
    assert max(reads) <= deals_route.STREAM_CHUNK and len(reads) >= size // deals_route.STREAM_CHUNK
    assert max(sizes) <= deals_route.STREAM_CHUNK and len(sizes) >= 100
    assert peak < 8 * 1024 * 1024, f"serving 48 MiB allocated {peak} bytes at its peak"
