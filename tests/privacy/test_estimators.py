"""Estimate, inverse-variance combination across owners at mixed epsilons, confidence intervals."""

import math
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from privacy import (Estimate, PrivacyError, UnknownCategory, combine, estimate_proportion, histogram_from_reports,
                     mean_from_noisy, proportion_from_reports, release_table)
from privacy.errors import (CategoryRequired, InvalidAlpha, InvalidProbability, NoEstimates, NoRecords, NotACategory,
                            UnknownNoise, UnknownTarget)
from privacy.estimators import NOISES
from privacy.mechanisms import laplace, randomized_response_bool, rr_prob

est_st = st.builds(Estimate, st.floats(-1e3, 1e3), st.floats(1e-6, 1e3))


@given(st.lists(est_st, min_size=1, max_size=10))
def test_combined_variance_is_below_every_part_and_value_between_them(ests):
    c = combine(ests)
    assert c.variance <= min(e.variance for e in ests) * (1 + 1e-9)
    assert min(e.value for e in ests) - 1e-6 <= c.value <= max(e.value for e in ests) + 1e-6
    assert c.variance == pytest.approx(1 / sum(1 / e.variance for e in ests))


@given(st.lists(st.floats(-10, 10), min_size=1, max_size=10), st.floats(1e-3, 10))
def test_equal_variances_combine_to_the_plain_mean(values, var):
    c = combine([Estimate(v, var) for v in values])
    assert c.value == pytest.approx(np.mean(values), abs=1e-9)
    assert c.variance == pytest.approx(var / len(values))


def test_an_exact_estimate_dominates():
    assert combine([Estimate(1.0, 0.0), Estimate(5.0, 1.0)]) == Estimate(1.0, 0.0)


@given(est_st, st.floats(0.001, 0.5))
def test_ci_is_symmetric_and_narrows_with_alpha(e, alpha):
    lo, hi = e.ci(alpha)
    assert lo <= e.value <= hi and (hi - e.value) == pytest.approx(e.value - lo)
    lo2, hi2 = e.ci(min(alpha * 2, 0.99))
    assert hi2 - lo2 <= hi - lo + 1e-12


def test_ci_rejects_alpha_outside_0_1():
    with pytest.raises(ValueError, match="alpha"):
        Estimate(0.0, 1.0).ci(1.5)


def test_many_owners_at_mixed_epsilons_combine_unbiased_with_inverse_variance():
    rng = np.random.default_rng(50)
    epsilons, n, reps, rate = (0.5, 1.0, 2.0, 4.0), 2000, 300, 0.3
    pooled, singles = [], []
    for _ in range(reps):
        ests = []
        for eps in epsilons:   # each owner: its own sample of the population, its own epsilon
            x = rng.random(n) < rate
            ests.append(proportion_from_reports(randomized_response_bool(x, eps, rng=rng)[0], prob=rr_prob(eps),
                                                target="population"))
        pooled.append(combine(ests))
        singles.append(ests[0])
    values = np.array([e.value for e in pooled])
    var = np.mean([e.variance for e in pooled])
    assert abs(values.mean() - rate) <= 5 * math.sqrt(var / reps)
    assert np.var(values, ddof=1) / var == pytest.approx(1.0, abs=5 * math.sqrt(2 / reps))
    # pooling beats the noisiest owner alone by a wide margin
    assert var < 0.2 * np.mean([e.variance for e in singles])


def test_mean_combination_across_owners_is_unbiased():
    rng = np.random.default_rng(51)
    reps, pooled = 300, []
    for _ in range(reps):
        ests = []
        for eps, n in ((0.5, 1000), (2.0, 3000)):
            x = rng.uniform(0, 10, n)
            out, p = laplace(x, (0, 10), eps, rng=rng)
            ests.append(mean_from_noisy(out, scale=p["scale"], target="population"))
        pooled.append(combine(ests))
    values = np.array([e.value for e in pooled])
    var = np.mean([e.variance for e in pooled])
    assert abs(values.mean() - 5.0) <= 5 * math.sqrt(var / reps)


def test_population_target_adds_sampling_variance():
    reports = np.array([1, 0, 1, 1, 0, 0, 0, 1, 0, 0] * 100)
    p = rr_prob(1.0)
    assert (proportion_from_reports(reports, prob=p, target="population").variance
            > proportion_from_reports(reports, prob=p, target="dataset").variance)
    with pytest.raises(ValueError, match="target"):
        proportion_from_reports(reports, prob=p, target="world")


