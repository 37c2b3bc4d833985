"""Offers: terms round trip, milli-epsilon, and the expected-error helper against simulation."""

import math
import re

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from privacy import (EXACT, Column, InvalidEpsilon, InvalidRowCount, InvalidTermsRelease, Offer, PrivacyError,
                     PrivacyLedger, UnknownMechanism, draw_release, estimate_mean, estimate_proportion, expected_error,
                     format_epsilon, parse_epsilon, to_milli)


def test_terms_release_round_trips():
    o = Offer(price_rule={"kind": "linear"}, epsilon=0.75, bounds={"age": (0, 120)}, split={"age": 1, "y": 2},
              clamp=True)
    t = o.terms_release()
    assert t == {"epsilon": "0.75", "mechanism": {"name": "ml-laplace-rr", "bounds": {"age": ["0", "120"]}, "clamp": True,
                                                  "split": {"age": "1", "y": "2"}, "neighbouring": "replace-one"}}
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


# ---- the terms' string form ----------------------------------------------------------------

def _numbers_in(value, path=""):
    """Paths of every JSON number (bool aside) under ``value``: the protocol allows none in a release."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return []
    if isinstance(value, (int, float)):
        return [path]
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _numbers_in(v, f"{path}.{k}")]
    return [p for i, v in enumerate(value) for p in _numbers_in(v, f"{path}[{i}]")]


epsilons = st.floats(min_value=1e-3, max_value=4e6, allow_nan=False) | st.integers(1, 4_000_000)
reals = st.floats(-1e6, 1e6, allow_nan=False) | st.integers(-10**6, 10**6)
offers = st.builds(
    lambda eps, mech, bounds, split, clamp, cms: Offer(
        price_rule={"method": "fixed", "price": "5"}, epsilon=eps, mechanism=mech, bounds=bounds,
        split=split, clamp=clamp, cms=cms if mech == "table" else None),
    epsilons, st.sampled_from(["ml-laplace-rr", "table"]),
    st.dictionaries(st.text(min_size=1, max_size=6), st.tuples(reals, reals), max_size=3),
    st.none() | st.dictionaries(st.text(min_size=1, max_size=6), st.floats(1e-3, 1e3) | st.integers(1, 100), max_size=3),
    st.booleans(),
    st.none() | st.fixed_dictionaries({"depth": st.integers(1, 64), "width": st.integers(2, 4096)}),
)


@given(offers)
def test_terms_release_holds_no_json_number_and_reads_back_to_the_same_offer(offer):
    t = offer.terms_release()
    assert _numbers_in(t) == []
    back = Offer.from_terms_release(t, price_rule=offer.price_rule)
    assert back == offer and back.epsilon_milli == offer.epsilon_milli
    assert back.terms_release() == t  # a fixed point: the strings do not drift


@pytest.mark.parametrize("eps, text", [(0.25, "0.25"), (1.0, "1"), (1, "1"), (1e-05, "0.00001"), (0.1, "0.1"),
                                       (123456.5, "123456.5"), ("exact", "exact"), (0.5, "0.5")])
def test_epsilon_is_written_as_its_shortest_plain_decimal(eps, text):
    assert format_epsilon(eps) == text
    assert parse_epsilon(text) == (eps if eps == "exact" else float(eps))
    if eps != "exact":
        padded = text + ("000" if "." in text else ".000")  # trailing zeros: the same decimal
        assert parse_epsilon(padded) == float(eps) and format_epsilon(parse_epsilon(padded)) == text


def test_an_exact_offer_round_trips_through_its_exact_release():
    o = Offer(price_rule={}, epsilon="exact", mechanism="exact")
    assert o.terms_release() == {"epsilon": "exact", "mechanism": {"name": "exact"}}
    assert Offer.from_terms_release(o.terms_release(), price_rule={}) == o


def test_an_offer_takes_the_string_epsilon_as_its_float():
    assert Offer(price_rule={}, epsilon="0.25") == Offer(price_rule={}, epsilon=0.25)
    assert Offer(price_rule={}, epsilon="0.0011").epsilon_milli == 2


@pytest.mark.parametrize("eps, match", [
    ("1e-3", r"epsilon \('1e-3'\) must be a decimal string such as \"1\""),
    ("0", r"epsilon \('0'\) is zero"),
    (" 1", "must be a decimal string"),
    ("0.30000000000000001", r"has more digits than a float64 epsilon keeps; write '0.3'"),
    ("4294967.295", "more than a uint32 ledger holds"),
])
def test_a_bad_epsilon_string_is_refused_naming_it(eps, match):
    release = {"epsilon": eps, "mechanism": {"name": "ml-laplace-rr"}}
    with pytest.raises(InvalidEpsilon, match=match) as err:
        Offer.from_terms_release(release, price_rule={})
    assert isinstance(err.value, ValueError) and eps.strip() in str(err.value)


@pytest.mark.parametrize("mech, field, match", [
    ({"name": "ml-laplace-rr", "noise": "gauss"}, "mechanism", r"\['noise'\]\) are fields an offer does not write"),
    ({"name": "ml-laplace-rr", "clamp": "false"}, "mechanism.clamp", "must be a JSON boolean"),
    ({"name": "ml-laplace-rr", "bounds": {"age": ["0", "1e"]}}, "mechanism.bounds.age", "must be a decimal string"),
    ({"name": "ml-laplace-rr", "bounds": {"age": ["0"]}}, "mechanism.bounds.age", r"must be \[lower, upper\]"),
    ({"name": "ml-laplace-rr", "split": {"age": "one"}}, "mechanism.split.age", "must be a decimal string"),
    ({"name": "ml-laplace-rr", "split": 3}, "mechanism.split", '"equal", or per-column weights'),
    ({"name": "table", "cms": {"depth": "0", "width": "8"}}, "mechanism.cms.depth", "must be a positive integer"),
    ({"name": "table", "cms": {"depth": "2.5", "width": "8"}}, "mechanism.cms.depth", "must be a positive integer"),
    ({"name": "table", "cms": {"depth": "2", "height": "8"}}, "mechanism.cms", "are fields an offer does not write"),
    ({"name": "ml-laplace-rr", "neighbouring": "add-remove"}, "mechanism.neighbouring", "must be 'replace-one'"),
    ({"name": 3}, "mechanism.name", "must name a mechanism"),
    ({"name": "exact", "bounds": {}}, "mechanism", "are fields an offer does not write"),
])
def test_a_release_an_offer_could_not_have_written_is_refused_naming_the_field(mech, field, match):
    eps = "exact" if mech.get("name") == "exact" else "1"
    with pytest.raises(InvalidTermsRelease, match=rf"release\.{re.escape(field)} \(.*{match}") as err:
        Offer.from_terms_release({"epsilon": eps, "mechanism": mech}, price_rule={})
    assert err.value.field == field and isinstance(err.value, ValueError) and isinstance(err.value, PrivacyError)


def test_an_older_release_with_json_numbers_still_reads():
    old = {"epsilon": 0.75, "mechanism": {"name": "table", "bounds": {"x": [0, 1.5]}, "clamp": False, "split": "equal",
                                          "neighbouring": "replace-one", "cms": {"depth": 4, "width": 64}}}
    o = Offer.from_terms_release(old, price_rule={})
    assert o.epsilon == 0.75 and o.bounds == {"x": (0, 1.5)} and o.cms == {"depth": 4, "width": 64}
    assert to_milli(o.epsilon) == 750
