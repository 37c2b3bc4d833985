"""Offers: terms round trip, milli-epsilon, and the expected-error helper against simulation."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from privacy import (EXACT, Column, InvalidRowCount, Offer, PrivacyError, PrivacyLedger, UnknownMechanism, draw_release,
                     estimate_mean, estimate_proportion, expected_error)


def test_terms_release_round_trips():
    o = Offer(price_rule={"kind": "linear"}, epsilon=0.75, bounds={"age": (0, 120)}, split={"age": 1, "y": 2},
              clamp=True)
    t = o.terms_release()
    assert t["epsilon"] == 0.75 and t["mechanism"]["name"] == "ml-laplace-rr"
    assert Offer.from_terms_release(t, price_rule=o.price_rule) == o


def test_exact_offer_needs_exact_mechanism_and_posts_EXACT():
    assert Offer(price_rule={}, epsilon="exact", mechanism="exact").epsilon_milli == EXACT
    with pytest.raises(UnknownMechanism, match="exact"):
        Offer(price_rule={}, epsilon="exact")
    with pytest.raises(UnknownMechanism, match="one of"):
        Offer(price_rule={}, epsilon=1.0, mechanism="gaussian")


def test_offer_bounds_override_the_dataset_schema(ml_schema, ml_data, rng):
    data = ml_data(rng, 50)
    offer = Offer(price_rule={}, epsilon=1.0, bounds={"age": (0, 50)}, clamp=True)
    r = draw_release(offer, ml_schema, data, ledger=PrivacyLedger(cap_milli=1000), rng=rng)
    assert r.mechanism["columns"]["age"]["bounds"] == [0.0, 50.0]
    assert r.mechanism["columns"]["age"]["clamped"] is True


@given(st.floats(0.05, 10), st.floats(0.05, 10), st.sampled_from(["float", "integer", "boolean", "string"]))
def test_expected_error_shrinks_as_epsilon_grows(e1, e2, kind):
    col = Column("c", kind, bounds=(0, 10) if kind in ("float", "integer") else None)
    lo, hi = sorted((e1, e2))
    assert expected_error(col, hi, rows=1000).aggregate_se <= expected_error(col, lo, rows=1000).aggregate_se


@pytest.mark.parametrize("eps", [0.5, 2.0])
def test_expected_error_matches_what_a_buyer_sees(ml_schema, eps):
    rng = np.random.default_rng(60)
    n, reps = 2000, 200
    X = np.column_stack([rng.uniform(0, 100, n), rng.integers(0, 11, n)])
    y = (rng.random(n) < 0.3).astype(int)
    offer = Offer(price_rule={}, epsilon=eps)
    promised = offer.expected_errors(ml_schema, rows=n)
    errs = {"age": [], "churn": []}
    for _ in range(reps):
        r = draw_release(offer, ml_schema, {"features": X, "label": y}, ledger=PrivacyLedger(cap_milli=EXACT),
                         rng=rng)
        errs["age"].append(estimate_mean(r, "age").value - X[:, 0].mean())
        errs["churn"].append(estimate_proportion(r, "churn", category=1).value - y.mean())
    tol = 5 * math.sqrt(1 / (2 * reps))  # relative sd of an rms over reps draws is ~1/sqrt(2 reps)
    assert np.sqrt(np.mean(np.square(errs["age"]))) / promised["age"].aggregate_se == pytest.approx(1, abs=tol)
    # for booleans the promise is data-independent: exact, not a worst case
    assert np.sqrt(np.mean(np.square(errs["churn"]))) / promised["churn"].aggregate_se == pytest.approx(1, abs=tol)
    assert "95%" in promised["age"].describe()


@pytest.mark.parametrize("rows", [0, -3, 2.5, True, "100"])
def test_expected_error_refuses_a_row_count_that_is_not_a_positive_integer(rows):
    with pytest.raises(InvalidRowCount, match=rf"rows \({rows!r}\) must be a positive integer: the number of records") as err:
        expected_error(Column("age", "float", bounds=(0, 100)), 1.0, rows=rows)
    assert err.value.rows == rows and isinstance(err.value, PrivacyError) and isinstance(err.value, ValueError)
