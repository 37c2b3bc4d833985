"""`oracle.budget.budget_refusal`: the one budget rule the terms (422) and the pipeline (a decline
before any draw) apply; a release is refused exactly when the cap is not EXACT and the release is
exact or would spend past the cap, and the refusal names what is left and what it needs."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from client.chain.exchange import EXACT
from oracle.budget import budget_refusal

MILLI = st.one_of(st.integers(1, 20_000), st.just(EXACT))


@given(cap=st.one_of(st.integers(1, 20_000), st.just(EXACT)), spent=st.integers(0, 25_000), milli=MILLI)
def test_a_release_is_refused_exactly_when_the_cap_cannot_pay_for_it(cap, spent, milli) -> None:
    refusal = budget_refusal("census", cap, spent, milli)
    assert (refusal is not None) == (cap != EXACT and (milli == EXACT or spent + milli > cap))
    if refusal is not None and milli != EXACT:
        assert f"has {max(0, cap - spent)} milli-epsilon left" in refusal and f"needs {milli}" in refusal
        # a smaller epsilon is the fix only while something is left; a spent budget says so
        assert ("smaller epsilon" in refusal) == (spent < cap) and ("budget is spent" in refusal) == (spent >= cap)
    if refusal is not None and milli == EXACT:
        assert "an exact release needs a dataset registered with an EXACT cap" in refusal
