"""The buyer library against real hubs over HTTP on the embedded chain: an honest deal, a quote over
the buyer's limit, a hub cheating in each way the protocol can catch (bad chunk, wrong root, no
reveal, no quote, a price beyond the tolerance), an oracle that is not the seller's, and a buyer
killed at each step and resumed: every deal ends as the contract says, and funds are where they should be."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from client.buyer import DealRecord, DealStore, Outcome, OracleMismatch, Stage, StillWaiting
from client.chain import State
from pricing import read_release
from tests.client.hubkit import (Killed, _loose_offer, cheat_bad_chunk, cheat_not_a_release, cheat_no_reveal, cheat_price, close_buyers,
                                 cheat_wrong_root, live_hub, make_buyer)
from tests.oracle.conftest import _cheap_scrypt, _hub_chain, buyer_spec, hub  # noqa: F401 - fixtures


@pytest.fixture(autouse=True)
def _close_buyers():
    yield
    close_buyers()

PRICE = 10**17  # the fixture's fixed price (ETHER // 10)
FEE = 10**15    # the fixture offers' minQuoteFee


def _credits(hub, buyer_address: str) -> tuple[int, int]:
    return hub.ex.credit(buyer_address), hub.ex.credit(hub.seller)


def test_an_honest_deal_settles_and_writes_the_release(hub, tmp_path) -> None:
    buyer = make_buyer(hub, tmp_path / "b")
    with live_hub(hub) as live:
        res = buyer.buy(live.url, "fixed-dp", max_price=hub.ETHER, progress=live.drive())
    assert res.outcome is Outcome.SETTLED and res.stage is Stage.ENDED and not res.mispriced
    assert res.price == PRICE and res.repriced == PRICE
    assert _credits(hub, buyer.address) == (hub.ETHER - PRICE, PRICE)
    release = read_release(res.release_path.read_bytes())
    assert release.features.shape == hub.raw["features"].shape
    assert hub.ex.state(res.deal_id) == State.SETTLED
    rec = json.loads((tmp_path / "b" / "deals" / f"{res.deal_id}.json").read_text())
    assert rec["outcome"] == "settled" and rec["stage"] == "ended"
    # one plaintext copy, the release, readable by its owner only: the decryption's scratch file is gone
    files = sorted(p.name for p in (tmp_path / "b" / "deals" / str(res.deal_id)).iterdir())
    assert files == ["ciphertext", "leaves", "release.safetensors"]
    assert (res.release_path.stat().st_mode & 0o777) == 0o600
    assert {"waiting-quote", "downloaded", "accepted", "waiting-key", "checked", "ended"} <= set(live.seen)


def test_the_progress_names_an_exact_quote_and_a_dp_quote_by_what_they_spend(hub, tmp_path) -> None:
    said = []
    with live_hub(hub) as live:
        drive = live.drive()
        for offer in ("fixed-exact", "fixed-dp"):
            res = make_buyer(hub, tmp_path / offer).buy(live.url, offer, max_price=hub.ETHER,
                                                        progress=lambda ev: (said.append(ev.message), drive(ev)))
            assert res.outcome is Outcome.SETTLED
    quoted = [m for m in said if m.startswith("quoted ")]
    assert quoted[0].startswith(f"quoted {PRICE} for the exact data, ") and "4294967295" not in quoted[0]
    assert quoted[1].startswith(f"quoted {PRICE} for 1000 milli-epsilon, ")


def test_the_same_offer_bought_again_on_the_same_terms_takes_a_fresh_nonce(hub, tmp_path) -> None:
    """A quoted termsHash can never be reopened (rule 2), so a second purchase of the same DP offer
    (a buyer averaging releases) failed with TermsAlreadyUsed until the wallet added a nonce."""
    buyer = make_buyer(hub, tmp_path / "b")
    with live_hub(hub) as live:
        first = buyer.buy(live.url, "fixed-dp", max_price=hub.ETHER, progress=live.drive())
        second = buyer.buy(live.url, "fixed-dp", max_price=hub.ETHER, progress=live.drive())
    assert first.outcome is second.outcome is Outcome.SETTLED and first.deal_id != second.deal_id
    docs = [json.loads(r.terms) for r in sorted(buyer.deals(), key=lambda r: r.deal_id)]
    assert "nonce" not in docs[0] and len(docs[1]["nonce"]) == 16
    assert {k: v for k, v in docs[1].items() if k != "nonce"} == docs[0]


@pytest.mark.parametrize("hub_looks", [True, False], ids=["hub-409", "chain-revert"])
def test_the_same_terms_quoted_from_another_state_folder_are_retried_with_a_nonce(hub, tmp_path, monkeypatch,
                                                                                   hub_looks) -> None:
    """The wallet checks its own records for terms it had quoted; bought from another folder (another
    machine), the hub answers 409 at PUT /v1/terms, or a hub that does not look has the chain refuse
    them at openDeal (TermsAlreadyUsed, nothing locked); the purchase is made again with a fresh
    nonce, leaving no pending record behind."""
    if not hub_looks:
        monkeypatch.setattr("oracle.store.Store.deal_quoted_on", lambda self, terms_hash: None)
    with live_hub(hub) as live:
        first = make_buyer(hub, tmp_path / "laptop").buy(live.url, "fixed-dp", max_price=hub.ETHER, progress=live.drive())
        other = make_buyer(hub, tmp_path / "desktop")
        second = other.buy(live.url, "fixed-dp", max_price=hub.ETHER, progress=live.drive())
    assert first.outcome is second.outcome is Outcome.SETTLED and first.deal_id != second.deal_id
    (rec,) = other.deals()
    assert len(json.loads(rec.terms)["nonce"]) == 16 and not list((tmp_path / "desktop" / "pending").glob("*.json"))


def test_a_quote_over_the_limit_is_rejected_and_costs_the_fee(hub, tmp_path) -> None:
    buyer = make_buyer(hub, tmp_path / "b")
    with live_hub(hub) as live:
        res = buyer.buy(live.url, "fixed-dp", max_price=hub.ETHER, limit=PRICE - 1, progress=live.drive())
    assert res.outcome is Outcome.REJECTED and "limit" in res.reason
    assert _credits(hub, buyer.address) == (hub.ETHER - FEE, FEE)
    assert res.release_path is None


def test_a_bad_chunk_is_complained_about_and_refunded_in_full(hub, tmp_path, monkeypatch) -> None:
    cheat_bad_chunk(monkeypatch, index=0)
    buyer = make_buyer(hub, tmp_path / "b")
    with live_hub(hub) as live:
        res = buyer.buy(live.url, "fixed-dp", max_price=hub.ETHER, progress=live.drive())
    assert res.outcome is Outcome.COMPLAINED and res.bad_chunk == 0 and "chunk 0 does not decrypt" in res.reason
    assert _credits(hub, buyer.address) == (hub.ETHER, 0)
    assert (res.evidence_dir / "key.hex").exists() and (res.evidence_dir / "quote.json").exists()
    assert (res.evidence_dir / "release.safetensors").exists()  # the plaintext is kept as evidence, once
    assert not (res.evidence_dir.parent / "release.part").exists()
    assert any(n == "Complained" and a["dealId"] == res.deal_id for n, a, _, _ in hub.ex.events())


def test_delivered_bytes_that_are_no_release_are_reported_with_evidence(hub, tmp_path, monkeypatch, capsys) -> None:
    """A fixed-price deal whose hub encodes a CSV instead of a safetensors release: the chain cannot
    refund it (every chunk matches), so the wallet says so and keeps the evidence, not "within tolerance"."""
    cheat_not_a_release(monkeypatch)
    buyer = make_buyer(hub, tmp_path / "b")
    with live_hub(hub) as live:
        res = buyer.buy(live.url, "fixed-dp", max_price=hub.ETHER, progress=live.drive())
    assert res.outcome is Outcome.SETTLED and "not a safetensors file" in res.not_a_release
    why = (res.evidence_dir / "why.txt").read_text()
    assert "not a release" in why and "cannot refund" in why
    assert (res.evidence_dir / "release.safetensors").read_bytes().startswith(b"age,income")
    from client.commands.buyer import _report

    _report([res])
    out = capsys.readouterr().out
    assert "NOT A RELEASE" in out and "within tolerance" not in out


def test_a_wrong_root_is_caught_before_accepting(hub, tmp_path, monkeypatch) -> None:
    buyer = make_buyer(hub, tmp_path / "b")
    with live_hub(hub) as live:
        def progress(ev):
            live.drive()(ev)
            if ev.stage == "waiting-quote" and hub.ex.state(ev.deal_id) == State.QUOTED:
                cheat_wrong_root(hub, ev.deal_id)
        res = buyer.buy(live.url, "fixed-dp", max_price=hub.ETHER, progress=progress)
    assert res.outcome is Outcome.REJECTED and "DataRootMismatch" in (res.evidence_dir / "why.txt").read_text()
    assert not any(n == "Accepted" and a["dealId"] == res.deal_id for n, a, _, _ in hub.ex.events())
    assert _credits(hub, buyer.address) == (hub.ETHER - FEE, FEE)  # rejecting costs the fee, as lapsing would


def test_a_hub_that_never_reveals_is_refunded_after_the_deadline(hub, tmp_path, monkeypatch) -> None:
    cheat_no_reveal(monkeypatch)
    buyer = make_buyer(hub, tmp_path / "b")
    with live_hub(hub) as live:
        res = buyer.buy(live.url, "fixed-dp", max_price=hub.ETHER,
                        progress=live.drive(advance_on={"waiting-key": 300}))
    assert res.outcome is Outcome.REFUNDED and res.release_path is None
    assert _credits(hub, buyer.address) == (hub.ETHER, 0)
    assert live.seen.count("waiting-key") >= 3  # 900 s reveal window, 300 s at a time


def test_a_hub_that_never_quotes_is_refunded_and_a_wall_clock_wait_leaves_the_deal_open(hub, tmp_path) -> None:
    buyer = make_buyer(hub, tmp_path / "b", wait_timeout=0.3, poll_interval=0.05)
    with live_hub(hub) as live:
        live.stalled = True
        with pytest.raises(StillWaiting) as err:
            buyer.buy(live.url, "fixed-dp", max_price=hub.ETHER, progress=live.drive())
        deal_id = err.value.deal_id
        assert hub.ex.state(deal_id) == State.OPEN
        res = make_buyer(hub, tmp_path / "b").resume(deal_id, progress=live.drive(advance_on={"waiting-quote": 1800}))
    assert res.outcome is Outcome.REFUNDED
    assert _credits(hub, buyer.address) == (hub.ETHER, 0)


def test_an_oracle_that_is_not_the_sellers_is_refused_before_any_money_moves(hub, tmp_path) -> None:
    hub.ctx.oracle = hub.stranger
    buyer = make_buyer(hub, tmp_path / "b")
    count = hub.ex.deal_count()
    with live_hub(hub) as live:
        with pytest.raises(OracleMismatch, match="oracleOf"):
            buyer.buy(live.url, "fixed-dp", max_price=hub.ETHER, progress=live.drive())
    assert hub.ex.deal_count() == count


def test_a_price_beyond_the_tolerance_is_kept_as_evidence(hub, tmp_path, monkeypatch) -> None:
    offer_id = _loose_offer(hub)
    cheat_price(monkeypatch, 10**16)
    buyer = make_buyer(hub, tmp_path / "b")
    with live_hub(hub) as live:
        res = buyer.buy(live.url, offer_id, max_price=5 * hub.ETHER, spec=hub.spec, price_tolerance=10**15,
                        progress=live.drive())
    assert res.outcome is Outcome.SETTLED and res.mispriced
    assert res.price - res.repriced == 10**16
    for name in ("spec.bin", "release.safetensors", "key.hex", "quote.json", "terms.json"):
        assert (res.evidence_dir / name).exists(), name
    assert (res.evidence_dir / "spec.bin").read_bytes() == hub.spec
    # the evidence re-prices by itself (what `spartacus audit reprice` does with it)
    from pricing import price as reprice
    terms = json.loads((res.evidence_dir / "terms.json").read_text())
    again = reprice(hub.spec, (res.evidence_dir / "release.safetensors").read_bytes(), terms).price
    quoted = int(json.loads((res.evidence_dir / "quote.json").read_text())["price"])
    assert quoted - again == 10**16


def test_a_fixed_price_quote_other_than_the_offers_is_rejected(hub, tmp_path, monkeypatch) -> None:
    cheat_price(monkeypatch, 1)
    buyer = make_buyer(hub, tmp_path / "b")
    with live_hub(hub) as live:
        res = buyer.buy(live.url, "fixed-dp", max_price=hub.ETHER, progress=live.drive())
    assert res.outcome is Outcome.REJECTED and "fixed price" in res.reason


@pytest.mark.parametrize("kill_at", ["terms", "opened", "quoted", "download-ciphertext", "downloaded", "accepted", "checked"])
def test_a_buyer_killed_at_any_step_resumes_to_a_settled_deal(hub, tmp_path, kill_at) -> None:
    state = tmp_path / "b"
    with live_hub(hub) as live:
        with pytest.raises(Killed):
            make_buyer(hub, state).buy(live.url, "fixed-dp", max_price=hub.ETHER, progress=live.drive(kill_at=kill_at))
        results = make_buyer(hub, state).resume_all(progress=live.drive())
    buyer = make_buyer(hub, state)
    if kill_at == "terms":  # killed before openDeal: nothing was locked, nothing to resume
        assert results == [] and hub.ex.deal_count() == 0 and not list((state / "pending").iterdir())
        return
    (res,) = results
    assert res.outcome is Outcome.SETTLED and res.price == PRICE
    assert _credits(hub, buyer.address) == (hub.ETHER - PRICE, PRICE)
    assert read_release(res.release_path.read_bytes()).features.shape == hub.raw["features"].shape
    assert buyer.resume_all() == []  # nothing left open
    assert [r.outcome for r in buyer.deals()] == ["settled"]


def test_a_buyer_killed_after_opening_whose_hub_then_stalls_is_refunded_on_resume(hub, tmp_path) -> None:
    state = tmp_path / "b"
    with live_hub(hub) as live:
        with pytest.raises(Killed):
            make_buyer(hub, state).buy(live.url, "fixed-dp", max_price=hub.ETHER, progress=live.drive(kill_at="opened"))
        live.stalled = True
        (res,) = make_buyer(hub, state).resume_all(progress=live.drive(advance_on={"waiting-quote": 3600}))
    assert res.outcome is Outcome.REFUNDED
    assert hub.ex.credit(make_buyer(hub, state).address) == hub.ETHER


def test_a_buyer_killed_after_reading_the_quote_decides_again_on_resume(hub, tmp_path) -> None:
    """Killed with the quote read but not yet decided; its limit (kept in the record) still rules, and a
    quote over it is rejected from the chain's figures alone: nothing is downloaded for it."""
    state = tmp_path / "b"
    with live_hub(hub) as live:
        with pytest.raises(Killed):
            make_buyer(hub, state).buy(live.url, "fixed-dp", max_price=hub.ETHER, limit=PRICE // 2,
                                       progress=live.drive(kill_at="quoted"))
        (res,) = make_buyer(hub, state).resume_all(progress=live.drive())
    assert res.outcome is Outcome.REJECTED and "over this buyer's limit" in res.reason
    assert hub.ex.credit(make_buyer(hub, state).address) == hub.ETHER - FEE
    assert not (state / "deals" / str(res.deal_id) / "ciphertext").exists()


