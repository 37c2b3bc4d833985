"""Price curves: efficacy (float) to price (int, the token's smallest unit), within maxPrice.

Money is exact: a float efficacy converts exactly to a `Fraction`, parameters are decimal
strings (a uint256 does not fit a JSON number), and the result is floored to an int in
[0, maxPrice]. Every curve is monotone non-decreasing in efficacy, and no positive
efficacy means price 0 ("no deal": the hub declines instead of quoting).

Every parameter may be a decimal string, the protocol's form inside terms (a JSON number
written as a string: ``"2.5e18"``, ``"0.1"``), parsed exactly with `Fraction`; Python
numbers are still accepted where they were (ints for money, ints or floats for ``e0`` and
``threshold``). Money parameters (``slope``, ``cap``, ``scale``, ``price``) stay exact
fractions. ``e0`` and ``threshold`` live on the efficacy's scale, which is a float64
(protocol.md: the price is computed in float64), so they are rounded once, correctly, to
the nearest float64 (what ``float("0.1")`` and JavaScript's ``Number("0.1")`` give):
``"0.1"`` and ``0.1`` price every efficacy the same.
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import Any, Callable, Mapping

from .errors import CurveError, TermsError, UnknownCurve

__all__ = ["CURVES", "apply_curve", "parse_amount", "parse_decimal", "parse_efficacy_level", "parse_max_price",
           "MAX_UINT256"]

MAX_UINT256 = 2**256 - 1
_UINT = re.compile(r"(0|[1-9][0-9]*)\Z")
# A JSON number written as a string; the exponent is bounded so a terms document cannot make
# the hub build a 10**(10**9) (a price has at most 78 digits: 1000 orders of magnitude is plenty).
_DECIMAL = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?\Z")
_MAX_EXPONENT = 1000


def parse_max_price(value: Any) -> int:
    """Parse a uint256 decimal string (docs/terms.md) such as terms["maxPrice"]."""
    if not isinstance(value, str) or not _UINT.match(value):
        raise TermsError(f"maxPrice ({value!r}) must be a decimal string of an unsigned integer, e.g. \"1000\"")
    out = int(value)
    if out > MAX_UINT256:
        raise TermsError(f"maxPrice ({value}) does not fit a uint256")
    return out


def parse_decimal(name: str, value: Any) -> Fraction:
    """The exact value of a curve parameter written as a decimal string, the JSON-number grammar
    (``"1000"``, ``"0.25"``, ``"2.5e18"``; no white space, sign ``+``, ``"1/3"`` or non-ASCII digits)."""
    if not isinstance(value, str) or not _DECIMAL.match(value):
        raise CurveError(f"curve parameter {name} ({value!r}) is not a decimal number: write a JSON number as a "
                         "string, e.g. \"1000\", \"0.25\" or \"2.5e18\"")
    exp = value.lower().partition("e")[2]
    if exp and abs(int(exp)) > _MAX_EXPONENT:
        raise CurveError(f"curve parameter {name} ({value!r}) has an exponent beyond +-{_MAX_EXPONENT}; "
                         "write the value with a smaller exponent")
    return Fraction(value)


def parse_amount(name: str, value: Any) -> Fraction:
    """A non-negative finite money parameter given as an int or a decimal string ("2.5e18"), exactly."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise CurveError(f"curve parameter {name} ({value!r}) must be an int or a decimal string")
    out = Fraction(value) if isinstance(value, int) else parse_decimal(name, value)
    if out < 0:
        raise CurveError(f"curve parameter {name} ({value}) must be >= 0")
    return out


def parse_efficacy_level(name: str, value: Any, *, positive: bool) -> float:
    """A parameter on the efficacy's scale (``e0``, ``threshold``) as the float64 it is compared in:
    a finite int or float, or a decimal string rounded once to the nearest float64."""
    bound = "> 0" if positive else ">= 0"
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise CurveError(f"curve parameter {name} ({value!r}) must be a decimal string or a number {bound}")
    try:
        out = float(parse_decimal(name, value) if isinstance(value, str) else value)
    except OverflowError:
        out = math.inf
    if not math.isfinite(out) or out < 0 or (positive and out == 0):
        raise CurveError(f"curve parameter {name} ({value!r}) must be a finite number {bound} "
                         f"(as a float64: between {'5e-324' if positive else '0'} and 1.7976931348623157e308)")
    return out


def _linear(c: Mapping[str, Any], e: float) -> Fraction:
    """price = slope * efficacy, capped at `cap` (if given): pays in proportion to the gain."""
    out = parse_amount("slope", c.get("slope")) * Fraction(e)
    return min(out, parse_amount("cap", c["cap"])) if "cap" in c else out


def _log(c: Mapping[str, Any], e: float) -> Fraction:
    """price = scale * ln(1 + efficacy / e0): concave, diminishing returns for large gains."""
    e0 = parse_efficacy_level("e0", c.get("e0", 1.0), positive=True)
    return parse_amount("scale", c.get("scale")) * Fraction(math.log1p(e / e0))


def _step(c: Mapping[str, Any], e: float) -> Fraction:
    """The paper's binary rule: efficacy above `threshold` (default 0) pays `price`, else no deal."""
    threshold = parse_efficacy_level("threshold", c.get("threshold", 0.0), positive=False)
    return parse_amount("price", c.get("price")) if e > threshold else Fraction(0)


CURVES: dict[str, Callable[[Mapping[str, Any], float], Fraction]] = {"linear": _linear, "log": _log, "step": _step}
_ALLOWED = {"linear": {"kind", "slope", "cap"}, "log": {"kind", "scale", "e0"}, "step": {"kind", "price", "threshold"}}


def apply_curve(curve: Mapping[str, Any], efficacy: float, max_price: int) -> int:
    """Price in the token's smallest unit: floor(curve(efficacy)) clamped to [0, max_price]."""
    if not isinstance(curve, Mapping):
        raise CurveError(f"the curve must be an object with a 'kind', got {curve!r}")
    kind = curve.get("kind")
    if kind not in CURVES:
        raise UnknownCurve(kind, tuple(CURVES))
    extra = set(curve) - _ALLOWED[kind]
    if extra:
        raise CurveError(f"unknown parameters {sorted(extra)} for curve {kind!r}; allowed: {sorted(_ALLOWED[kind] - {'kind'})}")
    if isinstance(max_price, bool) or not isinstance(max_price, int) or max_price < 0:
        raise TermsError(f"max_price ({max_price!r}) must be an int >= 0")
    if isinstance(efficacy, bool) or not isinstance(efficacy, (int, float)) or math.isnan(efficacy):
        raise CurveError(f"efficacy ({efficacy!r}) must be a number")
    value = CURVES[kind](curve, 0.0)  # validates the parameters even when there is no deal
    if not efficacy > 0:
        return 0
    if math.isinf(efficacy):
        return max_price if CURVES[kind](curve, 1e308) > 0 else 0
    value = CURVES[kind](curve, float(efficacy))
    return max(0, min(max_price, math.floor(value)))
