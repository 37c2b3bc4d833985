"""Armijo backtracking: the first halving (or interpolated trial) that decreases enough, and
nothing when none does."""

from __future__ import annotations

import math

from hypothesis import given, settings
from hypothesis import strategies as st

from pricing._linesearch import armijo


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


@settings(max_examples=100, deadline=None)
@given(b=st.floats(-100.0, -0.01), t_min=st.floats(0.1, 0.5))
def test_interpolation_lands_on_a_parabolas_minimiser_in_one_trial(b, t_min):
    """On a parabola f(t) = b t + c t^2 whose minimiser t* = -b / 2c lies in [0.1, 0.5], the
    failed trial at 1 and f0, slope b fix the parabola: the second trial is t* (which
    satisfies the condition, c1 < 1/2), where halving needs as many trials or more."""
    c = -b / (2.0 * t_min)
    f = lambda t: b * t + c * t * t
    trials = []
    t, value, _ = armijo(lambda t: (trials.append(t) or f(t), None), 0.0, b, interpolate=True)
    assert len(trials) == 2 and math.isclose(t, t_min, rel_tol=1e-12)
    assert value <= 1e-4 * t * b
    halved = []
    armijo(lambda t: (halved.append(t) or f(t), None), 0.0, b)
    assert len(halved) >= len(trials)


def test_interpolation_keeps_its_safeguards():
    """The next trial stays in [t/10, t/2]: a huge failed value gives t/10, a barely failed one
    t/2, and a non-finite value (a diverged forward pass) falls back to halving."""
    for failed, expected in [(1e12, 0.1), (-0.5e-4, 0.5), (math.inf, 0.5), (math.nan, 0.5)]:
        trials = []
        armijo(lambda t: (trials.append(t) or (failed if t == 1.0 else -1e9), None), 0.0, -1.0, interpolate=True)
        assert trials == [1.0, expected]


def test_interpolation_gives_up_too():
    assert armijo(lambda t: (1.0, None), 0.0, -1.0, halvings=4, interpolate=True) is None
