"""Every compiled kernel of pricing, in one file: the passes over the curvature's basis
(`pricing._lowrank`), the sparse first-layer products (`pricing._sparse_rows`) and the
network-Newton step's CG solve (`pricing._gn_step`), which calls the other two.

One file because numba's on-disk cache keys a compiled function by its own source file: a
kernel that calls a kernel of another file keeps the callee it was compiled with after that
file changes, until its own file does (checked here with two files: the caller kept returning
the old callee's result). Here any edit recompiles them all.
Each module above holds the Python side and explains its kernels; every loop sums in a fixed
order on one thread, so no result depends on the thread count (shared/protocol.md).
"""

from __future__ import annotations

import numpy as np

from ._jit import jit

_BLOCK = 512  # rows of an expansion accumulated at a time: two such blocks stay in L1


@jit(inline="always")
def _add4(t, a0, x0, a1, x1, a2, x2, a3, x3):  # pragma: no cover - compiled
    """t + a0 x0 + a1 x1 + a2 x2 + a3 x3, added left to right: the order one term a sweep
    gives, which keeps the unrolled kernels below bit-identical to their one-a-sweep form."""
    t += a0 * x0
    t += a1 * x1
    t += a2 * x2
    t += a3 * x3
    return t


@jit(boundscheck=False)
def _project_pair_nb(v, x, w, idx):  # pragma: no cover - compiled; checked against _project_pair_py
    n, r = v.shape
    c = np.zeros(r)
    e = np.zeros(r)
    i = 0
    # four rows a sweep, added one after another: the same sums, in the same order (row by
    # row), as one row a sweep, with a quarter of the loads and stores of c and e (1.2-1.45x)
    while i + 4 <= n:
        x0, x1, x2, x3 = x[idx[i]], x[idx[i + 1]], x[idx[i + 2]], x[idx[i + 3]]
        y0, y1, y2, y3 = w[i] * x0, w[i + 1] * x1, w[i + 2] * x2, w[i + 3] * x3
        r0, r1, r2, r3 = v[i], v[i + 1], v[i + 2], v[i + 3]
        for k in range(r):
            a0, a1, a2, a3 = r0[k], r1[k], r2[k], r3[k]
            c[k] = _add4(c[k], a0, x0, a1, x1, a2, x2, a3, x3)
            e[k] = _add4(e[k], a0, y0, a1, y1, a2, y2, a3, y3)
        i += 4
    while i < n:
        xi = x[idx[i]]
        yi = w[i] * xi
        row = v[i]
        for k in range(r):
            c[k] += row[k] * xi
            e[k] += row[k] * yi
        i += 1
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
        # order, as one a sweep, with a quarter of the loads and stores of the block; both
        # outputs in one loop, so each basis entry is loaded once
        while k + 4 <= r:
            a0, a1, a2, a3 = a[k], a[k + 1], a[k + 2], a[k + 3]
            b0, b1, b2, b3 = b[k], b[k + 1], b[k + 2], b[k + 3]
            q0, q1, q2, q3 = vt[k, s:s + m], vt[k + 1, s:s + m], vt[k + 2, s:s + m], vt[k + 3, s:s + m]
            for j in range(m):
                p0, p1, p2, p3 = q0[j], q1[j], q2[j], q3[j]
                o1[j] = _add4(o1[j], p0, a0, p1, a1, p2, a2, p3, a3)
                o2[j] = _add4(o2[j], p0, b0, p1, b1, p2, b2, p3, b3)
            k += 4
        while k < r:
            ak = a[k]
            bk = b[k]
            row = vt[k, s:s + m]
            for j in range(m):
                o1[j] += row[j] * ak
                o2[j] += row[j] * bk
            k += 1
        for j in range(m):
            out[idx[s + j]] += o1[j] - w[s + j] * o2[j]


@jit(boundscheck=False)
def _times(indptr, indices, data, cb, b):  # pragma: no cover - compiled; checked against the dense product
    m = indptr.shape[0] - 1
    k = b.shape[1]
    out = np.empty((m, k))
    for i in range(m):
        o = out[i]
        for q in range(k):
            o[q] = -cb[q]
        for p in range(indptr[i], indptr[i + 1]):
            v = data[p]
            row = b[indices[p]]
            for q in range(k):
                o[q] += v * row[q]
    return out


@jit(boundscheck=False)
def _t_times(indptr, indices, data, d, g):  # pragma: no cover - compiled
    m, k = g.shape
    acc = np.zeros((d, k))
    for i in range(m):
        gi = g[i]
        for p in range(indptr[i], indptr[i + 1]):
            v = data[p]
            row = acc[indices[p]]
            for q in range(k):
                row[q] += v * gi[q]
    return acc


@jit(boundscheck=False)
def _dot(a, b):  # pragma: no cover - compiled
    s = 0.0
    for i in range(a.shape[0]):
        s += a[i] * b[i]
    return s


@jit(boundscheck=False)
def _colsum(a):  # pragma: no cover - compiled
    """Column sums of a [m, k], row by row."""
    out = np.zeros(a.shape[1])
    for i in range(a.shape[0]):
        for q in range(a.shape[1]):
            out[q] += a[i, q]
    return out


@jit(boundscheck=False)
def _inv(r, v, vt, ev, kinv, dinv, dinv_live, idx):  # pragma: no cover - compiled
    """Curvature.inv: H~^-1 r."""
    c, vdr = _project_pair_nb(v, r, dinv_live, idx)
    out = dinv * r
    _expand_pair_into_nb(out, vt, c / ev, kinv @ vdr, dinv_live, idx)
    return out


@jit(boundscheck=False)
def _back(g, sparse, h, indptr, indices, data, cen, a3, slopes, w3, res):  # pragma: no cover - compiled
    """res = the flat gradient of sum(g * logits) for one hidden layer: the reverse pass that
    `Network.backward` makes (layer inputs h and a3, the activation's slopes), into res."""
    m, hid = slopes.shape
    k = w3.shape[0]
    d = cen.shape[0]
    nw1 = hid * d
    o3 = nw1 + hid
    res[o3:o3 + k * hid] = (g.T @ a3).ravel()
    res[o3 + k * hid:o3 + k * hid + k] = _colsum(g)
    g2 = g @ w3
    for i in range(m):
        for j in range(hid):
            g2[i, j] *= slopes[i, j]
    gs = _colsum(g2)  # the first layer's bias gradient, and the sparse rows' centring term
    if sparse:
        acc = _t_times(indptr, indices, data, d, g2)  # [d, hid]
        for j in range(hid):
            for c in range(d):
                res[j * d + c] = acc[c, j] - cen[c] * gs[j]
    else:
        res[:nw1] = (g2.T @ h).ravel()
    res[nw1:nw1 + hid] = gs


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
    _back(g, sparse, h, indptr, indices, data, cen, a3, slopes, w3, res)
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
