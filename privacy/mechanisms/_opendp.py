"""OpenDP measurements, calibrated so that their own privacy map never exceeds epsilon.

OpenDP's samplers are exact (floating-point safe) and draw from the OS; they are the
default for real releases. They cost microseconds a value even when called once per
column (measured in benchmarks/results/privacy_throughput.txt), so every mechanism also
accepts a ``numpy.random.Generator`` for simulation and reproducible benchmarks.
"""

from __future__ import annotations

import math
from functools import lru_cache

import opendp.prelude as dp

dp.enable_features("contrib")

__all__ = ["dp", "rr_bool_measurement", "rr_measurement", "opendp_coins", "laplace_measurement",
           "laplace_granularity"]

# Headroom, in bits, between the sensitivity and the rounding OpenDP charges for a sized
# float vector (size * 2^k): 2^-60 of the sensitivity is below half an ulp, so the
# calibrated scale stays within a few ulps of sensitivity / epsilon.
_GRANULARITY_HEADROOM_BITS = 60
_F64_MIN_EXPONENT = -1074  # the subnormal lattice: OpenDP's default k for f64, exact for every float


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


def laplace_granularity(sensitivity: float, size: int) -> int:
    """The noise lattice exponent ``k`` (noise on multiples of ``2^k``) for a float column of
    ``size`` values: the rounding OpenDP charges, ``size * 2^k``, is at most
    ``2^-60 * sensitivity`` (and more than a quarter of it), so its map moves by less than
    half an ulp while the samplers work on ~70-bit rather than ~1100-bit rationals. For a
    sensitivity so small (below ~1e-290) that no lattice fits, it is OpenDP's default ``2^-1074``:
    the per-value path, whose map the calibration still keeps within epsilon."""
    if not (math.isfinite(sensitivity) and sensitivity > 0):
        raise ValueError(f"sensitivity ({sensitivity}) must be finite and positive")
    if size < 1:
        raise ValueError(f"size ({size}) must be at least 1")
    # 2^(e-1) <= sensitivity (frexp's exact exponent e) and size <= 2^bit_length(size - 1)
    k = math.frexp(sensitivity)[1] - 1 - (size - 1).bit_length() - _GRANULARITY_HEADROOM_BITS
    return max(k, _F64_MIN_EXPONENT)


@lru_cache(maxsize=256)
def laplace_measurement(scale: float, sensitivity: float, epsilon: float, integer: bool,
                        size: int | None = None):
    """OpenDP ``make_laplace`` on a vector under the L1 metric (discrete Laplace for i64),
    with ``scale`` nudged up until map(sensitivity) <= epsilon.

    Floats with ``size=None`` use OpenDP's default lattice ``2^-1074`` (exact for every
    float, any length): its samplers then work on ~1100-bit rationals, ~45 us a value.
    With ``size`` (the column's length) the domain is sized and the lattice is
    :func:`laplace_granularity`'s ``2^k``; OpenDP rounds each value to it and its map
    charges the rounding, ``(sensitivity + size * 2^k) / scale``, which the calibration
    absorbs within ulps: the same mechanism at ~16 us a value. Integers ignore ``size``.
    OpenDP does not check a vector's length when invoked, so the caller must pass exactly
    ``size`` values (``laplace`` sizes the measurement to the column it draws).
    """
    if integer:
        domain, metric, d_in = dp.vector_domain(dp.atom_domain(T="i64")), dp.l1_distance(T="i64"), int(sensitivity)
        k = None
    else:
        atom = dp.atom_domain(T=float, nan=False)
        domain = dp.vector_domain(atom) if size is None else dp.vector_domain(atom, size=size)
        metric, d_in = dp.l1_distance(T=float), float(sensitivity)
        k = None if size is None else laplace_granularity(d_in, size)
    for _ in range(64):
        meas = dp.m.make_laplace(domain, metric, scale=scale, k=k)
        if meas.map(d_in) <= epsilon:
            return meas, scale
        scale = math.nextafter(scale, math.inf)
    raise RuntimeError(f"could not calibrate Laplace to epsilon={epsilon}")
