"""Armijo backtracking, shared by the Newton methods' damped steps (feature-newton's and
network-newton's numpy refit; the compiled network-Newton refit takes the same `C1` and
`HALVINGS`)."""

from __future__ import annotations

from typing import Callable, TypeVar

__all__ = ["armijo", "C1", "HALVINGS"]

T = TypeVar("T")
#: the sufficient-decrease constant and the number of trials (the compiled refit takes the same)
C1, HALVINGS = 1e-4, 30


def armijo(objective: Callable[[float], tuple[float, T]], f0: float, slope: float, *, c1: float = C1,
           halvings: int = HALVINGS) -> tuple[float, float, T] | None:
    """The first t in 1, 1/2, 1/4, ... whose objective value satisfies the sufficient-decrease
    condition value <= f0 + c1 t slope (Armijo 1966; Nocedal & Wright 2006, alg. 3.1), as
    (t, value, what `objective` returned with it); None when `halvings` trials all fail.
    `objective(t)` returns the value at the trial point and anything the caller keeps from it
    (the point, a forward pass), so an accepted trial is never recomputed."""
    t = 1.0
    for _ in range(halvings):
        value, extra = objective(t)
        if value <= f0 + c1 * t * slope:
            return t, value, extra
        t *= 0.5
    return None
