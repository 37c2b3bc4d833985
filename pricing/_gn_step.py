"""The conjugate-gradient solve of one network-Newton step, compiled for the networks a buyer
most often ships: `[standardize,] linear, <elementwise>, linear` (one hidden layer).

`network_refit` solves (GGN_U + diag(pen) + H~) step = -g by `pcg(carry_h=True,
reorth=True)` with the bundle's GGN (`_netcurv.ggn_operator`) and `Curvature.inv` as Python
callables. On small networks each iteration is a few dozen numpy calls on short arrays, and
their overhead was most of a quote (breast_cancer and Adult: docs/pricing.md, "Where a quote's
time goes"). Here the same iterations run in one compiled call: the same recurrences, the same
curvature kernels (`pricing._lowrank`), the same sparse first-layer kernels
(`pricing._sparse_rows`) and BLAS (scipy's, pinned to one thread with numpy's by
`pricing._threads`) for the dense first layer. Vector sums run in a fixed order on one
thread, so a result does not depend on the thread count; it equals the numpy path's to
rounding (the tests compare the two). `solve_step` returns None for any other network, and
the caller keeps the numpy path.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from ._jit import COMPILED, jit
from ._lowrank import _expand_pair_into_nb, _project_pair_nb
from ._netcurv import logit_hessian_weights
from ._sparse_rows import SparseRows, _t_times, _times
from .proxies import Network, pointwise_grad

__all__ = ["solve_step", "one_hidden"]

_ACTIVATIONS = ("relu", "tanh", "sigmoid")


def one_hidden(kinds: list[str]) -> bool:
    """Whether a network is `[standardize,] linear, <elementwise>, linear`, the compiled form."""
    k = kinds[1:] if kinds[:1] == ["standardize"] else kinds
    return len(k) == 3 and k[0] == "linear" and k[1] in _ACTIVATIONS and k[2] == "linear"


@jit(boundscheck=False)
def _dot(a, b):  # pragma: no cover - compiled
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * b[i]
    return s


@jit(boundscheck=False)
def _inv(r, v, vt, ev, kinv, dinv, dinv_live, idx):  # pragma: no cover - compiled
    """Curvature.inv: H~^-1 r."""
    c, vdr = _project_pair_nb(v, r, dinv_live, idx)
    out = dinv * r
    _expand_pair_into_nb(out, vt, c / ev, kinv @ vdr, dinv_live, idx)
    return out


@jit(boundscheck=False)
def _ggn(vv, sparse, h, indptr, indices, data, cen, a3, slopes, w3, hw, softmax, pen, use_pen, res):  # pragma: no cover
    """res = GGN_U vv (+ pen * vv): `_netcurv.ggn_operator`'s product for one hidden layer."""
    m, hid = slopes.shape
    k = w3.shape[0]
    d = cen.shape[0]
    nw1 = hid * d
    o3 = nw1 + hid
    v1t = np.ascontiguousarray(vv[:nw1].reshape((hid, d)).T)  # [d, hid]
    if sparse:
        t = _times(indptr, indices, data, cen @ v1t, v1t)
    else:
        t = h @ v1t
    for i in range(m):
        for j in range(hid):
            t[i, j] = (t[i, j] + vv[nw1 + j]) * slopes[i, j]
    v3 = vv[o3:o3 + k * hid].reshape((k, hid))
    t3 = t @ w3.T + a3 @ v3.T
    for i in range(m):
        for q in range(k):
            t3[i, q] += vv[o3 + k * hid + q]
    g = np.empty((m, k))
    if softmax:
        for i in range(m):
            s = 0.0
            for q in range(k):
                s += hw[i, q] * t3[i, q]
            for q in range(k):
                g[i, q] = hw[i, q] * (t3[i, q] - s)
    else:
        for i in range(m):
            for q in range(k):
                g[i, q] = hw[i, q] * t3[i, q]
    res[o3:o3 + k * hid] = (g.T @ a3).ravel()
    for q in range(k):
        s = 0.0
        for i in range(m):
            s += g[i, q]
        res[o3 + k * hid + q] = s
    g2 = g @ w3
    for i in range(m):
        for j in range(hid):
            g2[i, j] *= slopes[i, j]
    if sparse:
        acc = _t_times(indptr, indices, data, d, g2)  # [d, hid]
        gs = np.zeros(hid)
        for i in range(m):
            for j in range(hid):
                gs[j] += g2[i, j]
        for j in range(hid):
            for c in range(d):
                res[j * d + c] = acc[c, j] - cen[c] * gs[j]
    else:
        res[:nw1] = (g2.T @ h).ravel()
    for j in range(hid):
        s = 0.0
        for i in range(m):
            s += g2[i, j]
        res[nw1 + j] = s
    if use_pen:
        for p in range(res.shape[0]):
            res[p] += pen[p] * vv[p]
    return res