def test_a_quote_too_large_for_the_buyers_limit_is_rejected_before_any_download(hub, tmp_path) -> None:
    """A hostile hub quoted 2**40 bytes and the wallet wrote 512 MiB toward it before reading the price."""
    buyer = make_buyer(hub, tmp_path / "b", max_release_bytes=4096)
    with live_hub(hub) as live:
        res = buyer.buy(live.url, "fixed-dp", max_price=hub.ETHER, progress=live.drive())
    assert res.outcome is Outcome.REJECTED and "over this buyer's limit of 4,096" in res.reason
    assert not (tmp_path / "b" / "deals" / str(res.deal_id) / "ciphertext").exists()


def test_a_buyer_dead_past_the_accept_window_ends_lapsed(hub, tmp_path) -> None:
    state = tmp_path / "b"
    with live_hub(hub) as live:
        with pytest.raises(Killed):
            make_buyer(hub, state).buy(live.url, "fixed-dp", max_price=hub.ETHER,
                                       progress=live.drive(kill_at="downloaded"))
        from client.chain import advance_time
        advance_time(hub.w3, 1801)
        (res,) = make_buyer(hub, state).resume_all(progress=live.drive())
    assert res.outcome is Outcome.LAPSED
    assert _credits(hub, make_buyer(hub, state).address) == (hub.ETHER - FEE, FEE)


