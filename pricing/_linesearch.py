"""Armijo backtracking, shared by the Newton methods' damped steps."""

from __future__ import annotations

import math
from typing import Callable, TypeVar

__all__ = ["armijo"]

T = TypeVar("T")


def armijo(objective: Callable[[float], tuple[float, T]], f0: float, slope: float, *, c1: float = 1e-4,
           halvings: int = 30, interpolate: bool = False) -> tuple[float, float, T] | None:
    """The first trial t = 1, then shorter, whose objective value satisfies the sufficient-
    decrease condition value <= f0 + c1 t slope (Armijo 1966; Nocedal & Wright 2006, alg. 3.1),
    as (t, value, what `objective` returned with it); None when `halvings` trials all fail.
    After a failed trial t is halved, or with `interpolate` moved to the minimiser of the
    parabola through f0, the slope and the failed value, kept in [t/10, t/2] (Nocedal & Wright
    2006, sec. 3.5): a Newton step that overshoots by a factor of three is then cut to its
    length in one trial, not two. `objective(t)` returns the value at the trial point and
    anything the caller keeps from it (the point, a forward pass), so an accepted trial is
    never recomputed."""
    t = 1.0
    for _ in range(halvings):
        value, extra = objective(t)
        if value <= f0 + c1 * t * slope:
            return t, value, extra
        curv = value - f0 - slope * t  # the parabola's t^2 coefficient times t^2; > 0 when the test failed
        if interpolate and math.isfinite(value) and curv > 0:
            t = min(max(-slope * t * t / (2.0 * curv), 0.1 * t), 0.5 * t)
        else:
            t *= 0.5
    return None
