"""A deal draws its release at most once, and a draw the chain does not charge counts at the hub.

Pricing that raised an ordinary exception (a group-influence spec whose eigenvectors were not
orthonormal made the Cholesky factorisation fail on some releases and not on others) was retried
with a fresh draw each time and then declined, with no draw counted and the spec not marked: a
bit of each draw, uncharged, for ever (the security review's B1). Now the first draw is kept with
the spec's evaluated mark and its epsilon counted until its quote is prepared, and every retry
prices that same release."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from client.chain import State, advance_time
from oracle.budget import spent_milli
from oracle.errors import Conflict
from oracle.pipeline import MAX_ATTEMPTS, Outcome, QuotePipeline
from oracle.service import accept_terms
from oracle.store import OfferRecord
from pricing import PricingError, make_spec, parse_spec, spec_hash
from tests.oracle.conftest import ETH, ETHER, MDE_PRICING, QUOTE_WINDOW, _dp_release


def _opened(hub, deal_id: int) -> dict:
    (args,) = [a for n, a, _, _ in hub.ex.events() if n == "DealOpened" and a["dealId"] == deal_id]
    return args


def _respec(hub, seed: int) -> str:
    """The fixture's spec under another `seeds.finetune` (group-influence reads no seed), uploaded."""
    spec = parse_spec(hub.spec)
    bundle = make_spec({**spec.manifest, "seeds": {"finetune": seed}}, spec.tensors)
    hub.store.put_spec(spec_hash(bundle), bundle)
    return spec_hash(bundle)


def _as_the_watcher(pipe: QuotePipeline, hub, deal: int) -> Outcome:
    """handle_opened retried after each unexpected error, as the watcher's steps retry it."""
    for _ in range(MAX_ATTEMPTS + 1):
        try:
            return pipe.handle_opened(deal, _opened(hub, deal))
        except Exception:  # noqa: BLE001 - the watcher logs and retries
            continue
    raise AssertionError(f"deal {deal} neither quoted nor declined after {MAX_ATTEMPTS + 1} attempts")


def _counting(pipe: QuotePipeline) -> list[int]:
    """Count `pipe`'s fresh draws (its `_draw`, which each attempt called before the fix)."""
    draws: list[int] = []
    real = pipe._draw
    pipe._draw = lambda plan: (draws.append(1), real(plan))[1]  # type: ignore[method-assign]
    return draws


def _raise_linalg(plan: dict[str, Any], release: bytes) -> int:
    raise np.linalg.LinAlgError("the spec's curvature is not positive definite on this release")


def test_pricing_that_raises_draws_once_counts_the_draw_and_marks_the_spec(hub) -> None:
    census = hub.datasets["census"]
    pipe = QuotePipeline(hub.ctx, signer=hub.oracle, tokens=[ETH])
    draws = _counting(pipe)
    pipe._price = _raise_linalg  # type: ignore[method-assign]
    deal = hub.deal("mde-dp", nonce="first")
    later = hub.deal("mde-dp", nonce="second")  # the same spec, its terms accepted before the first draw
    out = _as_the_watcher(pipe, hub, deal)
    assert out.action == "declined" and "failed to price" in out.reason and hub.ex.state(deal) == State.REFUNDED
    assert draws == [1]  # three attempts, one release
    assert hub.store.declined_spent(census) == 1000  # its epsilon counts, though the chain charged nothing
    assert spent_milli(hub.store, hub.ex, hub.seller, census) == 1000
    assert hub.store.spec_evaluated_by(hub.spec_hash, census) == deal
    assert not hub.store.drawn_release(deal).release_path.exists()  # declined: the file goes, the count stays
    body, _ = hub.terms("mde-dp", nonce="third")
    with pytest.raises(Conflict, match="already evaluated"):  # PUT /v1/terms answers 409 for the spec now
        accept_terms(hub.ctx, body)
    out = _as_the_watcher(pipe, hub, later)
    assert out.action == "declined" and "already evaluated" in out.reason and draws == [1]
    assert hub.store.declined_spent(census) == 1000  # declined before any draw: nothing more counted


def test_a_draw_counts_from_the_moment_it_is_kept(hub) -> None:
    """A hub killed while pricing (an out-of-memory kill) never reaches a decline: the draw must
    already count, and the spec be marked, before pricing starts."""
    census = hub.datasets["census"]

    def killed(stage: str) -> None:
        if stage == "price":
            raise KeyboardInterrupt  # not an Exception: nothing in the pipeline may catch it

    deal = hub.deal("mde-dp")
    with pytest.raises(KeyboardInterrupt):
        QuotePipeline(hub.ctx, signer=hub.oracle, tokens=[ETH], stage_hook=killed).handle_opened(deal,
                                                                                              _opened(hub, deal))
    assert hub.store.declined_spent(census) == 1000
    assert hub.store.spec_evaluated(hub.spec_hash, census)


