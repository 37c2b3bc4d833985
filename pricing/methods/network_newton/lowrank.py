"""The two passes over a tall basis V [n, r] that a product with a low-rank-plus-diagonal
matrix needs, compiled with numba: both projections V'x and V'(w x) in one read of V, and
both expansions V a and V b in one read of V'. With BLAS each of the four is its own read
of V, and on MNIST's curvature (a 9.8 MB V) those reads were half of a quote; fused, a
product takes 0.6 of the time (docs/decisions/2026-12-03-compiled-refit.md).

Single-threaded, and each output is summed in a fixed order (row by row for a projection,
basis vector by basis vector for an expansion), so the results do not depend on the thread
count, as shared/protocol.md requires of pricing. Without numba the same functions run as
numpy (the same sums, in BLAS's order). The kernels are in `kernels`.
"""

from __future__ import annotations

import numpy as np

from common.jit import COMPILED

from .kernels import _BLOCK, _expand_pair_into_nb, _project_pair_nb  # noqa: F401  (_BLOCK: the tests size by it)

__all__ = ["project_pair", "expand_pair_into", "COMPILED"]

def _project_pair_py(v, x, w, idx):
    xl = x[idx]
    return v.T @ xl, v.T @ (w * xl)


def _expand_pair_into_py(out, vt, a, b, w, idx):
    out[idx] += vt.T @ a - w * (vt.T @ b)


def project_pair(v: np.ndarray, x: np.ndarray, w: np.ndarray, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(V' x[idx], V' (w * x[idx])) for V [n, r] C-contiguous, w [n] and idx [n] (int64)
    aligned with V's rows."""
    if not COMPILED:  # pragma: no cover
        return _project_pair_py(v, x, w, idx)
    return _project_pair_nb(v, x, w, idx)


def expand_pair_into(out: np.ndarray, vt: np.ndarray, a: np.ndarray, b: np.ndarray, w: np.ndarray,
                     idx: np.ndarray) -> np.ndarray:
    """out[idx] += V a - w * (V b), with V given as vt = V' [r, n] C-contiguous; returns out."""
    if not COMPILED:  # pragma: no cover
        _expand_pair_into_py(out, vt, a, b, w, idx)
    else:
        _expand_pair_into_nb(out, vt, a, b, w, idx)
    return out
