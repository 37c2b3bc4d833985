"""Numerics more than one pricing method uses: preconditioned conjugate gradients (`cg`), Armijo
backtracking (`linesearch`), one BLAS thread while pricing (`threads`), the float64 math of a
linear head on fixed features (`linear_head`, shared by the head methods and their builder), and
the names of the linear solvers a spec or a builder chooses from (`solver`).

A method's own numerics live in its own subpackage (`pricing.methods.network_newton`)."""

from __future__ import annotations

from .cg import pcg
from .linesearch import armijo
from .solver import Solver
from .threads import one_thread

__all__ = ["pcg", "armijo", "one_thread", "Solver"]
