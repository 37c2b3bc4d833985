"""OpenDP measurements, calibrated so that their own privacy map never exceeds epsilon.

OpenDP's samplers are exact (floating-point safe) and draw from the OS; they are the
default for real releases. They are also slow per element from Python (measured in
benchmarks/results/privacy_report.txt), so every mechanism also accepts a
``numpy.random.Generator`` for simulation and reproducible benchmarks.
"""

from __future__ import annotations

import math
from functools import lru_cache

import opendp.prelude as dp

dp.enable_features("contrib")

__all__ = ["dp", "rr_bool_measurement", "rr_measurement", "laplace_measurement"]


def _shrink_prob(prob: float, make, epsilon: float):
    """Largest prob (at most the closed form) whose OpenDP map(1) <= epsilon."""
    for _ in range(64):
        meas = make(prob)
        if meas.map(1) <= epsilon:
            return meas, prob
        prob = math.nextafter(prob, 0.0)
    raise RuntimeError(f"could not calibrate randomized response to epsilon={epsilon}")


@lru_cache(maxsize=256)
def rr_bool_measurement(prob: float, epsilon: float):
    """OpenDP ``make_randomized_response_bool`` at ``prob``, nudged down until map(1) <= epsilon."""
    return _shrink_prob(prob, dp.m.make_randomized_response_bool, epsilon)


@lru_cache(maxsize=256)
def rr_measurement(k: int, prob: float, epsilon: float):
    """OpenDP ``make_randomized_response`` over categories ``0..k-1`` (i64)."""
    cats = list(range(k))
    return _shrink_prob(prob, lambda p: dp.m.make_randomized_response(cats, p, T="i64"), epsilon)


@lru_cache(maxsize=256)
def laplace_measurement(scale: float, sensitivity: float, epsilon: float, integer: bool):
    """OpenDP ``make_laplace`` on a vector under the L1 metric (discrete Laplace for i64),
    with ``scale`` nudged up until map(sensitivity) <= epsilon."""
    if integer:
        domain, metric, d_in = dp.vector_domain(dp.atom_domain(T="i64")), dp.l1_distance(T="i64"), int(sensitivity)
    else:
        domain, metric, d_in = (dp.vector_domain(dp.atom_domain(T=float, nan=False)),
                                dp.l1_distance(T=float), float(sensitivity))
    for _ in range(64):
        meas = dp.m.make_laplace(domain, metric, scale=scale)
        if meas.map(d_in) <= epsilon:
            return meas, scale
        scale = math.nextafter(scale, math.inf)
    raise RuntimeError(f"could not calibrate Laplace to epsilon={epsilon}")
