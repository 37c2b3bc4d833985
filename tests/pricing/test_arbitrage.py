"""Arbitrage-freeness (Li, Miklau, Suciu 2014) of offers at several epsilons."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings, strategies as st

from pricing import PricingError, check_arbitrage_free, inverse_variance


def test_inverse_variance_of_laplace_is_eps_squared_over_two():
    assert inverse_variance(2.0) == 2.0
    assert inverse_variance(1.0, sensitivity=2.0) == 0.125
    with pytest.raises(PricingError, match="epsilon"):
        inverse_variance(0.0)


def test_price_linear_in_inverse_variance_is_arbitrage_free():
    offers = [(e, int(1000 * inverse_variance(e))) for e in (1.0, 2.0, 4.0)]
    assert check_arbitrage_free(offers).ok


def test_price_linear_in_epsilon_is_arbitrage_free():
    assert check_arbitrage_free([(0.5, 50), (1.0, 100), (2.0, 200)]).ok


def test_price_quadratic_in_inverse_variance_is_flagged():
    # eps=2 has 4x the inverse variance of eps=1: four eps=1 releases averaged cost 4*10 < 1000
    report = check_arbitrage_free([(1.0, 10), (2.0, 1000)])
    assert not report.ok and "not subadditive: epsilon 2.0 costs 1000" in report.violations[0]


def test_cheaper_precise_release_is_flagged_as_not_monotone():
    report = check_arbitrage_free([(1.0, 100), (2.0, 50)])
    assert not report.ok and any("not monotone" in v for v in report.violations)


@settings(max_examples=80, deadline=None)
@given(st.lists(st.tuples(st.sampled_from([0.25, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0]), st.integers(0, 1000)),
                min_size=1, max_size=5))
def test_arbitrage_check_agrees_with_pairs_and_monotonicity(offers):
    """Whenever two offers (or one) beat a third, the check must say so; an ok menu has none."""
    report = check_arbitrage_free(offers)
    iv = [inverse_variance(e) for e, _ in offers]
    beaten = False
    for k, (_, pk) in enumerate(offers):
        for i, j in itertools.combinations_with_replacement(range(len(offers)), 2):
            if k in (i, j):
                continue
            if iv[i] + iv[j] >= iv[k] and offers[i][1] + offers[j][1] < pk:
                beaten = True
        for i in range(len(offers)):
            if i != k and iv[i] >= iv[k] and offers[i][1] < pk:
                beaten = True
    if beaten:
        assert not report.ok
    if report.ok:
        assert not beaten


def test_cheap_noisy_offers_do_not_exhaust_the_search():
    """Regression (found by Hypothesis): covering epsilon 4 with epsilon-0.25 offers takes 256
    copies, and without a lower bound on what the rest must cost the search gave up past its
    state limit. 256 copies at 3 (768) do not beat 485; four at 3 do beat 420 and 833."""
    offers = [(4.0, 485), (0.25, 17), (0.5, 420), (0.5, 833), (0.25, 3)]
    report = check_arbitrage_free(offers, limit=20_000)
    sub = sorted(v for v in report.violations if v.startswith("not subadditive"))
    assert sub == [
        "not subadditive: epsilon 0.25 costs 17, but noisier offers with as much inverse variance cost 3 in total",
        "not subadditive: epsilon 0.5 costs 420, but noisier offers with as much inverse variance cost 12 in total",
        "not subadditive: epsilon 0.5 costs 833, but noisier offers with as much inverse variance cost 12 in total",
    ]
