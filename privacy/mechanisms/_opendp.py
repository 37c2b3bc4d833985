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

__all__ = ["dp", "rr_bool_measurement", "rr_measurement", "opendp_coins", "laplace_measurement"]


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
def _bitvec_flipper(f: float):
    return dp.m.make_randomized_response_bitvec(dp.bitvector_domain(max_weight=1), dp.discrete_distance(), f=f)


def opendp_coins(size: int, prob: float):
    """``size`` independent booleans, each True with probability exactly ``prob``, from
    OpenDP's exact Bernoulli sampler (OS randomness), vectorised.

    ``make_randomized_response_bitvec`` flips each bit of a bit vector independently with
    probability ``f / 2``; applied to zeros it yields Bernoulli(``f / 2``) coins at ~1 us a
    bit instead of ~100 us a call for the per-element measurements. Only the sampler is
    used here (its privacy map is for one-hot vectors, not ours): the caller calibrates
    ``prob`` with OpenDP's own randomized-response maps. ``f / 2`` is ``min(prob, 1 - prob)``,
    which is exact in binary for ``prob`` in [1/4, 1) and within an ulp otherwise.
    """
    import numpy as np

    if size == 0:
        return np.zeros(0, dtype=bool)
    half = min(prob, 1.0 - prob)
    if half <= 0.0:
        return np.full(size, prob >= 1.0)
    meas = _bitvec_flipper(2.0 * half)
    flips = np.unpackbits(np.frombuffer(meas(bytes((size + 7) // 8)), dtype=np.uint8))[:size].astype(bool)
    return flips if prob <= 0.5 else ~flips


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
