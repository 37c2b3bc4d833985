"""`Solver`: how a linear system H x = b is solved, one name for every place that chooses (the
influence builder's inverse-Hessian-vector product, feature-newton's Newton systems)."""

from __future__ import annotations

from enum import Enum

from ..errors import SpecError

__all__ = ["Solver"]


class Solver(str, Enum):
    """A solver for H x = b (H symmetric positive definite). A `str` enum, so "cg" and
    `Solver.CG` are the same value wherever a caller passes one."""

    #: a direct factorisation (Cholesky or LU): exact to rounding, O(P^3)
    EXACT = "exact"
    #: conjugate gradients on Hessian-vector products (Hestenes & Stiefel 1952; Martens 2010)
    CG = "cg"
    #: the LiSSA recursion (Agarwal et al. 2017; Koh & Liang 2017, sec. 3)
    LISSA = "lissa"

    @classmethod
    def parse(cls, value: object, *, allowed: "tuple[Solver, ...] | None" = None, what: str = "solver") -> "Solver":
        """`value` (a `Solver` or its name) as a `Solver`, one of `allowed` (default: any);
        raises `SpecError` naming `what` and the choices otherwise."""
        choices = tuple(cls) if allowed is None else allowed
        try:
            solver = cls(value)
        except (ValueError, TypeError):
            solver = None
        if solver not in choices:
            shown = value.value if isinstance(value, Solver) else value
            raise SpecError(f"{what} {shown!r} is not one of {', '.join(s.value for s in choices)}")
        return solver