# ---- bad arguments: named errors (ValueErrors too) whose messages name the value and the fix ----

@pytest.mark.parametrize("alpha", [0, 1, 1.5, -0.1, float("nan"), True, "0.05", None])
def test_ci_refuses_alpha_outside_0_1_naming_it(alpha):
    with pytest.raises(InvalidAlpha, match=rf"alpha \({re.escape(repr(alpha))}\) must be a number in \(0, 1\).*alpha=0.05") as err:
        Estimate(0.0, 1.0).ci(alpha)
    assert err.value.alpha is alpha and isinstance(err.value, ValueError) and isinstance(err.value, PrivacyError)


@pytest.mark.parametrize("call", [
    lambda t: proportion_from_reports([0, 1, 1], prob=0.75, target=t),
    lambda t: histogram_from_reports([0, 2, 1], prob=0.6, k=3, target=t),
    lambda t: mean_from_noisy([1.0, 2.0], scale=1.0, target=t),
])
@pytest.mark.parametrize("target", ["world", "Dataset", None])
def test_estimators_refuse_an_unknown_target_naming_it(call, target):
    with pytest.raises(UnknownTarget, match=rf"target \({re.escape(repr(target))}\) must be one of \('dataset', "
                                            r"'population'\): 'dataset' estimates") as err:
        call(target)
    assert err.value.target == target and isinstance(err.value, ValueError)


@pytest.mark.parametrize("target", ["dataset", "population"])
def test_mean_from_noisy_refuses_an_unknown_noise_whatever_the_target(target):
    with pytest.raises(UnknownNoise, match=r"noise \('gaussian'\) must be one of \('laplace', 'discrete-laplace', "
                                           r"'none'\): name the mechanism") as err:
        mean_from_noisy([1.0, 2.0], scale=1.0, noise="gaussian", target=target)
    assert isinstance(err.value, ValueError) and err.value.noises == NOISES


def test_empty_inputs_and_an_uninvertible_prob_are_named():
    with pytest.raises(NoRecords, match=r"no reports \(0 given\): an estimate needs at least one released record"):
        proportion_from_reports([], prob=0.75)
    with pytest.raises(NoRecords, match=r"no values \(0 given\)"):
        mean_from_noisy([], scale=1.0)
    with pytest.raises(NoEstimates, match=r"combine\(\) got no estimates \(0\); pass at least one Estimate"):
        combine([])
    with pytest.raises(InvalidProbability, match=r"prob \(0.25\) must exceed \(1 - prob\)/\(k - 1\) = 0.75 for k=2: "
                                                 "randomized response keeps") as err:
        proportion_from_reports([0, 1], prob=0.25)
    assert all(issubclass(c, ValueError) and issubclass(c, PrivacyError)
               for c in (NoRecords, NoEstimates, InvalidProbability))


@pytest.fixture
def city_release(table_schema, table_data):
    rng = np.random.default_rng(7)
    return release_table(table_data(rng, 200), table_schema, 2.0, rng=rng)


def test_a_categorical_proportion_needs_its_category_named(city_release):
    with pytest.raises(CategoryRequired, match=r"column 'city' is categorical: pass category=, one of "
                                               r"\['oslo', 'lima', 'pune'\]") as err:
        estimate_proportion(city_release, "city")
    assert err.value.column == "city" and err.value.categories == ("oslo", "lima", "pune")
    assert isinstance(err.value, ValueError)
    assert math.isfinite(estimate_proportion(city_release, "city", category="lima").value)  # named, it estimates


@pytest.mark.parametrize("column, category, cats", [("city", "paris", "['oslo', 'lima', 'pune']"),
                                                    ("smoker", 2, "[False, True]")])
def test_a_category_not_in_the_column_is_named_with_the_choices(city_release, column, category, cats):
    with pytest.raises(NotACategory, match=rf"category \({category!r}\) is not among column {column!r}'s categories "
                                           rf"{re.escape(cats)}; pass one of them") as err:
        estimate_proportion(city_release, column, category=category)
    assert err.value.category == category and isinstance(err.value, ValueError)
    assert not isinstance(err.value, UnknownCategory)  # that one is about the data, this about the buyer's argument
