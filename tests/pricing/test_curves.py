"""Price curves: integers in [0, maxPrice], monotone in efficacy, each rule as documented."""

from __future__ import annotations

import math
import re
from fractions import Fraction

import pytest
from hypothesis import given, strategies as st

from pricing import CurveError, TermsError, UnknownCurve, apply_curve, parse_max_price

efficacies = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)
prices = st.integers(min_value=0, max_value=2**256 - 1)
curves = st.one_of(
    st.builds(lambda s: {"kind": "linear", "slope": str(s)}, st.integers(0, 10**30)),
    st.builds(lambda s, c: {"kind": "linear", "slope": str(s), "cap": str(c)}, st.integers(0, 10**30), st.integers(0, 10**30)),
    st.builds(lambda s, e0: {"kind": "log", "scale": str(s), "e0": e0}, st.integers(0, 10**30),
              st.floats(min_value=1e-9, max_value=1e9)),
    st.builds(lambda p, t: {"kind": "step", "price": str(p), "threshold": t}, st.integers(0, 10**30),
              st.floats(min_value=0, max_value=10)),
)


@given(curve=curves, a=efficacies, b=efficacies, max_price=prices)
def test_curve_is_monotone_and_never_above_max_price(curve, a, b, max_price):
    lo, hi = sorted((a, b))
    p_lo, p_hi = apply_curve(curve, lo, max_price), apply_curve(curve, hi, max_price)
    assert isinstance(p_lo, int) and isinstance(p_hi, int)
    assert 0 <= p_lo <= p_hi <= max_price


@given(curve=curves, e=st.floats(max_value=0.0, allow_nan=False), max_price=prices)
def test_curve_without_positive_efficacy_is_no_deal(curve, e, max_price):
    assert apply_curve(curve, e, max_price) == 0


@given(slope=st.integers(1, 10**24), e=st.floats(min_value=1e-6, max_value=1e3))
def test_linear_curve_is_floor_of_slope_times_efficacy(slope, e):
    from fractions import Fraction
    import math

    assert apply_curve({"kind": "linear", "slope": str(slope)}, e, 2**256 - 1) == math.floor(slope * Fraction(e))


def test_linear_curve_caps_at_cap_and_max_price():
    c = {"kind": "linear", "slope": "1000", "cap": "500"}
    assert apply_curve(c, 0.25, 10**6) == 250
    assert apply_curve(c, 3.0, 10**6) == 500
    assert apply_curve(c, 3.0, 400) == 400


def test_linear_curve_accepts_decimal_strings_exactly():
    assert apply_curve({"kind": "linear", "slope": "2.5e18"}, 0.5, 2**256 - 1) == 1_250_000_000_000_000_000


def test_log_curve_is_concave():
    c = {"kind": "log", "scale": str(10**12), "e0": 0.1}
    p1, p2, p3 = (apply_curve(c, e, 2**256 - 1) for e in (0.1, 0.2, 0.3))
    assert p2 - p1 > p3 - p2 > 0


def test_step_curve_is_the_binary_rule():
    c = {"kind": "step", "price": "700"}
    assert apply_curve(c, 1e-12, 1000) == 700
    assert apply_curve(c, 0.0, 1000) == 0
    assert apply_curve(c, -3.0, 1000) == 0
    assert apply_curve(c, 5.0, 600) == 600


def test_unknown_curve_is_named():
    with pytest.raises(UnknownCurve, match="'sigmoid'.*linear"):
        apply_curve({"kind": "sigmoid"}, 1.0, 10)


@pytest.mark.parametrize("curve, match", [
    ({"kind": "linear", "slope": "-1"}, "slope.*>= 0"),
    ({"kind": "linear", "slope": 1.5}, "slope.*int or a decimal string"),
    ({"kind": "linear", "slope": "abc"}, "not a decimal"),
    ({"kind": "log", "scale": "1", "e0": 0}, "e0"),
    ({"kind": "step", "price": "1", "threshold": -1}, "threshold"),
    ({"kind": "linear", "slope": "1", "gain": 2}, "gain"),
])
def test_curve_rejects_bad_parameters(curve, match):
    with pytest.raises(CurveError, match=match):
        apply_curve(curve, 1.0, 10)