def test_a_quote_whose_post_fails_counts_its_draw_again(hub) -> None:
    """The count moves to the chain when the quote is prepared; a post that then reverts (the quote
    window closed while the hub was down) leaves a draw the chain never charges: counted again."""
    census = hub.datasets["census"]

    def crash(stage: str) -> None:
        if stage == "post":
            raise KeyboardInterrupt

    deal = hub.deal("fixed-dp")
    with pytest.raises(KeyboardInterrupt):
        QuotePipeline(hub.ctx, signer=hub.oracle, tokens=[ETH], stage_hook=crash).handle_opened(deal,
                                                                                             _opened(hub, deal))
    assert hub.store.prepared_quote(deal) is not None and hub.store.declined_spent(census) == 0
    advance_time(hub.w3, QUOTE_WINDOW + 5)
    out = QuotePipeline(hub.ctx, signer=hub.oracle, tokens=[ETH]).handle_opened(deal, _opened(hub, deal))
    assert out.action == "failed" and hub.ex.epsilon_spent(hub.seller, bytes.fromhex(census[2:])) == 0
    assert hub.store.declined_spent(census) == 1000


_SEEDS = itertools.count(1000)
#: What pricing does on each attempt (the last repeats): raise an ordinary exception, find no
#: efficacy (price 0), raise a PricingError, or price the release.
_ATTEMPTS = st.lists(st.sampled_from(["raise", "zero", "pricing-error", "quote"]), min_size=1, max_size=MAX_ATTEMPTS)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(attempts=_ATTEMPTS)
def test_any_deal_draws_at_most_once_and_is_charged_exactly_once(hub, attempts: list[str]) -> None:
    """Whatever pricing does on each attempt, a deal makes one draw, marks its spec, and its epsilon
    is charged once: on chain when it ends quoted, at the hub when it does not."""
    census = hub.datasets["census"]
    hub.store.put_offer(OfferRecord("mde-tiny", census, None, _dp_release("0.001"), MDE_PRICING, (ETH,), ETHER // 1000))
    hub.offers["mde-tiny"] = hub.store.get_offer("mde-tiny")
    sh = _respec(hub, next(_SEEDS))
    deal = hub.deal("mde-tiny", spec_hash=sh)
    pipe = QuotePipeline(hub.ctx, signer=hub.oracle, tokens=[ETH])
    draws = _counting(pipe)
    plan = iter(attempts)

    def fake_price(_plan: dict[str, Any], release: bytes) -> int:
        what = next(plan, attempts[-1])
        if what == "raise":
            raise np.linalg.LinAlgError("not positive definite")
        if what == "pricing-error":
            raise PricingError("the release cannot be priced")
        return 0 if what == "zero" else ETHER // 100

    pipe._price = fake_price  # type: ignore[method-assign]
    chain0 = hub.ex.epsilon_spent(hub.seller, bytes.fromhex(census[2:]))
    hub0 = hub.store.declined_spent(census)
    out = _as_the_watcher(pipe, hub, deal)
    chain = hub.ex.epsilon_spent(hub.seller, bytes.fromhex(census[2:])) - chain0
    at_hub = hub.store.declined_spent(census) - hub0
    assert draws == [1]
    assert hub.store.spec_evaluated_by(sh, census) == deal
    if out.action == "quoted":
        assert (chain, at_hub) == (1, 0)
    else:
        assert out.action == "declined" and (chain, at_hub) == (0, 1), out


def test_a_kept_draw_marks_the_spec_for_its_deal_alone_and_counts_until_the_quote(tmp_path) -> None:
    from oracle.store import DatasetRecord, Store, StoreError, write_durable

    ds = "0x" + "11" * 32
    s = Store(tmp_path / "hub.sqlite")
    s.add_dataset(DatasetRecord(ds, "census", {"features": [], "label": {}}, 1, 5000), b"raw")
    for deal in (1, 2):
        s.record_deal_opened(deal, buyer=ETH, terms_hash="0x" + "ab" * 32, dataset_id=ds, token=ETH, max_price=1,
                             quote_fee=0, block=1)
    rel = s.deal_dir(1) / "release.safetensors"
    drawn = dict(dataset_id=ds, spec_hash="0xAB", counted_milli=1000, release_path=rel, release_hash="aa")
    s.record_release_drawn(1, **drawn)
    assert s.spec_evaluated_by("0xab", ds) == 1 and s.declined_spent(ds) == 1000
    assert s.drawn_release(1).release_path == rel and s.drawn_release(2) is None
    s.record_release_drawn(1, **drawn)  # the same draw again: nothing changes
    with pytest.raises(StoreError, match="never redraw"):
        s.record_release_drawn(1, **{**drawn, "release_hash": "bb"})
    with pytest.raises(StoreError, match="already evaluated"):  # another deal, the same spec: nothing kept
        s.record_release_drawn(2, **{**drawn, "release_path": s.deal_dir(2) / "release.safetensors"})
    assert s.drawn_release(2) is None and s.declined_spent(ds) == 1000
    paths = [rel, s.deal_dir(1) / "cipher", s.deal_dir(1) / "leaves"]
    for p in paths:
        write_durable(p, b"x")
    s.record_quote_prepared(1, spec_hash="0xab", dataset_id=ds, price=7, epsilon_milli=1000, key=b"\x09" * 32,
                            data_root=b"\x01" * 32, cipher_root=b"\x02" * 32, key_commit=b"\x03" * 32, size=1, n=1,
                            release_path=paths[0], cipher_path=paths[1], leaves_path=paths[2])
    assert s.declined_spent(ds) == 0  # the chain charges it from the quote on
    s.close()
