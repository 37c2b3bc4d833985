"""The two passes over a tall basis V [n, r] that a product with a low-rank-plus-diagonal
matrix needs, compiled with numba: both projections V'x and V'(w x) in one read of V, and
both expansions V a and V b in one read of V'. With BLAS each of the four is its own read
of V, and on MNIST's curvature (a 9.8 MB V) those reads were half of a quote; fused, a
product takes 0.6 of the time (docs/pricing.md, "Where a quote's time goes").

Single-threaded, and each output is summed in a fixed order (row by row for a projection,
basis vector by basis vector for an expansion), so the results do not depend on the thread
count, as shared/protocol.md requires of pricing. Without numba the same functions run as
numpy (the same sums, in BLAS's order). Compiled and cached by `pricing._jit`.
"""

from __future__ import annotations

import numpy as np

from ._jit import COMPILED, jit

__all__ = ["project_pair", "expand_pair_into", "COMPILED"]

_BLOCK = 512  # rows of an expansion accumulated at a time: two such blocks stay in L1


def _project_pair_py(v, x, w, idx):
    xl = x[idx]
    return v.T @ xl, v.T @ (w * xl)


def _expand_pair_into_py(out, vt, a, b, w, idx):
    out[idx] += vt.T @ a - w * (vt.T @ b)


@jit(boundscheck=False)
def _project_pair_nb(v, x, w, idx):  # pragma: no cover - compiled; checked against _project_pair_py
    n, r = v.shape
    c = np.zeros(r)
    e = np.zeros(r)
    for i in range(n):
        xi = x[idx[i]]
        yi = w[i] * xi
        row = v[i]
        # two loops, not one: each vectorises over k, and c and e stay apart in the cache
        for k in range(r):
            c[k] += row[k] * xi
        for k in range(r):
            e[k] += row[k] * yi
    return c, e


@jit(boundscheck=False)
def _expand_pair_into_nb(out, vt, a, b, w, idx):  # pragma: no cover - compiled
    r, n = vt.shape
    o1 = np.empty(_BLOCK)
    o2 = np.empty(_BLOCK)
    for s in range(0, n, _BLOCK):
        m = min(n - s, _BLOCK)
        o1[:m] = 0.0
        o2[:m] = 0.0
        k = 0
        # four basis vectors a sweep, added one after another: the same sums, in the same
        # order, as one a sweep, with a quarter of the loads and stores of the block
        while k + 4 <= r:
            a0, a1, a2, a3 = a[k], a[k + 1], a[k + 2], a[k + 3]
            b0, b1, b2, b3 = b[k], b[k + 1], b[k + 2], b[k + 3]
            q0, q1, q2, q3 = vt[k, s:s + m], vt[k + 1, s:s + m], vt[k + 2, s:s + m], vt[k + 3, s:s + m]
            for j in range(m):
                t = o1[j]
                t += q0[j] * a0
                t += q1[j] * a1
                t += q2[j] * a2
                t += q3[j] * a3
                o1[j] = t
            for j in range(m):
                t = o2[j]
                t += q0[j] * b0
                t += q1[j] * b1
                t += q2[j] * b2
                t += q3[j] * b3
                o2[j] = t
            k += 4
        while k < r:
            ak = a[k]
            bk = b[k]
            row = vt[k, s:s + m]
            for j in range(m):
                o1[j] += row[j] * ak
            for j in range(m):
                o2[j] += row[j] * bk
            k += 1
        for j in range(m):
            out[idx[s + j]] += o1[j] - w[s + j] * o2[j]


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
