"""Apple's private count-min sketch (CMS) for strings and large categorical domains.

Client side, per record with value ``d`` (Apple's ``A_client-CMS``): pick a hash index
``j`` uniformly from ``depth`` hash functions; encode ``v = -1^width`` with
``v[h_j(d)] = +1``; flip each coordinate independently with probability
``1 / (1 + e^(epsilon/2))``. Two records' vectors differ in at most two coordinates, so
each report is epsilon-LDP, and anything computed from the reports is epsilon-DP under
replace-one neighbouring. Server side (``A_server-CMS``): with
``c = (e^(epsilon/2) + 1) / (e^(epsilon/2) - 1)``, ``x = (c/2) * v~ + 1/2`` and
``M[j, :] += depth * x``. The release is the aggregated sketch ``M`` (``[depth, width]``),
and a buyer estimates a value's count as

    f^(d) = width / (width - 1) * ( (1/depth) * sum_j M[j, h_j(d)] - n / width )

which is unbiased (over the privacy coins, the hash choice and the random hash family).

Sampling. The per-record vectors are never materialised: for each cell ``(j, l)`` the
sum of the ``n_j`` reports that chose ``j`` is ``a - 2*B1 - (n_j - a) + 2*B2`` with
``a`` = #records whose ``h_j`` is ``l``, ``B1 ~ Bin(a, p)``, ``B2 ~ Bin(n_j - a, p)``:
exactly the distribution of the aggregate of the client algorithm, at ``2 * depth *
width`` binomial draws instead of ``n * width`` coin flips. OpenDP has no CMS, so this is
written by hand on a ``numpy.random.Generator`` (seeded if given, else OS entropy).

Hash family: ``h_j(d) = uint64_be(shake_256(salt || utf8(d)).digest(8 * depth)[8j : 8j + 8]) mod width``
(one extendable-output call gives all ``depth`` hashes of a value; Apple index a SHA-256
family by ``j``, equivalent for our purpose), with a fresh 16-byte ``salt`` per release
(recorded in hex), so collisions differ from release to release and the estimator is
unbiased across releases as well.

Citation: Apple Differential Privacy Team, "Learning with Privacy at Scale", Apple Machine
Learning Journal 1(8), 2017 (Algorithms 1-3).
"""

from __future__ import annotations

import hashlib
import math
from typing import Sequence

import numpy as np

from ..budget import validate_epsilon
from ..errors import InvalidSchema

__all__ = ["DEFAULT_DEPTH", "DEFAULT_WIDTH", "cms_hash", "cms_hashes", "cms_constants", "count_min_sketch",
           "count_min_sketch_codes"]

DEFAULT_DEPTH = 64
DEFAULT_WIDTH = 1024


def cms_hashes(value: str, depth: int, width: int, salt: bytes) -> np.ndarray:
    """``[h_0(value), ..., h_{depth-1}(value)]`` of the release's hash family, in one SHAKE-256 call:
    ``h_j(v) = uint64_be(shake_256(salt || utf8(v)).digest(8 * depth)[8j : 8j + 8]) mod width``."""
    digest = hashlib.shake_256(salt + str(value).encode("utf-8")).digest(8 * depth)
    return (np.frombuffer(digest, dtype=">u8") % np.uint64(width)).astype(np.int64)


def cms_hash(value: str, j: int, width: int, salt: bytes) -> int:
    """``h_j(value)`` of the release's hash family (see :func:`cms_hashes`)."""
    digest = hashlib.shake_256(salt + str(value).encode("utf-8")).digest(8 * (int(j) + 1))
    return int.from_bytes(digest[-8:], "big") % width


def cms_constants(epsilon: float) -> tuple[float, float]:
    """``(flip probability, c_epsilon)`` of Apple's CMS at ``epsilon``."""
    half = validate_epsilon(epsilon) / 2.0
    flip = 1.0 / (1.0 + math.exp(half))
    c = (math.exp(half) + 1.0) / math.expm1(half)
    return flip, c


def count_min_sketch(values: Sequence[str], epsilon: float, *, depth: int = DEFAULT_DEPTH,
                     width: int = DEFAULT_WIDTH, salt: bytes | None = None,
                     rng: np.random.Generator | None = None) -> tuple[np.ndarray, dict]:
    """Apple's private CMS of a string column; returns (float64 sketch ``[depth, width]``, parameters).

    Parameters recorded: ``name="count-min-sketch"``, ``epsilon``, ``depth``, ``width``,
    ``salt`` (hex), ``hash="shake256"``, ``rows`` (n), ``flip``, ``c``, ``sampler="numpy"``.
    """
    index: dict[str, int] = {}
    codes = np.fromiter((index.setdefault(str(v), len(index)) for v in values), dtype=np.int64, count=len(values))
    return count_min_sketch_codes(codes, list(index), epsilon, depth=depth, width=width, salt=salt, rng=rng)


def count_min_sketch_codes(codes, distinct: Sequence[str], epsilon: float, *, depth: int = DEFAULT_DEPTH,
                           width: int = DEFAULT_WIDTH, salt: bytes | None = None,
                           rng: np.random.Generator | None = None) -> tuple[np.ndarray, dict]:
    """:func:`count_min_sketch` of the column ``distinct[codes]`` (already factorised: faster)."""
    eps = validate_epsilon(epsilon)
    if not (isinstance(depth, int) and depth >= 1 and isinstance(width, int) and width >= 2):
        raise InvalidSchema(f"count-min sketch needs depth >= 1 and width >= 2, got depth={depth}, width={width}")
    rng = np.random.default_rng() if rng is None else rng
    if salt is None:
        salt = rng.bytes(16)
    codes = np.asarray(codes, dtype=np.int64)
    n = codes.size
    flip, c = cms_constants(eps)
    js = rng.integers(0, depth, size=n)
    if len(distinct) * depth <= 2 * n:  # small domain: hash every (value, j) once
        table = (np.stack([cms_hashes(v, depth, width, salt) for v in distinct]) if distinct
                 else np.zeros((0, depth), dtype=np.int64))
        ls = table[codes, js] if n else np.zeros(0, dtype=np.int64)
    else:  # large domain: hash only each record's chosen j
        ls = np.fromiter((cms_hash(distinct[u], j, width, salt) for u, j in zip(codes.tolist(), js.tolist())),
                         dtype=np.int64, count=n)
    a = np.bincount(js * width + ls, minlength=depth * width).reshape(depth, width).astype(np.int64)
    n_j = a.sum(axis=1, keepdims=True)
    b1 = rng.binomial(a, flip)
    b2 = rng.binomial(n_j - a, flip)
    s = a - 2 * b1 - (n_j - a) + 2 * b2  # sum of the +-1 reports per cell
    sketch = depth * ((c / 2.0) * s + n_j / 2.0)
    params = {"name": "count-min-sketch", "epsilon": eps, "depth": depth, "width": width,
              "salt": salt.hex(), "hash": "shake256", "rows": n, "flip": flip, "c": c, "sampler": "numpy"}
    return sketch.astype(np.float64), params
