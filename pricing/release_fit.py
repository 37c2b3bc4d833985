"""Which methods may price which releases: a method measured to misprice DP releases is not
offered for them (issue 29; docs/decisions/2026-12-06-pricing-at-precision.md).

The hub calls `method_fits_release(method, mechanism)` for an offer, and again with the spec's
`hyper` before it accepts terms naming a spec; it refuses a pairing that returns False, quoting the
reason. A method may fit DP releases only with a setting (`FITS_DP_WITH`): the offer passes, the
spec must set it. Pure: a table of what was measured.
"""

from __future__ import annotations

from typing import Mapping

from .methods import METHODS

__all__ = ["method_fits_release", "DP_MECHANISMS", "EXACT_MECHANISM", "FAILS_ON_DP", "FITS_DP_WITH",
           "NOT_MEASURED_ON_DP", "RECORDLESS_MECHANISMS"]

EXACT_MECHANISM = "exact"
# privacy's mechanisms that add noise (privacy.offers.MECHANISMS less "exact")
DP_MECHANISMS: tuple[str, ...] = ("ml-laplace-rr", "table")

# mechanisms whose releases hold no records with features and a label (privacy's table release:
# per-column noise, counts or a count-min sketch): nothing for an MDE method to retrain on
RECORDLESS_MECHANISMS: tuple[str, ...] = ("table",)

# methods measured to misprice DP releases, with the measurement (benchmarks.mde_precision,
# split 0, and issue 29's own run); the refusal quotes it
FAILS_ON_DP: dict[str, str] = {
    "influence": ("its first-order score is linear in a record's gradient, and noise gives rows large "
                  "gradients for the wrong reason: issue 29's run (digits, 13 releases at eps 1-2048 and "
                  "exact) measured rho -0.98, the eps-1 release priced 2,400x the exact data; "
                  "benchmarks.mde_precision (2026-12-06, split 0, a tuned buyer, 30 releases a data set) "
                  "measured rho -0.75 on MNIST-5k with every harmful release priced above 0 and 48 "
                  "monotonicity violations, rho 0.53 on digits; group-influence, the same head with the "
                  "group's own curvature (the second-order, refit-based correction), kept rho 0.82-0.93 "
                  "and priced every harmful release 0"),
    "network-newton": ("its refit models a scaler refitted on noisy rows only as added weight decay, while the "
                       "buyer's real pipeline loses the clean rows' resolution to the noise's variance: "
                       "benchmarks.mde_precision (2026-12-06, split 0) measured 0% of MNIST-5k's harmful "
                       "releases priced 0 (anchored or not), 58% of digits' (anchored), rho 0.60-0.72 there; "
                       "feature-newton, which recomputes the scaler from the pooled moments, priced 100% at 0 "
                       "with rho 0.88 and 0.97"),
}
# methods that fit DP releases only with a hyper-parameter set above 0 in the spec: (the key,
# what it does, the measurement); without it they fail as FAILS_ON_DP says
FITS_DP_WITH: dict[str, tuple[str, str, str]] = {
    "network-newton": ("support", "rows outside the buyer's support dropped before the refit",
                       "benchmarks.mde_precision (2026-12-07, 4 data sets x 6 splits, 30 releases each) "
                       "measured, with support 1 / 2, harmful releases priced 0 on average 93% / 94% (lowest "
                       "46%; plain network-anchored 86%, lowest 25% on digits; feature-newton 92%), 16 / 11 "
                       "monotonicity violations in all (network-anchored 27, feature-newton 37) and mean rho "
                       "0.63 / 0.62 (feature-newton 0.47, group-influence 0.49)"),
}
# methods whose prices on DP releases were never measured: refused until they are
NOT_MEASURED_ON_DP: tuple[str, ...] = ("tree", "distilled")


def method_fits_release(method: str, mechanism: str, hyper: Mapping[str, float] | None = None) -> tuple[bool, str]:
    """(whether `method` may price releases drawn by `mechanism`, why): False for a method
    measured to price noise up, or never measured on noisy releases, paired with a DP mechanism.
    `hyper` is a spec's (parsed) hyper-parameters; None asks whether any spec of the method may,
    so a method of `FITS_DP_WITH` passes and its spec is asked again."""
    if method not in METHODS:
        return False, f"unknown pricing method {method!r}; one of {sorted(METHODS)}"
    if mechanism == EXACT_MECHANISM:
        return True, f"{method} is validated on exact releases (benchmarks.mde_validation)"
    if mechanism not in DP_MECHANISMS:
        return False, f"unknown release mechanism {mechanism!r}; one of {[EXACT_MECHANISM, *DP_MECHANISMS]}"
    if mechanism in RECORDLESS_MECHANISMS:
        return False, (f"{method} cannot price a {mechanism} release: it holds a table's noisy columns, not "
                       "features and a label, so no MDE method prices it (pricing.read_release refuses it): give "
                       "the offer a fixed price")
    if method in FITS_DP_WITH:
        key, what, measured = FITS_DP_WITH[method]
        if hyper is None:
            return True, (f"{method} may price {mechanism} releases when its spec sets hyper.{key} > 0 ({what}); "
                          "the spec is checked when terms name it")
        if float(hyper.get(key, 0.0)) > 0:
            return True, f"{method} with hyper.{key} > 0 ({what}) is validated on {mechanism} releases: {measured}"
        return False, (f"{method} misprices {mechanism} releases unless its spec sets hyper.{key} > 0 ({what}; "
                       f"build it with hyper={{'{key}': 1.0}}): {FAILS_ON_DP[method]}")
    if method in FAILS_ON_DP:
        return False, f"{method} misprices {mechanism} releases: {FAILS_ON_DP[method]}"
    if method in NOT_MEASURED_ON_DP:
        return False, (f"{method} was never measured on DP releases (benchmarks.mde_precision); "
                       "offer it for exact releases only")
    return True, f"{method} is validated on {mechanism} releases (benchmarks.mde_precision)"
