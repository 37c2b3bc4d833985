"""Randomized response: calibration, empirical privacy, unbiasedness (seeded and OpenDP)."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privacy import InvalidSchema, proportion_from_reports, histogram_from_reports
from privacy.mechanisms import randomized_response, randomized_response_bool, rr_prob
from privacy.mechanisms._opendp import opendp_coins, rr_bool_measurement, rr_measurement

Z_PRIV = 4.0  # one-sided z for the empirical privacy check (false alarm ~3e-5 per output value)


def max_ratio_lower_bound(counts_a, counts_b, runs):
    """Largest lower confidence bound, over output values, of P(o | a) / P(o | b) (delta method on logs)."""
    best = -math.inf
    for ca, cb in zip(counts_a, counts_b):
        if ca < 30 or cb < 30:
            continue
        log_ratio = math.log(ca / cb)
        se = math.sqrt(1 / ca - 1 / runs + 1 / cb - 1 / runs)
        best = max(best, log_ratio - Z_PRIV * se, -(log_ratio + Z_PRIV * se))
    return best


@given(st.floats(min_value=0.01, max_value=10), st.integers(min_value=2, max_value=50))
def test_rr_prob_spends_exactly_epsilon(eps, k):
    p = rr_prob(eps, k)
    q = (1 - p) / (k - 1)
    assert math.log(p / q) == pytest.approx(eps, rel=1e-9)


@settings(max_examples=30)
@given(st.floats(min_value=0.01, max_value=10), st.integers(min_value=2, max_value=12))
def test_opendp_calibration_never_exceeds_epsilon(eps, k):
    meas, prob = rr_measurement(k, rr_prob(eps, k), eps)
    assert meas.map(1) <= eps
    assert prob == pytest.approx(rr_prob(eps, k), rel=1e-12)
    meas_b, prob_b = rr_bool_measurement(rr_prob(eps, 2), eps)
    assert meas_b.map(1) <= eps


@pytest.mark.parametrize("k", [2, 5])
@pytest.mark.parametrize("eps", [0.5, 1.0, 2.0])
def test_empirical_privacy_rr_output_frequencies_within_e_eps(k, eps):
    rng = np.random.default_rng(7 + k)
    runs = 200_000
    counts = []
    for x in (0, 1):  # neighbouring single-record inputs
        out, _ = randomized_response(np.full(runs, x), k, eps, rng=rng)
        counts.append(np.bincount(out, minlength=k))
    # no output value is more than e^eps likelier under one input than the other ...
    assert max_ratio_lower_bound(counts[0], counts[1], runs) <= eps
    # ... and the whole epsilon is used: the true value's ratio reaches e^eps
    observed = math.log(counts[0][0] / counts[1][0])
    se = math.sqrt(1 / counts[0][0] + 1 / counts[1][0])
    assert abs(observed - eps) <= Z_PRIV * se


def test_empirical_privacy_check_catches_a_mechanism_that_overspends():
    rng = np.random.default_rng(3)
    runs, eps = 200_000, 1.0
    counts = [np.bincount(randomized_response_bool(np.full(runs, x, dtype=bool), 1.5 * eps, rng=rng)[0],
                          minlength=2) for x in (False, True)]
    assert max_ratio_lower_bound(counts[0], counts[1], runs) > eps


@pytest.mark.parametrize("k, eps", [(2, 1.0), (5, 1.0), (3, 0.3)])
def test_empirical_privacy_opendp_rr_output_frequencies_within_e_eps(k, eps):
    runs = 200_000
    counts = [np.bincount(randomized_response(np.full(runs, x), k, eps)[0], minlength=k) for x in (0, 1)]
    assert max_ratio_lower_bound(counts[0], counts[1], runs) <= eps
    observed = math.log(counts[0][0] / counts[1][0])
    assert abs(observed - eps) <= Z_PRIV * math.sqrt(1 / counts[0][0] + 1 / counts[1][0])


@pytest.mark.parametrize("prob", [0.05, 0.3, 0.5, 0.73, 0.99])
def test_opendp_coins_come_up_true_with_the_asked_probability(prob):
    n = 400_000
    share = opendp_coins(n, prob).mean()
    assert abs(share - prob) <= 5 * math.sqrt(prob * (1 - prob) / n)


def test_opendp_per_element_and_vectorised_rr_agree_in_distribution():
    runs, eps = 4000, 1.0
    meas, prob = rr_bool_measurement(rr_prob(eps), eps)
    per_element = np.mean([meas(True) for _ in range(runs)])
    vectorised = randomized_response_bool(np.ones(runs, dtype=bool), eps)[0].mean()
    assert abs(per_element - vectorised) <= 5 * math.sqrt(2 * prob * (1 - prob) / runs)
    assert abs(vectorised - prob) <= 5 * math.sqrt(prob * (1 - prob) / runs)


@pytest.mark.parametrize("eps", [0.5, 2.0])
def test_proportion_is_unbiased_over_many_seeded_releases(eps):
    rng = np.random.default_rng(11)
    n, reps = 2000, 300
    x = rng.random(n) < 0.3
    truth = x.mean()
    ests = [proportion_from_reports(randomized_response_bool(x, eps, rng=rng)[0], prob=rr_prob(eps))
            for _ in range(reps)]
    values = np.array([e.value for e in ests])
    var = ests[0].variance  # the same for every release (data-independent)
    assert abs(values.mean() - truth) <= 5 * math.sqrt(var / reps)
    # the closed-form variance matches the spread (chi-square tolerance on reps samples)
    assert np.var(values, ddof=1) / var == pytest.approx(1.0, abs=5 * math.sqrt(2 / reps))


def test_histogram_is_unbiased_over_many_seeded_releases():
    rng = np.random.default_rng(12)
    n, reps, k, eps = 3000, 300, 4, 1.0
    x = rng.choice(k, n, p=[0.1, 0.2, 0.3, 0.4])
    truth = np.bincount(x, minlength=k) / n
    p = rr_prob(eps, k)
    est = np.array([[e.value for e in histogram_from_reports(randomized_response(x, k, eps, rng=rng)[0],
                                                              prob=p, k=k)] for _ in range(reps)])
    q = (1 - p) / (k - 1)
    theory = (truth * p * (1 - p) + (1 - truth) * q * (1 - q)) / (n * (p - q) ** 2)
    assert np.all(np.abs(est.mean(axis=0) - truth) <= 5 * np.sqrt(theory / reps))
    assert np.allclose(est.var(axis=0, ddof=1) / theory, 1.0, atol=5 * math.sqrt(2 / reps))


def test_opendp_rr_proportion_within_its_confidence_tolerance(within):
    x = np.random.default_rng(5).random(6000) < 0.3
    out, params = randomized_response_bool(x, 1.0)
    assert params["sampler"] == "opendp"
    assert within(proportion_from_reports(out, prob=params["prob"]), x.mean())


def test_opendp_k_ary_rr_histogram_within_tolerance(within):
    x = np.random.default_rng(6).choice(3, 5000, p=[0.6, 0.3, 0.1])
    out, params = randomized_response(x, 3, 2.0)
    truth = np.bincount(x, minlength=3) / x.size
    for e, t in zip(histogram_from_reports(out, prob=params["prob"], k=3), truth):
        assert within(e, t)


def test_rr_rejects_codes_outside_the_categories():
    with pytest.raises(InvalidSchema, match=r"\[0, 2\]"):
        randomized_response(np.array([0, 3]), 3, 1.0, rng=np.random.default_rng(0))
    with pytest.raises(InvalidSchema, match="boolean"):
        randomized_response_bool(np.array([0, 2]), 1.0, rng=np.random.default_rng(0))


def test_rr_records_every_parameter_the_buyer_needs():
    _, params = randomized_response(np.array([0, 1, 2]), 3, 1.5, rng=np.random.default_rng(0))
    assert params == {"name": "randomized-response", "epsilon": 1.5, "prob": rr_prob(1.5, 3), "k": 3,
                      "sampler": "numpy"}


def test_population_variance_is_warners_formula():
    # lambda(1-lambda)/(n(2p-1)^2) == pi(1-pi)/n + p(1-p)/(n(2p-1)^2)
    for pi in (0.1, 0.3, 0.5):
        for eps in (0.5, 1.0, 4.0):
            p, n = rr_prob(eps), 1000
            lam = p * pi + (1 - p) * (1 - pi)
            assert lam * (1 - lam) / (n * (2 * p - 1) ** 2) == pytest.approx(
                pi * (1 - pi) / n + p * (1 - p) / (n * (2 * p - 1) ** 2))


def test_confidence_interval_covers_about_95_percent():
    rng = np.random.default_rng(8)
    n, reps, eps = 1000, 2000, 1.0
    p = rr_prob(eps)
    hits = 0
    for _ in range(reps):
        x = rng.random(n) < 0.3
        lo, hi = proportion_from_reports(randomized_response_bool(x, eps, rng=rng)[0], prob=p,
                                         target="population").ci(0.05)
        hits += lo <= 0.3 <= hi
    se = math.sqrt(0.95 * 0.05 / reps)
    assert abs(hits / reps - 0.95) <= 4 * se