@jit(boundscheck=False)
def _pcg(b, rtol, iters, ds, ads, hds, dads,
         sparse, h, indptr, indices, data, cen, a3, slopes, w3, hw, softmax, pen, use_pen,
         v, vt, ev, kinv, dinv, dinv_live, idx):  # pragma: no cover - compiled
    """`_cg.pcg(matvec, b, precond, carry_h=True, reorth=True)` with the two operators inline."""
    n = b.shape[0]
    x = np.zeros(n)
    r = b.copy()
    stop = rtol * np.sqrt(_dot(b, b))
    if np.sqrt(_dot(r, r)) <= stop or iters < 1:
        return x
    z = _inv(r, v, vt, ev, kinv, dinv, dinv_live, idx)
    d = z.copy()
    hd = r.copy()
    ad = np.empty(n)
    for k in range(iters):
        _ggn(d, sparse, h, indptr, indices, data, cen, a3, slopes, w3, hw, softmax, pen, use_pen, ad)
        for p in range(n):
            ad[p] += hd[p]
        dad = _dot(d, ad)
        if dad <= 0:
            break
        alpha = _dot(r, d) / dad
        for p in range(n):
            x[p] += alpha * d[p]
            r[p] -= alpha * ad[p]
        if k == iters - 1 or np.sqrt(_dot(r, r)) <= stop:
            break
        z = _inv(r, v, vt, ev, kinv, dinv, dinv_live, idx)
        ds[k] = d
        ads[k] = ad
        hds[k] = hd
        dads[k] = dad
        d = z.copy()
        hd = r.copy()
        for j in range(k + 1):
            cj = _dot(ads[j], z) / dads[j]
            dj, hj = ds[j], hds[j]
            for p in range(n):
                d[p] -= cj * dj[p]
                hd[p] -= cj * hj[p]
    return x


def solve_step(net: Network, acts: list, logits: np.ndarray, g: np.ndarray, curv, *, rtol: float, max_iter: int,
               penalty: np.ndarray | None, workspace: Callable[[int, int], tuple]) -> np.ndarray | None:
    """The CG solution of (GGN_U + diag(penalty) + H~) x = g at the bundle's forward pass
    (`acts`, `logits`, the bundle's rows only), or None when the network is not `one_hidden`
    or numba is missing (the caller then runs `pcg`)."""
    if not COMPILED or not one_hidden(net.kinds):
        return None
    first = 1 if net.kinds[0] == "standardize" else 0
    kind, w3 = net.kinds[first + 1], net.params[first + 2]["weight"]
    h, z1, a3 = acts[first], acts[first + 1], acts[first + 2]
    slopes = np.ascontiguousarray(pointwise_grad(kind, {}, z1, np.ones_like(z1)))
    softmax = logits.shape[1] > 1
    hw = logit_hessian_weights(logits)
    sparse = isinstance(h, SparseRows)
    if sparse:
        dense, indptr, indices, data, cen = _NO_ROWS, h.indptr, h.indices, h.data, h.c
    else:
        dense, indptr, indices, data = np.ascontiguousarray(h, dtype=np.float64), _NO_PTR, _NO_PTR, _NO_DATA
        cen = np.zeros(dense.shape[1])
    ds, ads, hds, dads = workspace(max_iter, g.shape[0])
    return _pcg(g, float(rtol), int(max_iter), ds, ads, hds, dads,
                sparse, dense, indptr, indices, data, cen, np.ascontiguousarray(a3), slopes,
                np.ascontiguousarray(w3), np.ascontiguousarray(hw), softmax,
                _NO_DATA if penalty is None else penalty, penalty is not None,
                curv.v, curv.vt, curv.ev, curv.kinv, curv.dinv, curv.dinv_live, curv.idx)


_NO_ROWS = np.zeros((0, 0))
_NO_PTR = np.zeros(1, dtype=np.int64)
_NO_DATA = np.zeros(0)
