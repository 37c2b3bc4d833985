"""Laplace and discrete Laplace: clamping, calibration, empirical privacy, unbiasedness."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from privacy import OutOfBounds, mean_from_noisy
from privacy.mechanisms import clamp_to_bounds, discrete_laplace, laplace
from privacy.mechanisms._opendp import laplace_granularity, laplace_measurement
from privacy.mechanisms.laplace import discrete_laplace_variance

Z_PRIV = 4.0

bounds_st = st.tuples(st.floats(-1e6, 1e6), st.floats(1e-3, 1e6)).map(lambda t: (t[0], t[0] + t[1]))
finite = st.floats(-1e7, 1e7, allow_nan=False)


@given(bounds_st, st.lists(finite, min_size=1, max_size=50))
def test_clamp_true_puts_every_value_in_bounds_and_keeps_inside_values(bounds, values):
    out = clamp_to_bounds(values, bounds, clamp=True)
    x = np.asarray(values)
    assert np.all((out >= bounds[0]) & (out <= bounds[1]))
    inside = (x >= bounds[0]) & (x <= bounds[1])
    assert np.array_equal(out[inside], x[inside])


@given(bounds_st, st.lists(finite, min_size=1, max_size=50))
def test_out_of_bounds_values_are_refused_never_silently_clamped(bounds, values):
    x = np.asarray(values)
    outside = int(((x < bounds[0]) | (x > bounds[1])).sum())
    if outside:
        with pytest.raises(OutOfBounds) as err:
            laplace(values, bounds, 1.0, column="age", rng=np.random.default_rng(0))
        assert err.value.count == outside and err.value.column == "age"
        lo, hi = float(bounds[0]), float(bounds[1])
        # names the column, the bounds and the count, never a raw value (the hub may show it)
        assert str(err.value) == (f"column 'age': {outside} value(s) outside the declared bounds [{lo}, {hi}]; "
                                  "widen the bounds in the offer or pass clamp=True")
        assert not bounds[0] <= err.value.example <= bounds[1]  # kept for local debugging only
    else:
        out, params = laplace(values, bounds, 1.0, rng=np.random.default_rng(0))
        assert params["clamped"] is False and out.shape == x.shape


def test_nan_is_refused_even_with_clamp():
    with pytest.raises(OutOfBounds, match="NaN"):
        laplace([1.0, float("nan")], (0, 2), 1.0, clamp=True, rng=np.random.default_rng(0))


def test_clamped_release_says_so_in_its_parameters():
    _, params = laplace([-5.0, 50.0, 500.0], (0, 100), 1.0, clamp=True, rng=np.random.default_rng(0))
    assert params["clamped"] is True
    assert params["sensitivity"] == 100.0 and params["scale"] == 100.0 and params["bounds"] == [0.0, 100.0]


def test_integer_column_refuses_fractions():
    with pytest.raises(ValueError, match="fractional"):
        discrete_laplace([1.5], (0, 10), 1.0, rng=np.random.default_rng(0))


@settings(max_examples=30)
@given(st.floats(0.01, 20), st.floats(1e-3, 1e4), st.booleans())
def test_opendp_laplace_calibration_never_exceeds_epsilon(eps, width, integer):
    sens = max(1, round(width)) if integer else width
    meas, scale = laplace_measurement(sens / eps, sens, eps, integer)
    assert meas.map(sens) <= eps
    assert scale == pytest.approx(sens / eps, rel=1e-12)


def _max_log_ratio_lower_bound(a, b, edges):
    ca, _ = np.histogram(a, edges)
    cb, _ = np.histogram(b, edges)
    n = len(a)
    best = -math.inf
    for x, y in zip(ca, cb):
        if x < 50 or y < 50:
            continue
        lr = math.log(x / y)
        se = math.sqrt(1 / x - 1 / n + 1 / y - 1 / n)
        best = max(best, abs(lr) - Z_PRIV * se)
    return best


@pytest.mark.parametrize("eps", [0.5, 1.0, 2.0])
def test_empirical_privacy_laplace_bin_frequencies_within_e_eps(eps):
    rng = np.random.default_rng(21)
    runs, bounds = 300_000, (0.0, 1.0)
    a, _ = laplace(np.zeros(runs), bounds, eps, rng=rng)   # neighbours: the two extreme values
    b, _ = laplace(np.ones(runs), bounds, eps, rng=rng)
    edges = np.linspace(-4 / eps, 1 + 4 / eps, 60)
    assert _max_log_ratio_lower_bound(a, b, edges) <= eps
    # in the tails the ratio is exactly e^eps: the whole epsilon is spent
    tail = np.array([-np.inf, -1 / eps, 0.0])
    ca, _ = np.histogram(a, tail)
    cb, _ = np.histogram(b, tail)
    assert abs(math.log(ca[0] / cb[0]) - eps) <= Z_PRIV * math.sqrt(1 / ca[0] + 1 / cb[0])


def test_empirical_privacy_check_catches_laplace_with_too_little_noise():
    rng = np.random.default_rng(22)
    runs, eps = 300_000, 1.0
    a, _ = laplace(np.zeros(runs), (0, 1), 1.5 * eps, rng=rng)
    b, _ = laplace(np.ones(runs), (0, 1), 1.5 * eps, rng=rng)
    assert _max_log_ratio_lower_bound(a, b, np.linspace(-4, 5, 60)) > eps


def test_empirical_privacy_opendp_discrete_laplace_point_masses():
    runs, eps = 40_000, 1.0
    a, params = discrete_laplace(np.zeros(runs, dtype=int), (0, 2), eps)
    b, _ = discrete_laplace(np.full(runs, 2), (0, 2), eps)
    assert params["sampler"] == "opendp"
    edges = np.arange(-12, 15) - 0.5
    assert _max_log_ratio_lower_bound(a, b, edges) <= eps


def test_empirical_privacy_opendp_float_laplace_bin_frequencies():
    runs, eps = 20_000, 1.0
    a, params = laplace(np.zeros(runs), (0.0, 1.0), eps)
    b, _ = laplace(np.ones(runs), (0.0, 1.0), eps)
    assert params["sampler"] == "opendp"
    assert _max_log_ratio_lower_bound(a, b, np.linspace(-4, 5, 19)) <= eps


@pytest.mark.parametrize("kind", ["laplace", "discrete-laplace"])
def test_mean_is_unbiased_and_variance_closed_form_over_seeded_releases(kind):
    rng = np.random.default_rng(31)
    n, reps, eps = 2000, 300, 1.0
    mech = laplace if kind == "laplace" else discrete_laplace
    x = rng.integers(0, 11, n)
    ests = []
    for _ in range(reps):
        out, params = mech(x, (0, 10), eps, rng=rng)
        ests.append(mean_from_noisy(out, scale=params["scale"], noise=kind))
    values = np.array([e.value for e in ests])
    var = ests[0].variance
    assert abs(values.mean() - x.mean()) <= 5 * math.sqrt(var / reps)
    assert np.var(values, ddof=1) / var == pytest.approx(1.0, abs=5 * math.sqrt(2 / reps))


def test_discrete_laplace_variance_formula_matches_samples():
    rng = np.random.default_rng(4)
    out, params = discrete_laplace(np.zeros(200_000, dtype=int), (0, 3), 1.0, rng=rng)
    theory = discrete_laplace_variance(params["scale"])
    assert np.var(out) / theory == pytest.approx(1.0, abs=5 * math.sqrt(2 / out.size) * 3)


def test_opendp_laplace_mean_within_its_confidence_tolerance(within):
    x = np.random.default_rng(9).uniform(0, 10, 5000)
    out, params = laplace(x, (0, 10), 2.0)
    assert params["sampler"] == "opendp"
    assert within(mean_from_noisy(out, scale=params["scale"]), x.mean())


def test_clamped_mean_estimates_the_clamped_data_not_the_raw_data(within):
    rng = np.random.default_rng(10)
    x = rng.normal(5, 5, 20000)          # part of it outside [0, 10]
    out, params = laplace(x, (0, 10), 4.0, clamp=True, rng=rng)
    est = mean_from_noisy(out, scale=params["scale"])
    assert within(est, np.clip(x, 0, 10).mean())


# --- the sized (coarser-lattice) OpenDP path: one call a column, same calibration -----------

sizes = st.integers(1, 10**7)


@settings(max_examples=40)
@given(st.floats(1e-300, 1e300), sizes)
def test_laplace_granularity_rounding_charge_fits_the_headroom_within_a_factor_four(sens, size):
    k = laplace_granularity(sens, size)
    if k == -1074:  # clamped to OpenDP's default (finest) lattice: the old path, nothing coarser fits
        assert size * 2.0 ** -1073 > sens * 2.0 ** -60
        return
    assert size * 2.0 ** k <= sens * 2.0 ** -60
    assert size * 2.0 ** (k + 2) > sens * 2.0 ** -60  # within one binade of the coarsest


@settings(max_examples=40)
@given(st.floats(0.01, 20), st.floats(1e-3, 1e6), sizes)
def test_sized_opendp_laplace_map_never_exceeds_epsilon_and_spends_it(eps, width, size):
    meas, scale = laplace_measurement(width / eps, width, eps, False, size)
    assert meas.map(width) <= eps                        # OpenDP's own map, rounding charge included
    assert meas.map(width) == pytest.approx(eps, rel=1e-12)  # and the whole share is spent
    assert scale == pytest.approx(width / eps, rel=1e-12)    # within ulps of sensitivity / epsilon


def test_laplace_granularity_refuses_nonpositive_inputs():
    with pytest.raises(ValueError, match=r"sensitivity \(0.0\) must be finite and positive"):
        laplace_granularity(0.0, 10)
    with pytest.raises(ValueError, match=r"size \(0\) must be at least 1"):
        laplace_granularity(1.0, 0)


def _noise_variance_ratio(noise: np.ndarray, scale: float) -> float:
    return float(np.mean(noise ** 2) / (2.0 * scale ** 2))


# Laplace noise has kurtosis 6, so the sample second moment of n draws has relative standard
# error sqrt(5 / n): 1.0% at n = 50,000, and the 5% tolerance is five standard errors
VAR_DRAWS, VAR_TOL = 50_000, 0.05


def test_opendp_laplace_noise_has_variance_two_scale_squared():
    x = np.random.default_rng(5).uniform(0.0, 3.0, VAR_DRAWS)   # off-lattice values: rounding exercised
    out, params = laplace(x, (0.0, 3.0), 1.5)
    assert params["sampler"] == "opendp" and params["scale"] == pytest.approx(2.0, rel=1e-12)
    noise = out - x
    assert _noise_variance_ratio(noise, params["scale"]) == pytest.approx(1.0, abs=VAR_TOL)
    assert abs(noise.mean()) <= 5 * math.sqrt(2.0 / VAR_DRAWS) * params["scale"]
    # the same check refuses a scale 10% off: the tolerance can tell the scales apart
    assert abs(_noise_variance_ratio(noise, 1.1 * params["scale"]) - 1.0) > VAR_TOL


def test_sized_and_default_lattice_opendp_laplace_agree_in_distribution():
    from scipy.stats import ks_2samp
    n, sens, eps = 20_000, 1.0, 0.5
    sized, _ = laplace_measurement(sens / eps, sens, eps, False, n)
    exact, _ = laplace_measurement(sens / eps, sens, eps, False)
    a = np.asarray(sized(np.zeros(n)))
    b = np.asarray(exact(np.zeros(n).tolist()))
    assert ks_2samp(a, b).pvalue > 1e-6
