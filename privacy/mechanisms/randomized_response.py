"""Randomized response for booleans and for k categories.

Each record's value is reported truthfully with probability ``prob`` and otherwise
replaced: a boolean is flipped (Warner 1965); a category is replaced by one of the other
``k - 1`` categories uniformly (k-ary / generalised RR, Kairouz, Oh, Viswanath 2014;
Wang et al. 2017 call it direct encoding). With

    prob = e^epsilon / (e^epsilon + k - 1)

the output distribution for one record changes by at most a factor ``e^epsilon`` when
its value changes, so the released column is epsilon-DP under replace-one neighbouring
(two tables of the same size differing in one record), the whole epsilon consumed.

Sampling: ``prob`` is calibrated with OpenDP's ``make_randomized_response_bool`` /
``make_randomized_response`` privacy maps (nudged down by ulps if the map would exceed
epsilon). The truthful-or-not coin of every record is then drawn by OpenDP's exact
Bernoulli sampler (OS randomness), vectorised through ``make_randomized_response_bitvec``
(``_opendp.opendp_coins``): calling the per-element measurements costs ~70-190 us a
record from Python, ~100x more, for the same distribution. For k categories the replacement code, uniform over the other ``k - 1``, is drawn
from numpy seeded by OS entropy (integer sampling: no floating-point issue). With a
``numpy.random.Generator`` every draw is numpy's (seeded; simulation and benchmarks).

Citations: S. L. Warner, "Randomized Response: A Survey Technique for Eliminating
Evasive Answer Bias", JASA 60(309), 1965. P. Kairouz, S. Oh, P. Viswanath, "Extremal
Mechanisms for Local Differential Privacy", NeurIPS 2014.
"""

from __future__ import annotations

import math

import numpy as np

from ..budget import validate_epsilon
from ..errors import InvalidSchema
from ._opendp import opendp_coins, rr_bool_measurement, rr_measurement

__all__ = ["rr_prob", "randomized_response_bool", "randomized_response"]


def rr_prob(epsilon: float, k: int = 2) -> float:
    """Probability of a truthful report for k-ary randomized response at ``epsilon``."""
    eps = validate_epsilon(epsilon)
    if k < 2:
        raise InvalidSchema(f"randomized response needs k >= 2 categories, got k={k}")
    # e^eps / (e^eps + k - 1), written to avoid overflow at large epsilon
    return 1.0 / (1.0 + (k - 1) * math.exp(-eps))


def randomized_response_bool(values, epsilon: float, *, rng: np.random.Generator | None = None
                             ) -> tuple[np.ndarray, dict]:
    """Randomized response on a boolean column; returns (int64 0/1 reports, parameters).

    Parameters recorded: ``name="randomized-response-bool"``, ``epsilon``, ``prob``
    (probability of a truthful report), ``k=2``, ``sampler``.
    """
    eps = validate_epsilon(epsilon)
    x = np.asarray(values)
    if x.dtype != bool:
        if not np.isin(x, (0, 1)).all():
            raise InvalidSchema("boolean column holds values other than 0/1/True/False; "
                                "encode it as booleans or declare it categorical")
        x = x.astype(bool)
    prob = rr_prob(eps, 2)
    if rng is None:
        _, prob = rr_bool_measurement(prob, eps)  # OpenDP's map calibrates prob
        out = np.where(opendp_coins(x.size, prob), x, ~x)
        sampler = "opendp"
    else:
        out = x ^ (rng.random(x.size) >= prob)
        sampler = "numpy"
    params = {"name": "randomized-response-bool", "epsilon": eps, "prob": prob, "k": 2, "sampler": sampler}
    return out.astype(np.int64), params


def randomized_response(codes, k: int, epsilon: float, *, rng: np.random.Generator | None = None
                        ) -> tuple[np.ndarray, dict]:
    """k-ary randomized response on category codes ``0..k-1``; returns (int64 codes, parameters).

    Parameters recorded: ``name="randomized-response"``, ``epsilon``, ``prob``, ``k``,
    ``sampler``. A non-truthful report is uniform over the other ``k - 1`` codes.
    """
    eps = validate_epsilon(epsilon)
    x = np.asarray(codes)
    if x.size and (not np.issubdtype(x.dtype, np.integer) or x.min() < 0 or x.max() >= k):
        raise InvalidSchema(f"category codes must be integers in [0, {k - 1}]; "
                            "map values to codes with the schema's categories first")
    x = x.astype(np.int64)
    prob = rr_prob(eps, k)
    if rng is None:
        # the privacy-critical coin (truthful or not) from OpenDP's exact Bernoulli sampler;
        # the replacement, uniform over the other k-1 codes, from OS entropy
        _, prob = rr_measurement(k, prob, eps)  # OpenDP's map calibrates prob
        lie = ~opendp_coins(x.size, prob)
        other_rng = np.random.default_rng()
        sampler = "opendp"
    else:
        lie = rng.random(x.size) >= prob
        other_rng = rng
        sampler = "numpy"
    other = other_rng.integers(0, k - 1, size=x.size)
    other += other >= x  # uniform over the k-1 codes different from x
    out = np.where(lie, other, x)
    params = {"name": "randomized-response", "epsilon": eps, "prob": prob, "k": k, "sampler": sampler}
    return out.astype(np.int64), params