def test_a_hub_that_vanishes_after_quoting_is_rejected_once_the_retries_run_out(hub, tmp_path) -> None:
    state = tmp_path / "b"
    with live_hub(hub) as live:
        with pytest.raises(Killed):
            make_buyer(hub, state).buy(live.url, "fixed-dp", max_price=hub.ETHER, progress=live.drive(kill_at="opened"))
        deal_id = hub.ex.deal_count()
        live.watcher.step()
        assert hub.ex.state(deal_id) == State.QUOTED
    # the server is gone: the buyer retries for its wall-clock wait, then rejects rather than accept unchecked
    seen = []
    (res,) = make_buyer(hub, state, wait_timeout=0.5, poll_interval=0.1, http_timeout=1).resume_all(
        progress=lambda ev: seen.append(ev.stage))
    assert res.outcome is Outcome.REJECTED and "HubUnreachable" in res.reason
    assert seen.count("waiting-download") >= 2
    assert _credits(hub, make_buyer(hub, state).address) == (hub.ETHER - FEE, FEE)


_text = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(deal_id=st.one_of(st.none(), st.integers(1, 2**64)), reason=st.one_of(st.none(), _text),
       limit=st.integers(0, 2**256 - 1), stage=st.sampled_from([s.value for s in Stage]),
       quote=st.one_of(st.none(), st.dictionaries(_text, st.one_of(_text, st.integers(0, 2**256)), max_size=4)))
