"""Buyer-side spec builders: make a spec bundle from a trained torch or scikit-learn model and
the buyer's own training and validation data, which never leave the buyer beyond what it
chooses to ship: a probe set, and for network-newton optionally unlabelled anchor inputs."""

from __future__ import annotations

from ..numerics.solver import Solver
from .build import SCALER_AWARE, build_spec, ihvp_cg, ihvp_lissa

__all__ = ["build_spec", "ihvp_cg", "ihvp_lissa", "SCALER_AWARE", "Solver"]
