"""Buyer-side spec builders: make a spec bundle from a trained torch or scikit-learn model and
the buyer's own training and validation data, which never leave the buyer beyond what it
chooses to ship: a probe set, and for network-newton optionally unlabelled anchor inputs.
`calibrate_spec` chooses the one method to ship by retraining on the buyer's own rows."""

from __future__ import annotations

from ..numerics.solver import Solver
from .build import SCALER_AWARE, build_spec, ihvp_cg, ihvp_lissa
from .calibrate import (CANDIDATES, DP_CANDIDATES, DP_PREFERRED, LABELLED_CANDIDATES, Calibration, Candidate, calibrate_spec,
                        calibration_bundles, quote_work, select_candidate)

__all__ = ["build_spec", "ihvp_cg", "ihvp_lissa", "SCALER_AWARE", "Solver", "calibrate_spec", "Calibration",
           "Candidate", "CANDIDATES", "DP_CANDIDATES", "DP_PREFERRED", "LABELLED_CANDIDATES", "calibration_bundles", "select_candidate",
           "quote_work"]
