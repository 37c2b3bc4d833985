"""Armijo backtracking: the first halving that decreases enough, and nothing when none does."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pricing.numerics.linesearch import armijo


@settings(max_examples=100, deadline=None)
@given(a=st.floats(0.01, 100.0), b=st.floats(-100.0, -0.01))
def test_armijo_takes_the_first_halving_that_decreases_enough(a, b):
    """On f(t) = a t^2 + b t (slope b < 0 at 0) the accepted t satisfies the condition and,
    unless it is 1, twice that t does not; the caller's extra value comes back with it."""
    f = lambda t: a * t * t + b * t
    t, value, extra = armijo(lambda t: (f(t), ("point", t)), 0.0, b)
    assert value == f(t) and extra == ("point", t)
    assert value <= 1e-4 * t * b
    assert t == 1.0 or f(2 * t) > 1e-4 * 2 * t * b


def test_armijo_gives_up_when_no_trial_decreases():
    calls = []
    assert armijo(lambda t: (calls.append(t) or 1.0, None), 0.0, -1.0, halvings=5) is None
    assert calls == [1.0, 0.5, 0.25, 0.125, 0.0625]
