"""The survey across many one-person hubs: a dozen hubs sharing one embedded chain, served through
one uvicorn (one mount per hub) with their watchers stepped in a thread, some of them down, slow,
silent after the accept, or cheating (bad chunk, wrong price, an impostor oracle); the estimate
uses exactly the good answers and the funds end where the contract says. The CI's coverage is
checked over many repeated surveys of releases drawn by the same mechanism (no chain needed)."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from eth_account import Account
from eth_hash.auto import keccak
from hypothesis import given, settings, strategies as st
from starlette.applications import Starlette
from starlette.routing import Mount

from client.chain import Exchange, advance_time
from client.chain.exchange import ETH
from client.survey import Question, SurveyError, choose_offer, combine_answers, estimate_of, survey
from oracle.api import create_app
from oracle.context import HubContext
from oracle.pipeline import QuotePipeline
from oracle.rawdata import dataset_id_for, encode_raw
from oracle.store import DatasetRecord, OfferRecord, Store
from oracle.watcher import Watcher
from privacy import Column, Offer, PrivacyLedger, Schema, draw_release
from tests.client.hubkit import cheat_bad_chunk, close_buyers, make_buyer, served, stepping
from tests.oracle.conftest import _cheap_scrypt, _hub_chain, buyer_spec, hub  # noqa: F401 - fixtures


@pytest.fixture(autouse=True)
def _close_buyers():
    yield
    close_buyers()
from tests.oracle.hubproc import free_port

SCHEMA = Schema(columns=(Column("trip_km", "float", bounds=(0.0, 50.0)), Column("heroin", "boolean")))
PRICE = 10**15
FEE = 10**13


def _release(eps: str) -> dict[str, Any]:
    return {"epsilon": eps, "mechanism": {"name": "table", "bounds": {}, "clamp": True, "split": "equal",
                                          "neighbouring": "replace-one"}}


class LockedExchange(Exchange):
    """The hub's binding with its one chain read from the server thread taken under the shared lock."""

    lock: Any = None

    def epsilon_spent(self, seller: str, dataset_id: bytes) -> int:
        with self.lock:
            return super().epsilon_spent(seller, dataset_id)


class NoRevealWatcher(Watcher):
    def _reveal(self, deal_id: int, reveal_deadline: int, report: Any) -> None:
        return None


class UnderPricing(QuotePipeline):
    """Quotes other than its own fixed price (under it: a price over maxPrice would be capped)."""

    def _price(self, plan: dict[str, Any], release: bytes) -> int:
        return super()._price(plan, release) - 1


@dataclass
class OneHub:
    name: str
    value: float
    eps: str
    watcher: Watcher | None
    path: str


def _one_person_hub(hub: Any, root: Path, i: int, kind: str, value: float, eps: str, lock: Any) -> tuple[OneHub, Any]:
    acct = Account.from_key(keccak(f"survey hub {i}".encode()))
    w3 = hub.w3
    w3.eth.send_transaction({"from": hub.deployer, "to": acct.address, "value": 10**18})
    ex = LockedExchange(w3, hub.ex.address)
    ex.lock = lock
    ex.register_seller(acct.address, sender=acct)
    ds = dataset_id_for(acct.address, "me")
    cap = 400 if kind == "spent" else 10_000  # "spent": less budget left than any offer's epsilon
    ex.register_dataset(bytes.fromhex(ds[2:]), cap, sender=acct)
    store = Store(root / f"{kind}-{i}" / "data" / "hub.sqlite")
    store.add_dataset(DatasetRecord(ds, "me", SCHEMA.to_json(), 1, cap),
                      encode_raw({"trip_km": np.array([value]), "heroin": np.array([int(value > 25)])}, SCHEMA))
    store.put_offer(OfferRecord("trip", ds, None, _release(eps), {"method": "fixed", "price": str(PRICE)}, (ETH,), FEE))
    store.put_offer(OfferRecord("trip-pricey", ds, None, _release("9"), {"method": "fixed", "price": str(PRICE * 10)},
                                (ETH,), FEE))  # more precise, but over the survey's limit
    ctx = HubContext(store=store, exchange=ex, chain_id=int(w3.eth.chain_id), seller=acct.address, oracle=acct.address)
    if kind == "impostor":
        ctx.oracle = hub.stranger
    pipeline = (UnderPricing if kind == "mispriced" else QuotePipeline)(ctx, signer=acct, tokens=[ETH])
    watcher = (NoRevealWatcher if kind == "silent" else Watcher)(ctx, pipeline, start_block=w3.eth.block_number)
    if kind == "slow":
        watcher = None  # never steps: never quotes
    return OneHub(kind, value, eps, watcher, f"/h{i}"), create_app(ctx)


KINDS = ["honest"] * 6 + ["slow", "silent", "chunk", "mispriced", "impostor", "spent"]


