"""Influence (Koh & Liang 2017) on ridge regression, where it has a closed form."""

from __future__ import annotations

import numpy as np

from pricing import parse_spec
from pricing.methods import get_method
from pricing.numerics import linear_head


def _val_loss(p, theta):
    return float(np.mean(0.5 * (linear_head.add_bias(p["x_val"]) @ theta - p["y_val"]) ** 2))


def test_influence_equals_derivative_of_retrained_validation_loss(ridge_problem, ridge_spec, ridge_fit):
    """Score of z = -(d/d eps) L_val(theta(eps)) / n where z is added with weight eps (closed form)."""
    p = ridge_problem
    spec = parse_spec(ridge_spec("influence"))
    eff = get_method("influence").efficacy(spec, p["x_new"], p["y_new"])
    phi = linear_head.add_bias(np.concatenate([p["x_train"], p["x_new"][:1]]))
    y = np.concatenate([p["y_train"], p["y_new"][:1]])
    n = p["x_train"].shape[0]
    eps = 1e-6
    base = ridge_fit(phi, y, np.r_[np.ones(n), 0.0], p["l2"], n)
    bumped = ridge_fit(phi, y, np.r_[np.ones(n), eps], p["l2"], n)
    derivative = (_val_loss(p, base) - _val_loss(p, bumped)) / eps
    assert np.isclose(eff.scores[0], derivative, rtol=1e-4)


def test_influence_predicts_leave_one_in_retraining(ridge_problem, ridge_spec, ridge_fit):
    p = ridge_problem
    spec = parse_spec(ridge_spec("influence"))
    scores = get_method("influence").efficacy(spec, p["x_new"], p["y_new"]).scores
    n = p["x_train"].shape[0]
    base = ridge_fit(linear_head.add_bias(p["x_train"]), p["y_train"], np.ones(n), p["l2"], n)
    actual = []
    for i in range(len(p["y_new"])):
        phi = linear_head.add_bias(np.concatenate([p["x_train"], p["x_new"][i:i + 1]]))
        theta = ridge_fit(phi, np.r_[p["y_train"], p["y_new"][i]], np.ones(n + 1), p["l2"], n)
        actual.append(_val_loss(p, base) - _val_loss(p, theta))
    actual = np.array(actual)
    assert np.corrcoef(scores, actual)[0, 1] > 0.95
    assert np.all(np.sign(scores) == np.sign(actual))
    assert np.allclose(scores, actual, rtol=0.5)  # first order: off by O(1/n) for high-leverage records


def test_influence_adds_duplicates_linearly(ridge_problem, ridge_spec):
    p = ridge_problem
    spec = parse_spec(ridge_spec("influence"))
    one = get_method("influence").efficacy(spec, p["x_new"][:2], p["y_new"][:2]).total
    ten = get_method("influence").efficacy(spec, np.tile(p["x_new"][:2], (10, 1)), np.tile(p["y_new"][:2], 10)).total
    assert np.isclose(ten, 10 * one)


def test_influence_total_is_sum_of_scores(ridge_problem, ridge_spec):
    p = ridge_problem
    eff = get_method("influence").efficacy(parse_spec(ridge_spec("influence")), p["x_new"], p["y_new"])
    assert np.isclose(eff.total, eff.scores.sum())


# --- which releases influence may price (issue 29): measured to sell noise dearest on DP releases

import pytest  # noqa: E402
from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from pricing import METHODS, method_fits_release  # noqa: E402
from pricing.release_fit import DP_MECHANISMS, FAILS_ON_DP, FITS_DP_WITH, RECORDLESS_MECHANISMS  # noqa: E402


RECORD_MECHANISMS = [m for m in DP_MECHANISMS if m not in RECORDLESS_MECHANISMS]


@pytest.mark.parametrize("mechanism", RECORD_MECHANISMS)
def test_influence_is_refused_for_dp_releases_with_the_measured_reason(mechanism):
    ok, reason = method_fits_release("influence", mechanism)
    assert not ok
    assert "influence" in reason and mechanism in reason and "rho" in reason


@pytest.mark.parametrize("mechanism", RECORD_MECHANISMS)
@pytest.mark.parametrize("method", ["feature-newton", "group-influence"])
def test_the_methods_that_priced_dp_releases_well_are_offered_for_them(method, mechanism):
    ok, reason = method_fits_release(method, mechanism)
    assert ok and method in reason


@pytest.mark.parametrize("method", sorted(METHODS))
def test_no_method_is_offered_for_a_release_without_records(method):
    """A table release holds noisy columns, no features and label: `read_release` refuses to price
    it, so no method may be paired with it (every deal would be declined)."""
    for mechanism in RECORDLESS_MECHANISMS:
        ok, reason = method_fits_release(method, mechanism, {"support": 1.0})
        assert not ok and "no MDE method prices it" in reason and method in reason


def test_network_newton_fits_dp_releases_only_with_its_support_filter():
    """Without hyper.support the refusal quotes the scaler measurement and names the fix; with it the
    spec passes on a measurement; an offer (no spec yet) passes and its spec is asked again."""
    defaults = METHODS["network-newton"].defaults
    ok, reason = method_fits_release("network-newton", "ml-laplace-rr", defaults)
    assert not ok and "scaler" in reason and "priced 0" in reason and "hyper.support > 0" in reason
    ok, reason = method_fits_release("network-newton", "ml-laplace-rr", {**defaults, "support": 1.0})
    assert ok and "support" in reason and "rho" in reason
    ok, reason = method_fits_release("network-newton", "ml-laplace-rr")
    assert ok and "checked when terms name it" in reason


@given(st.sampled_from(sorted(METHODS)))
def test_every_method_may_price_an_exact_release(method):
    assert method_fits_release(method, "exact")[0]


@given(st.sampled_from(sorted(METHODS)), st.sampled_from(RECORD_MECHANISMS))
def test_a_refusal_always_names_the_method_and_why(method, mechanism):
    ok, reason = method_fits_release(method, mechanism)
    assert isinstance(reason, str) and method in reason
    assert ok == ((method not in FAILS_ON_DP or method in FITS_DP_WITH) and "never measured" not in reason)


@given(st.sampled_from(sorted(METHODS)), st.sampled_from(RECORD_MECHANISMS), st.floats(0.0, 10.0))
def test_an_offer_passes_exactly_when_some_spec_of_its_method_would(method, mechanism, setting):
    """hyper=None (the offer, before any spec) is the union over specs: a spec never passes where its
    offer is refused, and a method of FITS_DP_WITH passes with its setting above 0 only."""
    spec_hyper = dict(METHODS[method].defaults)
    if method in FITS_DP_WITH:
        spec_hyper[FITS_DP_WITH[method][0]] = setting
    offer_ok = method_fits_release(method, mechanism)[0]
    spec_ok = method_fits_release(method, mechanism, spec_hyper)[0]
    assert spec_ok <= offer_ok
    if method in FITS_DP_WITH:
        assert offer_ok and spec_ok == (setting > 0)
    else:
        assert spec_ok == offer_ok


@pytest.mark.parametrize("method, mechanism, word", [("nope", "exact", "unknown pricing method"),
                                                     ("influence", "gaussian", "unknown release mechanism")])
def test_unknown_names_are_refused(method, mechanism, word):
    ok, reason = method_fits_release(method, mechanism)
    assert not ok and word in reason