def test_a_deal_record_survives_the_store_exactly(tmp_path, deal_id, reason, limit, stage, quote) -> None:
    store = DealStore(tmp_path / "s")
    rec = DealRecord(deal_id, 31337, "0x" + "ab" * 20, "http://h", "0x" + "cd" * 20, "0x" + "00" * 32, "o", "{}",
                     "0x" + "11" * 32, limit, stage=stage, quote=quote, reason=reason)
    store.save(rec)
    back = store.pending()[0] if deal_id is None else store.load(deal_id)
    assert back == rec
    assert not [p for p in (tmp_path / "s").rglob("*.tmp")]  # no half-written file left behind
    store.drop_pending(rec)


def test_a_deal_in_an_erc20_token_is_approved_and_settled(hub, tmp_path) -> None:
    from client.chain.exchange import deploy_contract, send_call
    from oracle.pipeline import QuotePipeline
    from oracle.store import OfferRecord
    from oracle.watcher import Watcher

    token = deploy_contract(hub.w3, "TestToken", sender=hub.deployer)
    send_call(hub.w3, token.functions.mint(hub.buyer, hub.ETHER), hub.deployer)
    dp = hub.offers["fixed-dp"]
    hub.store.put_offer(OfferRecord("fixed-dp-token", dp.dataset_id, None, dp.release, dp.pricing, (token.address,), FEE))
    buyer = make_buyer(hub, tmp_path / "b")
    with live_hub(hub) as live:
        live.watcher = Watcher(hub.ctx, QuotePipeline(hub.ctx, signer=hub.oracle, tokens=[token.address]), start_block=0)
        res = buyer.buy(live.url, "fixed-dp-token", max_price=hub.ETHER // 2, token=token.address, progress=live.drive())
    assert res.outcome is Outcome.SETTLED
    assert hub.ex.credit(buyer.address, token.address) == hub.ETHER // 2 - PRICE
    assert hub.ex.credit(hub.seller, token.address) == PRICE
    assert token.functions.balanceOf(buyer.address).call() == hub.ETHER // 2


def test_a_buyer_killed_between_opendeal_and_its_record_finds_the_deal_on_chain(hub, tmp_path, monkeypatch) -> None:
    state = tmp_path / "b"
    real = DealStore.opened

    def crash(self, rec, deal_id, block):  # openDeal mined, the process dies before renaming its record
        raise Killed("after openDeal")

    with live_hub(hub) as live:
        monkeypatch.setattr(DealStore, "opened", crash)
        with pytest.raises(Killed):
            make_buyer(hub, state).buy(live.url, "fixed-dp", max_price=hub.ETHER, progress=live.drive())
        monkeypatch.setattr(DealStore, "opened", real)
        assert len(list((state / "pending").glob("*.json"))) == 1 and hub.ex.state(1) == State.OPEN
        (res,) = make_buyer(hub, state).resume_all(progress=live.drive())
    assert res.outcome is Outcome.SETTLED and res.deal_id == 1
    assert not list((state / "pending").glob("*.json"))


def test_a_deal_the_hub_declines_is_refunded_with_its_reason(hub, tmp_path) -> None:
    """Buyer 2's terms are accepted while the budget has room; before it opens its deal, buyer 1
    buys and spends the budget, so the hub declines buyer 2's deal when it comes to quote, and
    buyer 2 is refunded in full."""
    first, second = make_buyer(hub, tmp_path / "b1"), make_buyer(hub, tmp_path / "b2", address=hub.buyer2)
    with live_hub(hub) as live:
        drive, results = live.drive(), {}

        def race(ev):
            if ev.stage == "terms" and "first" not in results:  # buyer 2's terms were just accepted
                results["first"] = first.buy(live.url, "fixed-dp-big", max_price=hub.ETHER, progress=live.drive())
            drive(ev)

        results["second"] = second.buy(live.url, "fixed-dp-big", max_price=hub.ETHER, progress=race)
    assert results["first"].outcome is Outcome.SETTLED
    declined = results["second"]
    assert declined.outcome is Outcome.DECLINED and "budget" in declined.reason  # 4.5 + 4.5 > the cap of 5
    assert declined.to_buyer == hub.ETHER and declined.to_seller == 0


def test_terms_the_budget_left_cannot_pay_for_are_refused_before_any_money_moves(hub, tmp_path) -> None:
    """A survey bought a release a dataset's spent budget could no longer pay for: the deal was
    opened (gas, a locked payment) only for the hub to decline it. The terms are refused first."""
    from client.hub_client import HubError

    buyer = make_buyer(hub, tmp_path / "b")
    with live_hub(hub) as live:
        assert buyer.buy(live.url, "fixed-dp-big", max_price=hub.ETHER, progress=live.drive()).outcome is Outcome.SETTLED
        opened = hub.ex.deal_count()
        with pytest.raises(HubError) as refused:
            buyer.buy(live.url, "fixed-dp-big", max_price=hub.ETHER, progress=live.drive())
    assert refused.value.status == 422 and "budget has 500 milli-epsilon left" in refused.value.detail
    assert "this release needs 4500" in refused.value.detail
    assert hub.ex.deal_count() == opened and hub.ex.credit(buyer.address) == hub.ETHER - PRICE
