"""Laplace (floats) and discrete Laplace (integers) on columns clamped to declared bounds.

Every value is first checked against the column's declared ``bounds = (lower, upper)``:
values outside raise :class:`~privacy.errors.OutOfBounds` unless the caller passes
``clamp=True``, in which case they are clamped to the bounds (explicitly: the release's
parameters then say ``"clamped": true``; the count of clamped values is *not* recorded,
since it is not private). Then each value gets independent noise of ``scale``:

    sensitivity = upper - lower,   scale = sensitivity / epsilon

Under replace-one neighbouring one record's value moves by at most ``sensitivity`` in
L1, so the released column is epsilon-DP (Dwork, McSherry, Nissim, Smith 2006). For
integers the noise is the discrete Laplace (two-sided geometric) with the same scale,
``P(k) ~ exp(-|k| / scale)`` (Ghosh, Roughgarden, Sundararajan 2009; Canonne, Kamath,
Steinke 2020).

Sampling: OpenDP's ``make_laplace`` on a vector domain with the L1 metric, one call a
column (exact, floating-point safe samplers, OS randomness; ``scale`` nudged up by ulps
if OpenDP's map exceeds epsilon) unless a ``numpy.random.Generator`` is given. Floats
go through a domain sized to the column, so OpenDP samples on a lattice ``2^k`` just
fine enough that the rounding it charges stays below half an ulp of the sensitivity
(``_opendp.laplace_granularity``), ~3x faster than its default ``2^-1074`` lattice
(docs/decisions/2026-12-06-vectorised-opendp-draw.md). numpy's Laplace is *not*
floating-point safe (Mironov, CCS 2012) and is meant for simulation and benchmarks.

Bias: the estimators de-bias the noise, not the clamping. The mean of the released
column is unbiased for the mean of the *clamped* data, which equals the true mean only
when no value was clamped (docs/privacy.md).
"""

from __future__ import annotations

import math

import numpy as np

from ..budget import validate_epsilon
from ..errors import InvalidSchema, OutOfBounds
from ._opendp import laplace_measurement

__all__ = ["clamp_to_bounds", "laplace", "discrete_laplace", "discrete_laplace_variance"]


def clamp_to_bounds(values, bounds, *, clamp: bool, column: str = "value") -> np.ndarray:
    """``values`` as float64 within ``bounds``; refuse (or, with ``clamp=True``, clamp) the rest.

    NaN is always refused: there is no bound to clamp it to.
    """
    x = np.asarray(values, dtype=np.float64)
    lo, hi = bounds
    if np.isnan(x).any():
        raise OutOfBounds(f"column {column!r} holds NaN; impute or drop missing values before release",
                          column=column, bounds=(lo, hi), count=int(np.isnan(x).sum()))
    outside = (x < lo) | (x > hi)
    count = int(outside.sum())
    if count:
        if not clamp:
            raise OutOfBounds(
                f"column {column!r}: {count} value(s) outside the declared bounds [{lo}, {hi}]; "
                "widen the bounds in the offer or pass clamp=True",
                column=column, bounds=(lo, hi), count=count, example=float(x[outside][0]))
        x = np.clip(x, lo, hi)
    return x


def laplace(values, bounds, epsilon: float, *, clamp: bool = False, column: str = "value",
            rng: np.random.Generator | None = None) -> tuple[np.ndarray, dict]:
    """Laplace mechanism on a float column; returns (float64 noisy values, parameters).

    Parameters recorded: ``name="laplace"``, ``epsilon``, ``scale``, ``sensitivity``,
    ``bounds``, ``clamped``, ``sampler``.
    """
    eps = validate_epsilon(epsilon)
    lo, hi = float(bounds[0]), float(bounds[1])
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise InvalidSchema(f"bounds ({lo}, {hi}) must be finite with lower < upper")
    x = clamp_to_bounds(values, (lo, hi), clamp=clamp, column=column)
    sensitivity = hi - lo
    scale = sensitivity / eps
    if rng is None:
        if x.size:  # one OpenDP call for the column, on a sized domain (coarser exact lattice)
            meas, scale = laplace_measurement(scale, sensitivity, eps, False, x.size)
            out = np.asarray(meas(x), dtype=np.float64)
        else:
            scale = laplace_measurement(scale, sensitivity, eps, False)[1]
            out = x.copy()
        sampler = "opendp"
    else:
        out = x + rng.laplace(0.0, scale, size=x.shape)
        sampler = "numpy"
    params = {"name": "laplace", "epsilon": eps, "scale": scale, "sensitivity": sensitivity,
              "bounds": [lo, hi], "clamped": bool(clamp), "sampler": sampler}
    return out, params


def discrete_laplace(values, bounds, epsilon: float, *, clamp: bool = False, column: str = "value",
                     rng: np.random.Generator | None = None) -> tuple[np.ndarray, dict]:
    """Discrete Laplace mechanism on an integer column; returns (int64 noisy values, parameters).

    Parameters recorded: ``name="discrete-laplace"``, ``epsilon``, ``scale``,
    ``sensitivity`` (an integer), ``bounds``, ``clamped``, ``sampler``.
    """
    eps = validate_epsilon(epsilon)
    lo, hi = bounds
    if int(lo) != lo or int(hi) != hi or not lo < hi:
        raise InvalidSchema(f"integer bounds ({lo}, {hi}) must be whole numbers with lower < upper")
    lo, hi = int(lo), int(hi)
    xf = clamp_to_bounds(values, (lo, hi), clamp=clamp, column=column)
    if not np.all(xf == np.round(xf)):
        raise InvalidSchema(f"column {column!r} is declared integer but holds fractional values")
    x = xf.astype(np.int64)
    sensitivity = hi - lo
    scale = sensitivity / eps
    if rng is None:
        meas, scale = laplace_measurement(scale, sensitivity, eps, True)
        out = np.asarray(meas(x), dtype=np.int64) if x.size else x.copy()
        sampler = "opendp"
    else:
        # floor(Exp(rate 1/scale)) is geometric on {0, 1, ...} with ratio e^(-1/scale);
        # the difference of two independent ones is the discrete Laplace
        g = np.floor(rng.standard_exponential(size=(2,) + x.shape) * scale).astype(np.int64)
        out = x + (g[0] - g[1])
        sampler = "numpy"
    params = {"name": "discrete-laplace", "epsilon": eps, "scale": scale, "sensitivity": sensitivity,
              "bounds": [lo, hi], "clamped": bool(clamp), "sampler": sampler}
    return out, params


def discrete_laplace_variance(scale: float) -> float:
    """Variance of the discrete Laplace with ``P(k) ~ exp(-|k|/scale)``: ``2a / (1-a)^2``, ``a = e^(-1/scale)``."""
    a = math.exp(-1.0 / scale)
    return 2.0 * a / (1.0 - a) ** 2
