"""Arbitrage-freeness of a menu of offers at several epsilons (Li, Miklau, Suciu, ICDT 2014).

A buyer who buys several independent noisy releases and averages them with
inverse-variance weights gets a release whose inverse variance is the sum of theirs. So a
menu is arbitrage-free when the price, as a function of inverse variance, is
non-decreasing and no multiset of offers whose inverse variances add up to at least an
offer's costs less than that offer (subadditivity, with repetition allowed).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Sequence

from .errors import PricingError

__all__ = ["inverse_variance", "ArbitrageReport", "check_arbitrage_free"]


def inverse_variance(epsilon: float, *, sensitivity: float = 1.0) -> float:
    """1 / Var of the Laplace mechanism with scale sensitivity/epsilon: eps^2 / (2 sens^2)."""
    if not (math.isfinite(epsilon) and epsilon > 0 and math.isfinite(sensitivity) and sensitivity > 0):
        raise PricingError(f"epsilon ({epsilon}) and sensitivity ({sensitivity}) must be finite and > 0")
    return epsilon * epsilon / (2.0 * sensitivity * sensitivity)


@dataclass(frozen=True)
class ArbitrageReport:
    """`ok` unless some offer is dominated; `violations` says which and how it is beaten."""

    ok: bool
    violations: list[str] = field(default_factory=list)


def _cheapest_cover(target: Fraction, items: list[tuple[Fraction, int]], bound: int, limit: int) -> tuple[int, list[int]] | None:
    """Cheapest multiset of items (inverse variance, price) reaching target, if cheaper than bound."""
    items = sorted(items, key=lambda t: Fraction(t[1]) / t[0])
    best: list = [bound, None]
    counter = [0]
    counts = [0] * len(items)

    def dfs(i: int, remaining: Fraction, cost: int) -> None:
        counter[0] += 1
        if counter[0] > limit:
            raise PricingError(f"the menu is too large to check exhaustively (>{limit} states); offer fewer epsilons")
        if cost >= best[0]:
            return
        if remaining <= 0:
            best[0], best[1] = cost, list(counts)
            return
        if i == len(items):
            return
        iv, p = items[i]
        if cost + remaining * p / iv >= best[0]:  # LP bound: items are sorted by price per unit, so none is cheaper
            return
        top = math.ceil(remaining / iv)
        for c in range(top, -1, -1):
            counts[i] = c
            dfs(i + 1, remaining - c * iv, cost + c * p)
        counts[i] = 0

    dfs(0, target, 0)
    if best[1] is None:
        return None
    return best[0], best[1]


def check_arbitrage_free(offers: Sequence[tuple[float, int]], *, sensitivity: float = 1.0,
                         limit: int = 200_000) -> ArbitrageReport:
    """Check a menu of (epsilon, price) offers for monotonicity and subadditivity."""
    pts = []
    for eps, price in offers:
        if isinstance(price, bool) or not isinstance(price, int) or price < 0:
            raise PricingError(f"price ({price!r}) must be an int >= 0")
        pts.append((Fraction(inverse_variance(float(eps), sensitivity=sensitivity)), price, eps))
    pts.sort(key=lambda t: (t[0], t[1]))
    violations = []
    for (iv_a, p_a, e_a), (iv_b, p_b, e_b) in zip(pts, pts[1:]):
        if p_b < p_a:
            violations.append(f"not monotone: epsilon {e_b} costs {p_b} < {p_a} at epsilon {e_a}")
    for j, (iv, p, eps) in enumerate(pts):
        others = [(a, b) for k, (a, b, _) in enumerate(pts) if k != j and a > 0]
        found = _cheapest_cover(iv, others, p, limit)
        if found is not None:
            cost, counts = found
            violations.append(
                f"not subadditive: epsilon {eps} costs {p}, but noisier offers with as much inverse "
                f"variance cost {cost} in total"
            )
    return ArbitrageReport(ok=not violations, violations=violations)