def test_a_survey_of_one_person_hubs_uses_every_good_answer(hub, tmp_path, monkeypatch) -> None:
    rng = np.random.default_rng(7)
    lock = threading.RLock()
    import oracle.pipeline as pipeline

    real_encode = pipeline.encode_file
    cheat_bad_chunk(monkeypatch, index=0)
    cheating_encode = pipeline.encode_file
    monkeypatch.setattr(pipeline, "encode_file", lambda plain, key, c, lv: (
        cheating_encode if "chunk-" in str(lv) else real_encode)(plain, key, c, lv))

    hubs, apps = [], []
    for i, kind in enumerate(KINDS):
        h, app = _one_person_hub(hub, tmp_path / "hubs", i, kind, float(rng.uniform(0, 50)), ["0.5", "1", "2"][i % 3], lock)
        hubs.append(h)
        apps.append(Mount(h.path, app=app))
    buyer = make_buyer(hub, tmp_path / "buyer", chain_lock=lock, wait_timeout=8.0, poll_interval=0.25, http_timeout=5.0)
    before = hub.ex.credit(buyer.address)
    with served(Starlette(routes=apps)) as base:
        urls = [base + h.path for h in hubs] + [f"http://127.0.0.1:{free_port()}"]  # the last one is down
        with stepping(hubs, lock, 0.1):
            try:
                t0 = time.monotonic()
                res = survey(buyer, urls, Question("trip_km"), limit=2 * PRICE, workers=4, alpha=0.001,
                             release_dir=tmp_path / "releases")
                took = time.monotonic() - t0
            finally:
                buyer.close()
    by_kind = {h.name + str(i): a for i, (h, a) in enumerate(zip(hubs, res.answers))}
    assert res.counts == {"answered": 6, "declined": 1, "lapsed": 2, "cheated": 3, "unreachable": 1, "error": 0}, \
        [(a.url, a.status, a.detail[:120]) for a in res.answers]
    for h, a in zip(hubs, res.answers):
        want = {"honest": "answered", "slow": "lapsed", "silent": "lapsed", "chunk": "cheated",
                "mispriced": "cheated", "impostor": "cheated", "spent": "declined"}[h.name]
        assert a.status == want, (h.name, a)
        if h.name == "spent":  # refused at the terms, before any deal: nothing paid, nothing locked
            assert "budget has 400 milli-epsilon left" in a.detail and a.deal_id is None and a.paid == 0
        if h.name == "honest":
            assert a.epsilon == h.eps and a.price == PRICE  # the most precise offer within the limit
    good = [a for a in res.answers if a.status == "answered"]
    value, variance, _ = combine_answers([(a.value, a.variance) for a in good])
    assert res.value == pytest.approx(value) and res.variance == pytest.approx(variance)
    truth = float(np.mean([h.value for h in hubs if h.name == "honest"]))
    assert res.ci[0] <= truth <= res.ci[1], (res.ci, truth)
    assert took < 60, by_kind
    # the stalled deals are still open; once their deadlines pass, resume refunds them in full
    advance_time(hub.w3, 3601)
    ended = {r.deal_id: r.outcome.value for r in buyer.resume_all()}
    assert sorted(ended.values()) == ["refunded", "refunded"]
    # refunded in full: slow, silent, bad chunk; the mis-priced quote was rejected, its fee the cost
    assert hub.ex.credit(buyer.address) - before == 3 * PRICE + (PRICE - FEE)
    assert res.paid == 6 * PRICE + FEE
    print(f"survey of {len(urls)} hubs: {took:.1f} s", [(a.status, round(a.seconds, 1)) for a in res.answers])


def test_choose_offer_takes_the_most_precise_within_the_limit() -> None:
    ds = "0x" + "11" * 32
    offers = [{"offerId": o, "datasetId": ds, "release": {"epsilon": e}, "pricing": {"method": "fixed", "price": str(p)},
               "tokens": [ETH]} for o, e, p in [("a", "1", 5), ("b", "2", 10), ("c", "exact", 100), ("d", "2", 8)]]
    assert choose_offer(offers, {ds}, 10)["offerId"] == "d"
    assert choose_offer(offers, {ds}, 100)["offerId"] == "c"
    assert choose_offer(offers, {ds}, 4) is None
    assert choose_offer(offers, {"0x" + "22" * 32}, 100) is None


def _draw(eps: str, values: dict[str, float]) -> bytes:
    offer = Offer.from_terms_release(_release(eps), price_rule={"method": "fixed", "price": "1"})
    data = {"trip_km": np.array([values["trip_km"]]), "heroin": np.array([values["heroin"]])}
    return draw_release(offer, SCHEMA, data, ledger=PrivacyLedger(cap_milli=100_000, spent_milli=0)).to_bytes()


@pytest.mark.parametrize("question", [Question("trip_km"), Question("heroin", kind="proportion")])
def test_the_ci_covers_the_truth_at_the_stated_rate(question: Question) -> None:
    """150 surveys of 12 people at mixed precisions: the 90% CI covers the respondents' mean in
    between 81% and 99% of them (3.5 binomial standard deviations either side)."""
    rng = np.random.default_rng(11)
    people = [{"trip_km": float(v), "heroin": int(v > 30)} for v in rng.uniform(0, 50, size=12)]
    truth = float(np.mean([p[question.column] for p in people]))
    eps = ["0.5", "1", "2", "4"]
    reps, covered = 150, 0
    for _ in range(reps):
        pairs = [estimate_of(_draw(eps[i % 4], p), question) for i, p in enumerate(people)]
        _, _, (lo, hi) = combine_answers(pairs, alpha=0.1)
        covered += lo <= truth <= hi
    assert 0.81 * reps <= covered <= 0.99 * reps, covered


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.floats(-1e6, 1e6), st.floats(1e-6, 1e6)), min_size=1, max_size=30))
def test_equal_weighting_is_the_plain_mean_and_never_narrower_than_inverse_variance(pairs) -> None:
    v, var, _ = combine_answers(pairs)
    assert v == pytest.approx(np.mean([p[0] for p in pairs]), abs=1e-6)
    _, ivar, _ = combine_answers(pairs, weighting="inverse-variance")
    assert ivar <= var * (1 + 1e-9)


def test_a_survey_needs_hubs() -> None:
    with pytest.raises(SurveyError, match="no hubs"):
        survey(None, [], Question("x"), limit=1)  # type: ignore[arg-type]
    with pytest.raises(SurveyError, match="weighting"):
        combine_answers([(1.0, 1.0)], weighting="median")
