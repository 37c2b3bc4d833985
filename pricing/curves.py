"""Price curves: efficacy (float) to price (int, the token's smallest unit), within maxPrice.

Money is exact: a float efficacy converts exactly to a `Fraction`, parameters are decimal
strings (a uint256 does not fit a JSON number), and the result is floored to an int in
[0, maxPrice]. Every curve is monotone non-decreasing in efficacy, and no positive
efficacy means price 0 ("no deal": the hub declines instead of quoting).
"""

from __future__ import annotations

import math
import re
from fractions import Fraction
from typing import Any, Callable, Mapping

from .errors import CurveError, TermsError, UnknownCurve

__all__ = ["CURVES", "apply_curve", "parse_amount", "parse_max_price", "MAX_UINT256"]

MAX_UINT256 = 2**256 - 1
_UINT = re.compile(r"(0|[1-9][0-9]*)\Z")


def parse_max_price(value: Any) -> int:
    """Parse a uint256 decimal string (docs/terms.md) such as terms["maxPrice"]."""
    if not isinstance(value, str) or not _UINT.match(value):
        raise TermsError(f"maxPrice ({value!r}) must be a decimal string of an unsigned integer, e.g. \"1000\"")
    out = int(value)
    if out > MAX_UINT256:
        raise TermsError(f"maxPrice ({value}) does not fit a uint256")
    return out


def parse_amount(name: str, value: Any) -> Fraction:
    """A non-negative finite curve parameter given as an int or a decimal string ("2.5e18")."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise CurveError(f"curve parameter {name} ({value!r}) must be an int or a decimal string")
    try:
        out = Fraction(value)
    except (ValueError, ZeroDivisionError):
        raise CurveError(f"curve parameter {name} ({value!r}) is not a decimal number") from None
    if out < 0:
        raise CurveError(f"curve parameter {name} ({value}) must be >= 0")
    return out


def _positive_float(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0:
        raise CurveError(f"curve parameter {name} ({value!r}) must be a finite number > 0")
    return float(value)


def _linear(c: Mapping[str, Any], e: float) -> Fraction:
    """price = slope * efficacy, capped at `cap` (if given): pays in proportion to the gain."""
    out = parse_amount("slope", c.get("slope")) * Fraction(e)
    return min(out, parse_amount("cap", c["cap"])) if "cap" in c else out


def _log(c: Mapping[str, Any], e: float) -> Fraction:
    """price = scale * ln(1 + efficacy / e0): concave, diminishing returns for large gains."""
    return parse_amount("scale", c.get("scale")) * Fraction(math.log1p(e / _positive_float("e0", c.get("e0", 1.0))))


def _step(c: Mapping[str, Any], e: float) -> Fraction:
    """The paper's binary rule: efficacy above `threshold` (default 0) pays `price`, else no deal."""
    threshold = c.get("threshold", 0.0)
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or not math.isfinite(threshold) or threshold < 0:
        raise CurveError(f"curve parameter threshold ({threshold!r}) must be a finite number >= 0")
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
