"""The quote pipeline on the embedded chain: quotes what it should, declines the rest with a stored
reason, re-posts (never redraws) a prepared quote, and after a crash before storing prices the
release it drew before (one draw per deal)."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from client.chain import State
from client.chain.exchange import EXACT
from client.delivery import Commitment, verify_download
from oracle.pipeline import STAGES, QuotePipeline, epsilon_milli_of
from oracle.rawdata import dataset_id_for, encode_raw
from oracle.store import DatasetRecord, OfferRecord, TermsRecord
from privacy import Column, Schema
from tests.oracle.conftest import (CAP_MILLI, ETH, ETHER, FIXED_PRICING, MDE_PRICING, ROWS, _dp_release,
                                   ml_schema)


def _pipe(hub, **kw) -> QuotePipeline:
    return QuotePipeline(hub.ctx, signer=hub.oracle, tokens=kw.pop("tokens", [ETH]), **kw)


def _opened(hub, deal_id: int) -> dict:
    (args,) = [a for n, a, _, _ in hub.ex.events() if n == "DealOpened" and a["dealId"] == deal_id]
    return args


def _quoted(hub, deal_id: int) -> dict:
    return [a for n, a, _, _ in hub.ex.events() if n == "Quoted" and a["dealId"] == deal_id]


def _ds_bytes(hub, name: str) -> bytes:
    return bytes.fromhex(hub.datasets[name][2:])


@pytest.mark.parametrize("epsilon,milli", [("1", 1000), ("0.25", 250), ("0.0001", 1), ("1.0005", 1001),
                                           ("exact", EXACT), ("3", 3000)])
def test_epsilon_milli_is_the_exact_ceiling(epsilon, milli) -> None:
    assert epsilon_milli_of(epsilon) == milli


def test_fixed_offer_is_quoted_with_a_commitment_the_buyer_can_check(hub) -> None:
    deal = hub.deal("fixed-dp")
    out = _pipe(hub).handle_opened(deal, _opened(hub, deal), block=1)
    assert out.action == "quoted" and out.price == ETHER // 10
    assert hub.ex.state(deal) == State.QUOTED
    assert hub.ex.epsilon_spent(hub.seller, _ds_bytes(hub, "census")) == 1000
    (q,) = _quoted(hub, deal)
    rec = hub.store.get_deal(deal)
    assert rec.phase == "Quoted" and rec.n == q["size"] // 1024 + (q["size"] % 1024 > 0)
    assert set(rec.timings) == set(STAGES) and all(v >= 0 for v in rec.timings.values())
    verify_download(rec.cipher_path, rec.leaves_path,
                    Commitment(q["dataRoot"], q["cipherRoot"], q["keyCommit"], q["size"]))
    raw = hub.store.raw_data(hub.datasets["census"])
    assert rec.cipher_path.read_bytes() != raw


def test_mde_exact_offer_is_priced_by_the_spec_and_marks_it_evaluated(hub) -> None:
    deal = hub.deal("mde-exact")
    assert not hub.store.spec_evaluated(hub.spec_hash, hub.datasets["census-exact"])
    out = _pipe(hub).handle_opened(deal, _opened(hub, deal))
    assert out.action == "quoted" and 0 < out.price <= ETHER
    (q,) = _quoted(hub, deal)
    assert q["epsilonMilli"] == EXACT and q["price"] == out.price
    assert hub.store.spec_evaluated(hub.spec_hash, hub.datasets["census-exact"])
    from pricing import price

    doc = json.loads(hub.store.get_terms(hub.store.get_deal(deal).terms_hash).canonical)
    release = (hub.store.deal_dir(deal) / "release.safetensors").read_bytes()
    assert price(hub.spec, release, doc).price == out.price  # the buyer's replay gives the same number


def test_second_use_of_a_spec_on_a_dataset_is_declined(hub) -> None:
    first = hub.deal("mde-exact", nonce="a")
    second = hub.deal("mde-exact", nonce="b")
    p = _pipe(hub)
    assert p.handle_opened(first, _opened(hub, first)).action == "quoted"
    out = p.handle_opened(second, _opened(hub, second))
    assert out.action == "declined" and "already evaluated" in out.reason
    assert hub.ex.state(second) == State.REFUNDED
    assert hub.store.get_deal(second).reason == out.reason


def test_zero_price_is_a_decline_not_a_quote(hub) -> None:
    hub.store.put_offer(OfferRecord("never", hub.datasets["census-exact"], None, {"epsilon": "exact",
                        "mechanism": {"name": "exact"}}, {"method": MDE_PRICING["method"], "curve": {"kind": "step",
                        "price": "5", "threshold": 1e12}}, (ETH,), 0))
    hub.offers["never"] = hub.store.get_offer("never")
    deal = hub.deal("never")
    out = _pipe(hub).handle_opened(deal, _opened(hub, deal))
    assert out.action == "declined" and "no efficacy" in out.reason
    assert hub.ex.state(deal) == State.REFUNDED and not _quoted(hub, deal)
    assert hub.store.declined_spent(hub.datasets["census-exact"]) == 0  # an exact release has no budget to count


def _respec(hub, seed: int) -> str:
    """The fixture's spec under another `seeds.finetune` (group-influence reads no seed: the same
    prices), uploaded: a new specHash, as a buyer makes one for nothing."""
    from pricing import make_spec, parse_spec, spec_hash

    spec = parse_spec(hub.spec)
    bundle = make_spec({**spec.manifest, "seeds": {"finetune": seed}}, spec.tensors)
    hub.store.put_spec(spec_hash(bundle), bundle)
    return spec_hash(bundle)


def test_dp_draws_declined_at_price_0_count_against_the_budget_so_probing_ends(hub) -> None:
    """Each price-0 decline of a DP release tells the buyer a bit of a fresh draw, and the chain
    charges nothing for it: a buyer could ask again and again, each time with a new spec (a spec is
    marked evaluated at its draw, and specs cost nothing to make), and learn without end. The hub
    counts each such draw against the dataset's cap: at epsilon 1 of a cap of 5, the sixth ask is
    refused before any draw."""
    from oracle.errors import Unprocessable
    from oracle.service import accept_terms

    census = hub.datasets["census"]
    for i in range(5):  # the fixture's spec finds no efficacy at epsilon 1: price 0
        deal = hub.deal("mde-dp", nonce=f"probe {i}", spec_hash=_respec(hub, i + 1))
        out = _pipe(hub).handle_opened(deal, _opened(hub, deal))
        assert out.action == "declined" and "no efficacy" in out.reason, out.reason
        assert "the draw's epsilon 1 counts against the dataset's budget at this hub" in out.reason
        assert hub.store.declined_spent(census) == 1000 * (i + 1)
    assert hub.ex.epsilon_spent(hub.seller, _ds_bytes(hub, "census")) == 0  # the chain saw none of it
    body, _ = hub.terms("mde-dp", nonce="probe 5")
    with pytest.raises(Unprocessable, match="budget has 0 milli-epsilon left"):
        accept_terms(hub.ctx, body)
    deal = hub.deal("mde-dp", nonce="probe 5")  # terms accepted before the budget ran out (the fixture's spec)
    stages = []
    out = _pipe(hub, stage_hook=stages.append).handle_opened(deal, _opened(hub, deal))
    assert out.action == "declined" and "0 milli-epsilon left" in out.reason and "draw" not in stages


@pytest.mark.parametrize("case,expect", [
    ("stranger", "not the buyer"), ("unknown", "unknown terms"), ("fee", "minQuoteFee"),
    ("token", "not on this hub's list"), ("maxprice", "fixed price"), ("other-buyer-offer", "not made to this buyer"),
])
def test_unpriceable_deals_are_declined_with_a_stored_reason(hub, case, expect) -> None:
    tokens = [ETH]
    if case == "stranger":  # someone copies the buyer's termsHash and opens first
        body, th = hub.terms("fixed-dp")
        hub.accept_terms(body)
        deal = hub.open_deal(th, buyer=hub.stranger)
    elif case == "unknown":
        _, th = hub.terms("fixed-dp")
        deal = hub.open_deal(th, dataset=hub.datasets["census"], quote_fee=ETHER // 1000)
    elif case == "fee":
        deal = hub.deal("fixed-dp", quote_fee=1)
    elif case == "token":
        tokens = ["0x" + "ab" * 20]
        deal = hub.deal("fixed-dp")
    elif case == "maxprice":
        deal = hub.deal("fixed-dp", max_price=ETHER // 100)
    else:
        deal = hub.deal("fixed-exact", buyer=hub.buyer2)
    out = _pipe(hub, tokens=tokens).handle_opened(deal, _opened(hub, deal))
    assert out.action == "declined" and expect in out.reason
    assert hub.ex.state(deal) == State.REFUNDED
    rec = hub.store.get_deal(deal)
    assert (rec.phase, rec.reason) == ("Refunded", out.reason)
    assert hub.ex.epsilon_spent(hub.seller, _ds_bytes(hub, "census")) == 0


def test_terms_accepted_before_the_fit_rule_are_declined_not_quoted(hub) -> None:
    # an influence-priced DP offer kept (and its terms accepted) before the hub refused the pairing
    pricing = {"method": "influence", "curve": {"kind": "linear", "slope": str(10 * ETHER)}}
    hub.store.put_offer(OfferRecord("old-noisy", hub.datasets["census"], None, hub.offers["mde-dp"].release, pricing,
                                    (ETH,), 0))
    hub.offers["old-noisy"] = hub.store.get_offer("old-noisy")
    deal = hub.deal("old-noisy")
    stages: list[str] = []
    out = _pipe(hub, stage_hook=stages.append).handle_opened(deal, _opened(hub, deal))
    assert out.action == "declined" and stages == []  # nothing drawn, no epsilon spent
    assert "influence misprices ml-laplace-rr releases" in out.reason and "group-influence" in out.reason
    assert hub.ex.state(deal) == State.REFUNDED and not _quoted(hub, deal)
    assert hub.ex.epsilon_spent(hub.seller, _ds_bytes(hub, "census")) == 0


def test_budget_is_read_from_the_chain(hub) -> None:
    p = _pipe(hub)
    first, second = hub.deal("fixed-dp-big", nonce="1"), hub.deal("fixed-dp-big", nonce="2")
    assert p.handle_opened(first, _opened(hub, first)).action == "quoted"
    out = p.handle_opened(second, _opened(hub, second))
    assert out.action == "declined" and "500 milli-epsilon left" in out.reason


def test_out_of_bounds_data_declines_without_quoting_a_value(hub) -> None:
    schema = ml_schema()
    raw = {"features": hub.raw["features"] * 1.0, "label": hub.raw["label"]}
    raw["features"][7, 1] = 0.123456789
    ds = hub.datasets["census"]
    hub.store.add_dataset(DatasetRecord(ds, "census", schema.to_json(), len(raw["label"]), 5000),
                          encode_raw(raw, schema))
    release = {"epsilon": "1", "mechanism": {"name": "ml-laplace-rr", "bounds": {"x1": ["0.2", "0.3"]}, "clamp": False,
                                             "split": "equal", "neighbouring": "replace-one"}}
    hub.store.put_offer(OfferRecord("narrow", ds, None, release, {"method": "fixed", "price": "5"}, (ETH,), 0))
    hub.offers["narrow"] = hub.store.get_offer("narrow")
    deal = hub.deal("narrow")
    out = _pipe(hub).handle_opened(deal, _opened(hub, deal))
    assert out.action == "declined" and "OutOfBounds" in out.reason
    assert "0.12" not in out.reason and "1234" not in out.reason
    assert hub.ex.epsilon_spent(hub.seller, _ds_bytes(hub, "census")) == 0


class Crash(Exception):
    pass


def _crash_at(stage: str):
    def hook(name: str) -> None:
        if name == stage:
            raise Crash(name)
    return hook


def test_crash_before_post_reposts_the_same_commitment_never_redraws(hub) -> None:
    deal = hub.deal("mde-exact")
    with pytest.raises(Crash):
        _pipe(hub, stage_hook=_crash_at("post")).handle_opened(deal, _opened(hub, deal))
    assert hub.ex.state(deal) == State.OPEN
    prepared = hub.store.prepared_quote(deal)
    before = prepared.cipher_path.read_bytes()
    stages: list[str] = []
    out = _pipe(hub, stage_hook=stages.append).handle_opened(deal, _opened(hub, deal))
    assert out.action == "requoted" and stages == ["post"]
    (q,) = _quoted(hub, deal)
    assert (q["keyCommit"], q["cipherRoot"], q["price"]) == (prepared.key_commit, prepared.cipher_root,
                                                             prepared.price)
    assert prepared.cipher_path.read_bytes() == before
    assert _pipe(hub).handle_opened(deal, _opened(hub, deal)).action == "skipped"
    assert len(_quoted(hub, deal)) == 1


@pytest.mark.parametrize("stage", ["price", "encode", "store"])
def test_crash_before_storing_leaves_no_quote_and_the_retry_reuses_the_draw(hub, stage, monkeypatch) -> None:
    """A crash after the draw leaves no quote and no chain spend; the draw is kept with the spec's mark
    (held by this deal, so another deal cannot use the spec), and the retry prices that same release."""
    draws: list[int] = []
    real_draw = QuotePipeline._draw
    monkeypatch.setattr(QuotePipeline, "_draw", lambda self, plan: (draws.append(1), real_draw(self, plan))[1])
    deal = hub.deal("mde-exact")
    with pytest.raises(Crash):
        _pipe(hub, stage_hook=_crash_at(stage)).handle_opened(deal, _opened(hub, deal))
    assert hub.ex.state(deal) == State.OPEN and not _quoted(hub, deal)
    assert hub.store.prepared_quote(deal) is None
    assert hub.store.spec_evaluated_by(hub.spec_hash, hub.datasets["census-exact"]) == deal
    drawn = hub.store.drawn_release(deal)
    assert _pipe(hub).handle_opened(deal, _opened(hub, deal)).action == "quoted"
    assert draws == [1] and hub.store.prepared_quote(deal).release_path == drawn.release_path
    assert hashlib.sha256(drawn.release_path.read_bytes()).hexdigest() == drawn.release_hash


def test_a_deal_past_its_quote_window_is_declined_before_drawing(hub) -> None:
    from client.chain import advance_time
    from tests.oracle.conftest import QUOTE_WINDOW

    deal = hub.deal("fixed-dp")
    advance_time(hub.w3, QUOTE_WINDOW + 5)
    stages: list[str] = []
    out = _pipe(hub, stage_hook=stages.append).handle_opened(deal, _opened(hub, deal))
    assert stages == [] and "quote window closed" in (out.reason or "")
    assert not _quoted(hub, deal)


@settings(max_examples=200)
@given(st.integers(min_value=0, max_value=10**6), st.integers(min_value=0, max_value=10**9), st.integers(0, 9))
def test_epsilon_milli_is_the_least_milli_not_below_the_decimal(whole, frac, digits) -> None:
    from fractions import Fraction

    text = str(whole) + (f".{frac:0{digits}d}"[: digits + 1] if digits else "")
    value = Fraction(text)
    if value == 0:
        return
    milli = epsilon_milli_of(text)
    assert milli >= value * 1000 > milli - 1


def test_warm_up_loads_the_encoders_compiled_kernels() -> None:
    import client.delivery as delivery

    assert QuotePipeline.warm_up() > 0.0
    assert delivery._kb_tried  # the batch engine was reached, so the first deal does not compile it


def _deal_naming(hub, offer_id: str, spec_hash: str, bundle: bytes) -> int:
    """A deal opened on terms for `offer_id` naming `bundle` under `spec_hash`, both stored as they are,
    as the hub kept them before a rule it now applies (no PUT /v1/terms check)."""
    hub.store.put_spec(spec_hash, bundle)
    body, th = hub.terms(offer_id, spec_hash=spec_hash)
    hub.store.put_terms(TermsRecord(th, body, hub.buyer, hub.offers[offer_id].dataset_id, offer_id, spec_hash))
    doc = json.loads(body)
    return hub.open_deal(th, max_price=int(doc["maxPrice"]), quote_fee=int(doc["quoteFee"]))


@pytest.mark.parametrize("support", [0.0, 1.0])
def test_a_network_newton_spec_on_a_dp_offer_is_quoted_only_with_its_support_filter(hub, network_spec, support) -> None:
    """Terms accepted before the hub checked a spec's hyper (issue 29) may name a network-newton spec
    without `hyper.support` for a DP offer: the deal is declined before any draw, with the fix; with
    the filter it is drawn and priced."""
    spec, spec_hash = network_spec(support)
    pricing = {"method": "network-newton", "curve": {"kind": "linear", "slope": str(10 * ETHER)}}
    hub.store.put_offer(OfferRecord("net-noisy", hub.datasets["census"], None, hub.offers["mde-dp"].release, pricing,
                                    (ETH,), 0))
    hub.offers["net-noisy"] = hub.store.get_offer("net-noisy")
    deal = _deal_naming(hub, "net-noisy", spec_hash, spec)
    stages: list[str] = []
    out = _pipe(hub, stage_hook=stages.append).handle_opened(deal, _opened(hub, deal))
    if support:
        assert stages[:2] == ["draw", "price"], out  # drawn and priced: a quote, or a decline at price 0
        assert out.action == "quoted" or out.reason.startswith("no efficacy"), out
    else:
        assert out.action == "declined" and stages == []  # nothing drawn, no epsilon spent
        assert "network-newton misprices ml-laplace-rr releases unless its spec sets hyper.support > 0" in out.reason
        assert hub.ex.state(deal) == State.REFUNDED and not _quoted(hub, deal)
        assert hub.ex.epsilon_spent(hub.seller, _ds_bytes(hub, "census")) == 0


def test_a_deal_whose_stored_spec_no_longer_parses_is_declined_before_any_draw(hub) -> None:
    """A spec the store hands back damaged (or one a newer hub no longer accepts) ends the deal with
    the parse error and the buyer refunded, not a retried crash after an epsilon-spending draw."""
    deal = _deal_naming(hub, "mde-dp", "0x" + "ab" * 32, b"not a spec bundle")
    stages: list[str] = []
    out = _pipe(hub, stage_hook=stages.append).handle_opened(deal, _opened(hub, deal))
    assert out.action == "declined" and stages == [], out
    assert out.reason.startswith("the terms' spec is not valid (")
    assert hub.ex.state(deal) == State.REFUNDED and hub.ex.epsilon_spent(hub.seller, _ds_bytes(hub, "census")) == 0


def test_a_release_that_overflows_the_pricing_is_declined_naming_the_error_not_a_value(hub, monkeypatch) -> None:
    """A method's arithmetic overflowing on the drawn release (an unclamped exact release of huge
    values) is the seller's data at fault: a decline naming the error's type, never the value, and
    the buyer refunded at once, with no retries."""
    import pricing
    from pricing import NonFiniteEfficacy

    def overflow(spec, release, terms):
        raise NonFiniteEfficacy(MDE_PRICING["method"], 1.2345e308)

    monkeypatch.setattr(pricing, "price", overflow)
    deal = hub.deal("mde-exact")
    out = _pipe(hub).handle_opened(deal, _opened(hub, deal))
    assert out.action == "declined" and "pricing failed (NonFiniteEfficacy)" in out.reason
    assert "1.23" not in out.reason and "e+308" not in out.reason
    assert hub.ex.state(deal) == State.REFUNDED and not _quoted(hub, deal)
    assert hub.store.get_deal(deal).reason == out.reason


@pytest.mark.parametrize("offer_id, release", [("text-exact", {"epsilon": "exact", "mechanism": {"name": "exact"}}),
                                               ("text-dp", _dp_release("1"))])
def test_a_dataset_whose_label_categories_are_words_is_drawn_and_quoted(hub, monkeypatch, offer_id, release) -> None:
    """The store keeps a categorical label as its category's index (`read_csv`); the draw reads the
    categories themselves. A schema of words ("no", "yes"), as `dataset add` takes from a CSV, was
    declined at every draw with UnknownCategory before the indices were mapped back."""
    import oracle.pipeline as pipeline_module
    from pricing.release import read_release

    schema = Schema(features=ml_schema().features, label=Column("y", "categorical", categories=("no", "yes")))
    exact = release["epsilon"] == "exact"
    ds = dataset_id_for(hub.seller, offer_id)
    hub.ex.register_dataset(bytes.fromhex(ds[2:]), EXACT if exact else CAP_MILLI, sender=hub.seller)
    hub.store.add_dataset(DatasetRecord(ds, offer_id, schema.to_json(), ROWS, EXACT if exact else CAP_MILLI),
                          encode_raw(hub.raw, schema))
    hub.offers[offer_id] = OfferRecord(offer_id, ds, None, release, FIXED_PRICING, (ETH,), 0)
    hub.store.put_offer(hub.offers[offer_id])
    drawn = []
    real_draw = pipeline_module.draw_release
    monkeypatch.setattr(pipeline_module, "draw_release", lambda *a, **kw: drawn.append(real_draw(*a, **kw)) or drawn[-1])
    deal = hub.deal(offer_id)
    out = _pipe(hub).handle_opened(deal, _opened(hub, deal), block=1)
    assert out.action == "quoted", out.reason
    labels = read_release(drawn[0].to_bytes()).tensors["label"]
    assert set(np.unique(labels)) <= {0, 1}
    if exact:  # the exact release is the stored data, labels as the schema's indices
        assert labels.tolist() == hub.raw["label"].tolist()


class _Killed(BaseException):
    """The hub's process stopping (an out-of-memory kill): no `except Exception` sees it."""


def test_a_deal_whose_pricing_kills_the_process_is_declined_after_max_attempts_restarts(hub) -> None:
    """The attempt counter lived in memory, so pricing that killed the process was retried on every
    start for ever; it is counted durably before each attempt, and a deal past MAX_ATTEMPTS is declined
    (its one draw counted against the cap) without pricing again."""
    from oracle.pipeline import MAX_ATTEMPTS

    def kill(name: str) -> None:
        if name == "price":
            raise _Killed(name)

    deal = hub.deal("fixed-dp")
    for _ in range(MAX_ATTEMPTS):
        with pytest.raises(_Killed):
            _pipe(hub, stage_hook=kill).handle_opened(deal, _opened(hub, deal))  # a fresh process each time
    stages: list[str] = []
    out = _pipe(hub, stage_hook=stages.append).handle_opened(deal, _opened(hub, deal))
    assert out.action == "declined" and f"in {MAX_ATTEMPTS} attempts" in out.reason and stages == []
    assert hub.ex.state(deal) == State.REFUNDED and not _quoted(hub, deal)
    assert hub.store.declined_spent(hub.datasets["census"]) == 1000  # the one draw, counted once