@pytest.mark.parametrize("value", ["-1", "1.5", "01", 10, "", str(2**256)])
def test_max_price_must_be_a_uint256_decimal_string(value):
    with pytest.raises(TermsError, match="maxPrice"):
        parse_max_price(value)


# ---------------------------------------------------------------- decimal strings (the terms' form)

levels = st.floats(min_value=1e-12, max_value=1e6, allow_nan=False, allow_infinity=False)


@given(e0=levels, threshold=st.floats(0, 1e3), scale=st.integers(0, 10**30), e=efficacies, max_price=prices)
def test_string_parameters_price_exactly_as_their_number_form(e0, threshold, scale, e, max_price):
    # a terms document writes every parameter as a string; the shortest repr is the number's JSON text
    as_numbers = [{"kind": "log", "scale": scale, "e0": e0}, {"kind": "step", "price": scale, "threshold": threshold},
                  {"kind": "linear", "slope": scale, "cap": scale // 3}]
    for curve in as_numbers:
        as_strings = {k: v if k == "kind" else repr(v) for k, v in curve.items()}
        assert all(isinstance(v, str) for v in as_strings.values())
        assert apply_curve(as_strings, e, max_price) == apply_curve(curve, e, max_price)


@pytest.mark.parametrize("text, value", [("0.1", 0.1), ("1e-3", 0.001), ("2.5E+2", 250.0), ("0", 0.0), ("7", 7.0)])
def test_threshold_string_is_the_nearest_float64_of_the_decimal(text, value):
    c = {"kind": "step", "price": "9", "threshold": text}
    above = math.nextafter(value, math.inf)
    assert apply_curve(c, value, 10) == 0  # not above the threshold: no deal
    assert apply_curve(c, above, 10) == 9


def test_money_strings_are_exact_decimals_not_floats():
    # 0.1 as a float is 0.1000000000000000055...; as a decimal string it is one tenth exactly
    c = {"kind": "linear", "slope": "0.1"}
    assert apply_curve(c, 1e30, 2**256 - 1) == math.floor(Fraction(1, 10) * Fraction(1e30))
    assert apply_curve({"kind": "log", "scale": "1e30", "e0": "1"}, 1.0, 2**256 - 1) == math.floor(10**30 * Fraction(math.log(2)))


@pytest.mark.parametrize("bad", ["1/3", " 1", "1 ", "+1", "1_000", "\u0661\u0662", ".5", "5.", "0x10", "1e", "nan", "inf", "",
                                 "01", "1e1001", "1e-1001"])
@pytest.mark.parametrize("kind, name", [("linear", "slope"), ("log", "e0"), ("step", "threshold"), ("step", "price")])
def test_a_string_outside_the_json_number_grammar_is_refused_naming_it(bad, kind, name):
    curve = {"linear": {"kind": "linear", "slope": "1"}, "log": {"kind": "log", "scale": "1"},
             "step": {"kind": "step", "price": "1"}}[kind]
    curve[name] = bad
    with pytest.raises(CurveError, match=rf"curve parameter {name} \({re.escape(repr(bad))}\) (is not a decimal|has an exponent)"):
        apply_curve(curve, 1.0, 10)


@pytest.mark.parametrize("curve, match", [
    ({"kind": "log", "scale": "1", "e0": "1e-400"}, r"e0 \('1e-400'\) must be a finite number > 0"),  # rounds to 0.0
    ({"kind": "log", "scale": "1", "e0": "-0.5"}, r"e0 \('-0.5'\) must be a finite number > 0"),
    ({"kind": "step", "price": "1", "threshold": "1e400"}, r"threshold \('1e400'\) must be a finite number >= 0"),
    ({"kind": "step", "price": "1", "threshold": 10**400}, r"threshold .* must be a finite number >= 0"),
    ({"kind": "step", "price": "1", "threshold": True}, r"threshold \(True\) must be a decimal string or a number"),
])
def test_level_parameters_must_be_finite_float64s(curve, match):
    with pytest.raises(CurveError, match=match):
        apply_curve(curve, 1.0, 10)
