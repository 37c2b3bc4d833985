"""Every compiled kernel of pricing, in one file: the passes over the curvature's basis
(`lowrank`), the sparse first-layer products (`sparse_rows`) and the network-Newton refit
(`compiled`), which calls the other two.

One file because numba's on-disk cache keys a compiled function by its own source file: a
kernel that calls a kernel of another file keeps the callee it was compiled with after that
file changes, until its own file does (checked here with two files: the caller kept returning
the old callee's result). Here any edit recompiles them all.
Each module above holds the Python side and explains its kernels; every loop sums in a fixed
order on one thread, so no result depends on the thread count (shared/protocol.md).
"""

from __future__ import annotations

import numpy as np

from common.jit import jit

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
    """a . b in eight lanes (lane l sums the terms i = l mod 8 in order), added pairwise, then
    the tail: a fixed order, like any other here, that the compiler can vectorise. One running
    sum is a chain of dependent adds, four cycles each; CG and the line search take a dozen such
    dot products of the parameters a step, and as one chain they were a sixth of a
    breast_cancer refit (docs/decisions/2026-12-03-compiled-refit.md)."""
    n = a.shape[0]
    s0 = s1 = s2 = s3 = s4 = s5 = s6 = s7 = 0.0
    i = 0
    while i + 8 <= n:
        s0 += a[i] * b[i]
        s1 += a[i + 1] * b[i + 1]
        s2 += a[i + 2] * b[i + 2]
        s3 += a[i + 3] * b[i + 3]
        s4 += a[i + 4] * b[i + 4]
        s5 += a[i + 5] * b[i + 5]
        s6 += a[i + 6] * b[i + 6]
        s7 += a[i + 7] * b[i + 7]
        i += 8
    s = ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7))
    while i < n:
        s += a[i] * b[i]
        i += 1
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
    """res = GGN_U vv (+ pen * vv): `calculus.ggn_operator`'s product for one hidden layer."""
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


@jit(inline="always")
def _cg_start(b, rtol, iters, v, vt, ev, kinv, dinv, dinv_live, idx):  # pragma: no cover - compiled
    """The preconditioned CG's start, shared by `_pcg` and `_pcg_pass`: (x, r, stop, d, hd, ad, done)."""
    n = b.shape[0]
    x = np.zeros(n)
    r = b.copy()
    stop = rtol * np.sqrt(_dot(b, b))
    if np.sqrt(_dot(r, r)) <= stop or iters < 1:
        return x, r, stop, r, r, r, True
    z = _inv(r, v, vt, ev, kinv, dinv, dinv_live, idx)
    return x, r, stop, z.copy(), r.copy(), np.empty(n), False


@jit(inline="always")
def _cg_step(k, iters, stop, x, r, d, hd, ad, ds, ads, hds, dads,
             v, vt, ev, kinv, dinv, dinv_live, idx):  # pragma: no cover - compiled
    """One CG iteration once `ad` holds the GGN's product with `d` (the caller's own product, whole or
    streamed): carry h, step x and r, and build the next direction conjugate to every earlier one.
    Returns (d, hd, done); the operations and their order are those of `pcg(..., carry_h, reorth)`."""
    n = x.shape[0]
    for p in range(n):
        ad[p] += hd[p]
    dad = _dot(d, ad)
    if dad <= 0:
        return d, hd, True
    alpha = _dot(r, d) / dad
    for p in range(n):
        x[p] += alpha * d[p]
        r[p] -= alpha * ad[p]
    if k == iters - 1 or np.sqrt(_dot(r, r)) <= stop:
        return d, hd, True
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
    return d, hd, False


@jit(boundscheck=False)
def _pcg(b, rtol, iters, ds, ads, hds, dads,
         sparse, h, indptr, indices, data, cen, a3, slopes, w3, hw, softmax, pen, use_pen,
         v, vt, ev, kinv, dinv, dinv_live, idx):  # pragma: no cover - compiled
    """`pricing.numerics.cg.pcg(matvec, b, precond, carry_h=True, reorth=True)` with the two operators inline."""
    x, r, stop, d, hd, ad, done = _cg_start(b, rtol, iters, v, vt, ev, kinv, dinv, dinv_live, idx)
    if done:
        return x
    for k in range(iters):
        _ggn(d, sparse, h, indptr, indices, data, cen, a3, slopes, w3, hw, softmax, pen, use_pen, ad)
        d, hd, done = _cg_step(k, iters, stop, x, r, d, hd, ad, ds, ads, hds, dads, v, vt, ev, kinv, dinv, dinv_live, idx)
        if done:
            break
    return x


# --- the whole network-Newton refit of a one-hidden-layer network (`compiled.refit`) ---

_RELU, _TANH, _SIGMOID = 0, 1, 2  # the activation codes `compiled.refit` passes


@jit(boundscheck=False)
def _hmul(x, v, vt, ev, g, dd, d_live, idx):  # pragma: no cover - compiled
    """Curvature @ x: H~ x = D x + V (ev c - V'D x + V'D V c) - D V c, c = V'x."""
    c, vdx = _project_pair_nb(v, x, d_live, idx)
    out = dd * x
    _expand_pair_into_nb(out, vt, ev * c - vdx + g @ c, c, d_live, idx)
    return out


@jit(boundscheck=False)
def _first_out(theta, hid, d, sparse, h, indptr, indices, data, cen):  # pragma: no cover - compiled
    """`Rows.first_output`: the first linear layer's output on every row at theta."""
    nw = hid * d
    w1t = np.ascontiguousarray(theta[:nw].reshape((hid, d)).T)  # [d, hid]
    if sparse:
        z = _times(indptr, indices, data, cen @ w1t, w1t)
    else:
        z = h @ w1t
    for i in range(z.shape[0]):
        for j in range(hid):
            z[i, j] += theta[nw + j]
    return z


@jit(inline="always")
def _top_lse(row):  # pragma: no cover - compiled
    """(max, log-sum-exp of row - max) of one row of logits, as `loss_and_residual` shifts them."""
    top = row[0]
    for q in range(1, row.shape[0]):
        top = max(top, row[q])
    s = 0.0
    for q in range(row.shape[0]):
        s += np.exp(row[q] - top)
    return top, np.log(s)


@jit(inline="always")
def _act_rows(z, act, a3, slopes):  # pragma: no cover - compiled
    """The hidden layer's output and slopes from its input z, as `_fit` computes them."""
    for i in range(z.shape[0]):
        for j in range(z.shape[1]):
            u = z[i, j]
            if act == _RELU:
                a3[i, j] = max(u, 0.0)
                slopes[i, j] = 1.0 if u > 0.0 else 0.0
            elif act == _TANH:
                s = np.tanh(u)
                a3[i, j] = s
                slopes[i, j] = 1.0 - s ** 2
            else:
                s = 1.0 / (1.0 + np.exp(-u))
                a3[i, j] = s
                slopes[i, j] = s * (1.0 - s)


@jit(inline="always")
def _logits(a3, theta, o3, k, hid):  # pragma: no cover - compiled
    """The output layer's logits [rows, k] from the hidden layer's output a3 (theta's W3 and b3 at o3)."""
    w3t = np.ascontiguousarray(theta[o3:o3 + k * hid].reshape((k, hid)).T)  # [hid, k]
    logits = a3 @ w3t
    for i in range(a3.shape[0]):
        for q in range(k):
            logits[i, q] += theta[o3 + k * hid + q]
    return logits


@jit(inline="always")
def _row_loss(lrow, yi, k, rrow):  # pragma: no cover - compiled
    """One bundle row's log-loss at its logits `lrow` (label yi); its residual is written to rrow."""
    if k == 1:
        u = lrow[0]
        rrow[0] = 1.0 / (1.0 + np.exp(-u)) - yi
        return np.logaddexp(0.0, u) - yi * u
    top, lse = _top_lse(lrow)
    for q in range(k):
        rrow[q] = np.exp(lrow[q] - top - lse)
    rrow[yi] -= 1.0
    return lse - (lrow[yi] - top)


@jit(inline="always")
def _row_soft(lrow, t, k, a_weight, rrow):  # pragma: no cover - compiled
    """One anchor row's cross-entropy against its soft target t; its weighted residual goes to rrow."""
    if k == 1:
        u = lrow[0]
        rrow[0] = a_weight * (1.0 / (1.0 + np.exp(-u)) - t[0])
        return np.logaddexp(0.0, u) - t[0] * u
    top, lse = _top_lse(lrow)
    tz = 0.0
    for q in range(k):
        tz += t[q] * (lrow[q] - top)
    for q in range(k):
        rrow[q] = a_weight * (np.exp(lrow[q] - top - lse) - t[q])
    return lse - tz


@jit(boundscheck=False)
def _fit(theta, z, act, hid, d, k, m, y, anchored, a_target, a_weight, a_theta0, a_decay):  # pragma: no cover
    """The refit's `fit`: the bundle's summed log-loss (plus the anchor's objective) at theta from
    the first layer's output z, with the hidden layer's output a3, its slopes and every row's
    residual (the anchor's weighted), as `Network.forward`, `loss_and_residual` and
    `Anchor.on_logits` compute them."""
    n_rows = z.shape[0]
    a3 = np.empty((n_rows, hid))
    slopes = np.empty((n_rows, hid))
    _act_rows(z, act, a3, slopes)
    logits = _logits(a3, theta, hid * d + hid, k, hid)
    resid = np.empty((n_rows, k))
    loss = 0.0
    for i in range(m):
        loss += _row_loss(logits[i], y[i], k, resid[i])
    if anchored:
        soft = 0.0
        for i in range(m, n_rows):
            soft += _row_soft(logits[i], a_target[i - m], k, a_weight, resid[i])
        dl = theta - a_theta0
        loss += a_weight * soft + 0.5 * _dot(dl, a_decay * dl)
    return loss, logits, a3, slopes, resid


@jit(boundscheck=False)
def _hess_weights(logits, m):  # pragma: no cover - compiled
    """`calculus.logit_hessian_weights` of the bundle's rows (the first m)."""
    k = logits.shape[1]
    hw = np.empty((m, k))
    for i in range(m):
        if k == 1:
            s = 1.0 / (1.0 + np.exp(-logits[i, 0]))
            hw[i, 0] = s * (1.0 - s)
        else:
            top = logits[i, 0]
            for q in range(1, k):
                top = max(top, logits[i, q])
            tot = 0.0
            for q in range(k):
                hw[i, q] = np.exp(logits[i, q] - top)
                tot += hw[i, q]
            for q in range(k):
                hw[i, q] /= tot
    return hw


@jit(boundscheck=False)
def _refit(theta0, steps, cg_iters, cg_tol, newton_tol, c1, halvings, ds, ads, hds, dads, act, hid, d, k,
           sparse, h, indptr, indices, data, cen, m, y, pen, use_pen,
           anchored, a_target, a_weight, a_theta0, a_decay,
           v, vt, ev, g_vdv, kinv, dd, dinv, d_live, dinv_live, idx):  # pragma: no cover - compiled
    """`refit.network_refit` for a one-hidden-layer network, every step in one call:
    the backward pass, `_pcg`, the line's first-layer direction and quadratic, and Armijo's
    trials (`pricing.numerics.linesearch.armijo`: t = 1, 1/2, ..., `halvings` of them)."""
    n = theta0.shape[0]
    nw1 = hid * d
    o3 = nw1 + hid
    end = indptr[m] if sparse else 0
    b_indptr, b_indices, b_data = indptr[:m + 1], indices[:end], data[:end]
    b_h = np.ascontiguousarray(h[:m]) if not sparse else h
    theta = theta0.copy()
    z = _first_out(theta, hid, d, sparse, h, indptr, indices, data, cen)
    f, logits, a3, slopes, resid = _fit(theta, z, act, hid, d, k, m, y, anchored, a_target, a_weight, a_theta0, a_decay)
    f += 0.5 * _dot(theta, pen * theta)
    g_t = np.zeros(n)
    hs = np.zeros(n)
    for _ in range(steps):
        w3 = np.ascontiguousarray(theta[o3:o3 + k * hid].reshape((k, hid)))
        g_x = np.empty(n)
        _back(resid, sparse, h, indptr, indices, data, cen, a3, slopes, w3, g_x)
        if anchored:
            for p in range(n):
                g_x[p] += a_decay[p] * (theta[p] - a_theta0[p])
        g = g_t + pen * theta + g_x
        hw = _hess_weights(logits, m)
        solved = _pcg(g, cg_tol, cg_iters, ds, ads, hds, dads, sparse, b_h, b_indptr, b_indices, b_data, cen,
                      np.ascontiguousarray(a3[:m]), np.ascontiguousarray(slopes[:m]), w3, hw, k > 1, pen, use_pen,
                      v, vt, ev, kinv, dinv, dinv_live, idx)
        step = -solved
        slope = _dot(g, step)
        if not slope < 0 or -0.5 * slope <= newton_tol:  # the Newton-decrement stop (0: every step)
            break
        dz = _first_out(step, hid, d, sparse, h, indptr, indices, data, cen)
        qa = qb = qc = 0.0
        if not anchored:
            hs = _hmul(step, v, vt, ev, g_vdv, dd, d_live, idx)
            dl = theta - theta0
            qa = _dot(dl, g_t) + _dot(theta, pen * theta)
            qb = _dot(dl, hs) + _dot(theta, pen * step)
            qc = _dot(step, hs) + _dot(step, pen * step)
        t = 1.0
        accepted = False
        for _trial in range(halvings):
            cand = theta + t * step
            z_c = z + t * dz
            value, l_c, a3_c, s_c, r_c = _fit(cand, z_c, act, hid, d, k, m, y, anchored, a_target, a_weight,
                                              a_theta0, a_decay)
            if anchored:
                value += 0.5 * _dot(cand, pen * cand)
            else:
                value += 0.5 * (qa + 2.0 * t * qb + t * t * qc)
            if value <= f + c1 * t * slope:
                accepted = True
                theta, f, z, logits, a3, slopes, resid = cand, value, z_c, l_c, a3_c, s_c, r_c
                break
            t *= 0.5
        if not accepted:
            break
        if not anchored:
            g_t = g_t + t * hs
    return theta


@jit(boundscheck=False)
def _probe(theta, act, hid, d, k, sparse, h, indptr, indices, data, cen, y, grad, res):  # pragma: no cover
    """The summed log-loss of rows (y their labels) at theta, and with `grad` its flat gradient
    into res: `method._probe_loss` before its division by the row count."""
    z = _first_out(theta, hid, d, sparse, h, indptr, indices, data, cen)
    loss, logits, a3, slopes, resid = _fit(theta, z, act, hid, d, k, y.shape[0], y, False, np.zeros((0, k)), 0.0,
                                           theta, theta)
    if grad:
        o3 = hid * d + hid
        w3 = np.ascontiguousarray(theta[o3:o3 + k * hid].reshape((k, hid)))
        _back(resid, sparse, h, indptr, indices, data, cen, a3, slopes, w3, res)
    return loss


@jit(boundscheck=False)
def _scores(theta, s, act, hid, d, k, sparse, h, indptr, indices, data, cen, y):  # pragma: no cover - compiled
    """Per row: the log-loss gradient at theta dotted with direction s, grad l_i . s = r_i' J_i s
    (`calculus.jvp` of the forward pass at theta, and `loss_and_residual`'s residual r_i)."""
    m = y.shape[0]
    z = _first_out(theta, hid, d, sparse, h, indptr, indices, data, cen)
    _, logits, a3, slopes, resid = _fit(theta, z, act, hid, d, k, m, y, False, np.zeros((0, k)), 0.0, theta, theta)
    t = _first_out(s, hid, d, sparse, h, indptr, indices, data, cen)  # the first layer is linear in theta
    for i in range(m):
        for j in range(hid):
            t[i, j] *= slopes[i, j]
    o3 = hid * d + hid
    w3t = np.ascontiguousarray(theta[o3:o3 + k * hid].reshape((k, hid)).T)
    v3t = np.ascontiguousarray(s[o3:o3 + k * hid].reshape((k, hid)).T)
    out = a3 @ v3t
    jv = t @ w3t
    sc = np.zeros(m)
    for i in range(m):
        for q in range(k):
            sc[i] += resid[i, q] * (jv[i, q] + (out[i, q] + s[o3 + k * hid + q]))
    return sc


# --- the same refit and scores streamed over blocks of rows (`compiled.refit`, `compiled.record_scores`) ---
#
# The whole-array kernels above hold a dozen [rows, hidden] arrays (first-layer outputs, their
# change along a step, activations, slopes, residuals, and the CG products' temporaries) and a
# standardised copy of the rows: at 1,000,000 x 64 each is the release's own size. The kernels
# below keep at most one such array, the first layer's output z (a line search moves along it,
# z + t dz, as above), and the logit-space curvature weights ([bundle rows, logits]), and only
# up to `WHOLE_ROWS` rows: above it z arrives empty and every pass recomputes z and the
# weights from theta a block at a time (`compiled.z_store_for`; one more [block, d] x [d,
# hidden] product per GGN product, memory O(block):
# docs/decisions/2026-12-07-million-row-memory.md). Everything else is
# computed a block of `ROW_BLOCK` rows at a time from the raw rows (standardised per block) and
# z. Per-row values are the same numbers as above (the same operations on each row); sums over
# rows run block after block in row order: a running sum over rows (losses, biases' gradients)
# is the same sum, and a BLAS product summed over rows (the weights' gradients) is one product a
# block, added in block order. So a refit streamed as one block is the whole-array refit bit
# for bit, and one of several blocks differs from it by the rounding of that
# blocking: fixed by the row count alone, never by the machine (`stream_block`;
# docs/decisions/2026-12-06-million-row-pricing.md).

#: rows a streamed pass takes at a time: 1,024 x 64 float64 rows stay in cache (at 100,000 rows
#: 1,024 took 14.0 s, 8,192 took 18.1 s, the whole-array kernels 29.2 s)
ROW_BLOCK = 1024
#: passes over at most this many rows (bundle and anchor) stream as one block, bit for bit the
#: whole-array kernels (`compiled.refit` runs the whole-array refit itself there, faster):
#: every bundle of the benchmark's report is (at most 4,600 rows)
WHOLE_ROWS = 8192


def stream_block(n_rows: int) -> int:
    """The rows a streamed pass over `n_rows` rows takes at a time: all of them up to
    `WHOLE_ROWS`, else `ROW_BLOCK`. A function of the row count alone, so a price replays."""
    return max(1, n_rows) if n_rows <= WHOLE_ROWS else ROW_BLOCK


@jit(boundscheck=False, error_model="numpy")
def _rows_h(s, e, m, xr, std, mean, scale, ah, buf):  # pragma: no cover - compiled
    """Rows [s, e) of the first linear layer's dense input (the bundle's rows x, standardised
    as `Network.forward` does, then the anchor's first-layer input ah), into buf. numpy's error
    model: a division by zero gives inf, as numpy's does, not Python's exception, so the
    division vectorises (4x faster; the same quotients, IEEE division either way)."""
    d = buf.shape[1]
    for i in range(e - s):
        r = s + i
        out = buf[i]
        if r < m:
            src = xr[r]
            if std:
                for c in range(d):
                    out[c] = (src[c] - mean[c]) / scale[c]
            else:
                for c in range(d):
                    out[c] = src[c]
        else:
            src = ah[r - m]
            for c in range(d):
                out[c] = src[c]
    return buf[:e - s]


@jit(boundscheck=False)
def _rows_out(s, e, hb, sparse, indptr, indices, data, cb, b1t, theta, nw, hid):  # pragma: no cover
    """Rows [s, e) of `_first_out`: the rows' first-layer input times b1t plus theta's bias."""
    if sparse:
        z = _times(indptr[s:e + 1], indices, data, cb, b1t)
    else:
        z = hb @ b1t
    for i in range(z.shape[0]):
        for j in range(hid):
            z[i, j] += theta[nw + j]
    return z


@jit(boundscheck=False)
def _fit_rows(theta, z, s0, act, hid, d, k, m, y, anchored, a_target, a_weight, acc):  # pragma: no cover
    """`_fit` on rows [s0, s0 + len(z)) of the stacked rows (bundle, then anchor): their
    logits, activations, slopes and residuals; adds the bundle rows' log-losses to acc[0] and
    the anchor rows' cross-entropies to acc[1], row by row, as `_fit`'s two running sums."""
    n_rows = z.shape[0]
    a3 = np.empty((n_rows, hid))
    slopes = np.empty((n_rows, hid))
    _act_rows(z, act, a3, slopes)
    logits = _logits(a3, theta, hid * d + hid, k, hid)
    resid = np.empty((n_rows, k))
    loss = acc[0]
    soft = acc[1]
    for i in range(n_rows):
        r = s0 + i
        if r < m:
            loss += _row_loss(logits[i], y[r], k, resid[i])
        elif anchored:
            soft += _row_soft(logits[i], a_target[r - m], k, a_weight, resid[i])
    acc[0] = loss
    acc[1] = soft
    return logits, a3, slopes, resid


@jit(inline="always")
def _fit_total(acc, theta, anchored, a_weight, a_theta0, a_decay):  # pragma: no cover - compiled
    """`_fit`'s objective from the running sums of `_fit_rows`."""
    loss = acc[0]
    if anchored:
        dl = theta - a_theta0
        loss += a_weight * acc[1] + 0.5 * _dot(dl, a_decay * dl)
    return loss


@jit(boundscheck=False)
def _back_rows(g, hb, sparse, indptr, indices, data, a3, slopes, w3, first, acc3, accb3, acc1, accgs):  # pragma: no cover
    """A block's share of `_back`: its products summed into acc3 ([k, hid]) and acc1 (the
    first layer's [hid, d], or [d, hid] for sparse rows), assigned by the first block and added
    by the others in block order; the column sums carried row by row in accb3 and accgs."""
    m, hid = slopes.shape
    k = w3.shape[0]
    p3 = g.T @ a3
    if first:
        acc3[:, :] = p3
    else:
        acc3 += p3
    for i in range(m):
        for q in range(k):
            accb3[q] += g[i, q]
    g2 = g @ w3
    for i in range(m):
        for j in range(hid):
            g2[i, j] *= slopes[i, j]
    for i in range(m):
        for j in range(hid):
            accgs[j] += g2[i, j]
    if sparse:
        for i in range(m):
            gi = g2[i]
            for p in range(indptr[i], indptr[i + 1]):
                v = data[p]
                row = acc1[indices[p]]
                for q in range(hid):
                    row[q] += v * gi[q]
    else:
        p1 = g2.T @ hb
        if first:
            acc1[:, :] = p1
        else:
            acc1 += p1


@jit(boundscheck=False)
def _back_done(sparse, cen, acc3, accb3, acc1, accgs, res):  # pragma: no cover - compiled
    """res = the flat gradient `_back` writes, from `_back_rows`' sums."""
    k, hid = acc3.shape
    d = cen.shape[0]
    nw1 = hid * d
    o3 = nw1 + hid
    res[o3:o3 + k * hid] = acc3.ravel()
    res[o3 + k * hid:o3 + k * hid + k] = accb3
    if sparse:
        for j in range(hid):
            for c in range(d):
                res[j * d + c] = acc1[c, j] - cen[c] * accgs[j]
    else:
        res[:nw1] = acc1.ravel()
    res[nw1:nw1 + hid] = accgs


@jit(inline="always")
def _hw_row(row, out):  # pragma: no cover - compiled
    """One row of `_hess_weights`."""
    k = row.shape[0]
    if k == 1:
        s = 1.0 / (1.0 + np.exp(-row[0]))
        out[0] = s * (1.0 - s)
    else:
        top = row[0]
        for q in range(1, k):
            top = max(top, row[q])
        tot = 0.0
        for q in range(k):
            out[q] = np.exp(row[q] - top)
            tot += out[q]
        for q in range(k):
            out[q] /= tot


@jit(boundscheck=False)
def _grad_pass(theta, step, t, update, z, hw, block, act, hid, d, k, sparse, xr, std, mean, scale, ah,
               indptr, indices, data, cen, m, y, anchored, a_target, a_weight, a_theta0, a_decay, res):  # pragma: no cover
    """One pass over every row at theta: z = the first layer's output (from scratch, or with
    `update` moved to theta = old + t step as z + t dz), the curvature weights hw of the bundle's
    rows, the flat gradient of the fit into res (`_back` of `_fit`'s residuals); returns `_fit`'s
    objective. An empty z (no rows: `keep_z` off) keeps nothing: each block's output is
    computed from theta and dropped."""
    keep = z.shape[0] > 0
    n_rows = z.shape[0] if keep else m + ah.shape[0] if not sparse else indptr.shape[0] - 1
    nw = hid * d
    o3 = nw + hid
    update = update and keep
    src = step if update else theta
    b1t = np.ascontiguousarray(src[:nw].reshape((hid, d)).T)
    cb = cen @ b1t
    w3 = np.ascontiguousarray(theta[o3:o3 + k * hid].reshape((k, hid)))
    acc = np.zeros(2)
    acc3 = np.empty((k, hid))
    accb3 = np.zeros(k)
    acc1 = np.zeros((d, hid)) if sparse else np.empty((hid, d))
    accgs = np.zeros(hid)
    buf = np.empty((0 if sparse else min(block, n_rows), d))
    for s in range(0, n_rows, block):
        e = min(n_rows, s + block)
        hb = buf if sparse else _rows_h(s, e, m, xr, std, mean, scale, ah, buf)
        out = _rows_out(s, e, hb, sparse, indptr, indices, data, cb, b1t, src, nw, hid)
        if update:
            zb = z[s:e] + t * out
            z[s:e] = zb
        else:
            zb = out
            if keep:
                z[s:e] = out
        logits, a3, slopes, resid = _fit_rows(theta, zb, s, act, hid, d, k, m, y, anchored, a_target, a_weight, acc)
        if keep:
            for i in range(min(e, m) - s):
                _hw_row(logits[i], hw[s + i])
        _back_rows(resid, hb, sparse, indptr[s:e + 1], indices, data, a3, slopes, w3, s == 0, acc3, accb3, acc1, accgs)
    _back_done(sparse, cen, acc3, accb3, acc1, accgs, res)
    return _fit_total(acc, theta, anchored, a_weight, a_theta0, a_decay)


@jit(boundscheck=False)
def _trial_pass(cand, step, t, z, block, act, hid, d, k, sparse, xr, std, mean, scale, ah,
                indptr, indices, data, cen, m, y, anchored, a_target, a_weight, a_theta0, a_decay):  # pragma: no cover
    """`_fit`'s objective at cand = theta + t step, from z + t dz a block at a time (z unchanged);
    with an empty z, from cand's own first-layer output, a block at a time."""
    keep = z.shape[0] > 0
    n_rows = z.shape[0] if keep else m + ah.shape[0] if not sparse else indptr.shape[0] - 1
    nw = hid * d
    src = step if keep else cand
    s1t = np.ascontiguousarray(src[:nw].reshape((hid, d)).T)
    cb = cen @ s1t
    acc = np.zeros(2)
    buf = np.empty((0 if sparse else min(block, n_rows), d))
    for s in range(0, n_rows, block):
        e = min(n_rows, s + block)
        hb = buf if sparse else _rows_h(s, e, m, xr, std, mean, scale, ah, buf)
        dz = _rows_out(s, e, hb, sparse, indptr, indices, data, cb, s1t, src, nw, hid)
        _fit_rows(cand, z[s:e] + t * dz if keep else dz, s, act, hid, d, k, m, y, anchored, a_target, a_weight, acc)
    return _fit_total(acc, cand, anchored, a_weight, a_theta0, a_decay)


@jit(boundscheck=False)
def _ggn_pass(vv, theta, z, hw, block, act, hid, d, k, sparse, xr, std, mean, scale, ah, indptr, indices, data,
              cen, m, pen, use_pen, res):  # pragma: no cover - compiled
    """`_ggn` over the bundle's rows a block at a time: activations and slopes from z (an empty
    z: from theta's first-layer output, recomputed a block at a time), the logit-space weights
    from hw, the rows from xr (or the CSR arrays)."""
    keep = z.shape[0] > 0
    nw1 = hid * d
    o3 = nw1 + hid
    softmax = k > 1
    w3 = np.ascontiguousarray(theta[o3:o3 + k * hid].reshape((k, hid)))
    v1t = np.ascontiguousarray(vv[:nw1].reshape((hid, d)).T)  # [d, hid]
    cb = cen @ v1t
    w1t = np.ascontiguousarray(theta[:nw1].reshape((hid, d)).T)
    cw = cen @ w1t
    w3t = np.ascontiguousarray(theta[o3:o3 + k * hid].reshape((k, hid)).T)  # [hid, k], as `_fit_rows`
    v3 = vv[o3:o3 + k * hid].reshape((k, hid))
    acc3 = np.empty((k, hid))
    accb3 = np.zeros(k)
    acc1 = np.zeros((d, hid)) if sparse else np.empty((hid, d))
    accgs = np.zeros(hid)
    nb = min(block, m)
    hwb = np.empty((0 if keep else nb, k))
    buf = np.empty((0 if sparse else nb, d))
    a3 = np.empty((nb, hid))
    slopes = np.empty((nb, hid))
    for s in range(0, m, block):
        e = min(m, s + block)
        n = e - s
        hb = buf if sparse else _rows_h(s, e, m, xr, std, mean, scale, ah, buf)
        a3b, sb = a3[:n], slopes[:n]
        if keep:
            _act_rows(z[s:e], act, a3b, sb)
            hwk = hw[s:e]
        else:  # z and the curvature weights from theta, as `_grad_pass` computed them
            _act_rows(_rows_out(s, e, hb, sparse, indptr, indices, data, cw, w1t, theta, nw1, hid), act, a3b, sb)
            logits = a3b @ w3t
            hwk = hwb[:n]
            for i in range(n):
                for q in range(k):
                    logits[i, q] += theta[o3 + k * hid + q]
                _hw_row(logits[i], hwk[i])
        if sparse:
            t = _times(indptr[s:e + 1], indices, data, cb, v1t)
        else:
            t = hb @ v1t
        for i in range(n):
            for j in range(hid):
                t[i, j] = (t[i, j] + vv[nw1 + j]) * sb[i, j]
        t3 = t @ w3.T + a3b @ v3.T
        for i in range(n):
            for q in range(k):
                t3[i, q] += vv[o3 + k * hid + q]
        g = np.empty((n, k))
        if softmax:
            for i in range(n):
                hwi = hwk[i]
                sm = 0.0
                for q in range(k):
                    sm += hwi[q] * t3[i, q]
                for q in range(k):
                    g[i, q] = hwi[q] * (t3[i, q] - sm)
        else:
            for i in range(n):
                for q in range(k):
                    g[i, q] = hwk[i, q] * t3[i, q]
        _back_rows(g, hb, sparse, indptr[s:e + 1], indices, data, a3b, sb, w3, s == 0, acc3, accb3, acc1, accgs)
    _back_done(sparse, cen, acc3, accb3, acc1, accgs, res)
    if use_pen:
        for p in range(res.shape[0]):
            res[p] += pen[p] * vv[p]
    return res


@jit(boundscheck=False)
def _pcg_pass(b, rtol, iters, ds, ads, hds, dads, theta, z, hw, block, act, hid, d, k, sparse, xr, std, mean, scale,
              ah, indptr, indices, data, cen, m, pen, use_pen, v, vt, ev, kinv, dinv, dinv_live, idx):  # pragma: no cover
    """`_pcg` with the bundle's GGN product streamed (`_ggn_pass`)."""
    x, r, stop, dd, hd, ad, done = _cg_start(b, rtol, iters, v, vt, ev, kinv, dinv, dinv_live, idx)
    if done:
        return x
    for it in range(iters):
        _ggn_pass(dd, theta, z, hw, block, act, hid, d, k, sparse, xr, std, mean, scale, ah, indptr, indices, data,
                  cen, m, pen, use_pen, ad)
        dd, hd, done = _cg_step(it, iters, stop, x, r, dd, hd, ad, ds, ads, hds, dads, v, vt, ev, kinv, dinv, dinv_live,
                                idx)
        if done:
            break
    return x


@jit(boundscheck=False)
def _refit_rows(theta0, steps, cg_iters, cg_tol, newton_tol, c1, halvings, ds, ads, hds, dads, block, z, act, hid, d,
                k, sparse, xr, std, mean, scale, ah, indptr, indices, data, cen, m, n_rows, y, pen, use_pen,
                anchored, a_target, a_weight, a_theta0, a_decay,
                v, vt, ev, g_vdv, kinv, dd, dinv, d_live, dinv_live, idx):  # pragma: no cover - compiled
    """`_refit` streamed: the same steps, CG solves and Armijo trials, with every pass over the
    rows a block at a time (`_grad_pass`, `_pcg_pass`, `_trial_pass`). Per step: the gradient
    pass (which, after the first step, also moves z to the accepted point), the CG products,
    one pass a trial. z is the caller's: [n_rows, hid] to keep the first layer's output between
    passes, or [0, hid] to recompute it a block at a time in every pass (`compiled.keep_z`);
    without z each trial but the last step's is a gradient pass at its point, and the accepted
    one's gradient is the next step's (the same numbers as a separate pass, one pass fewer)."""
    n = theta0.shape[0]
    theta = theta0.copy()
    keep = z.shape[0] > 0
    hw = np.empty((m if keep else 0, k))  # the bundle's curvature weights, kept with z
    g_x = np.empty(n)
    g_c = np.empty(n)  # without z: the gradient at the trial point, the next step's if it is accepted
    f = _grad_pass(theta, theta, 0.0, False, z, hw, block, act, hid, d, k, sparse, xr, std, mean, scale, ah,
                   indptr, indices, data, cen, m, y, anchored, a_target, a_weight, a_theta0, a_decay, g_x)
    f += 0.5 * _dot(theta, pen * theta)
    g_t = np.zeros(n)
    hs = np.zeros(n)
    for it in range(steps):
        if anchored:
            for p in range(n):
                g_x[p] += a_decay[p] * (theta[p] - a_theta0[p])
        g = g_t + pen * theta + g_x
        solved = _pcg_pass(g, cg_tol, cg_iters, ds, ads, hds, dads, theta, z, hw, block, act, hid, d, k, sparse, xr,
                           std, mean, scale, ah, indptr, indices, data, cen, m, pen, use_pen,
                           v, vt, ev, kinv, dinv, dinv_live, idx)
        step = -solved
        slope = _dot(g, step)
        if not slope < 0 or -0.5 * slope <= newton_tol:  # the Newton-decrement stop (0: every step)
            break
        qa = qb = qc = 0.0
        if not anchored:
            hs = _hmul(step, v, vt, ev, g_vdv, dd, d_live, idx)
            dl = theta - theta0
            qa = _dot(dl, g_t) + _dot(theta, pen * theta)
            qb = _dot(dl, hs) + _dot(theta, pen * step)
            qc = _dot(step, hs) + _dot(step, pen * step)
        t = 1.0
        accepted = False
        cand = theta
        # without z, a trial computes the first layer at cand, as the next step's gradient pass
        # would at the accepted cand: that pass is folded into the trial (its gradient, into
        # g_c, is the same numbers), one pass and product a step fewer for one backward per
        # refused trial (docs/decisions/2026-12-07-million-row-memory.md)
        fold = not keep and it < steps - 1
        for _trial in range(halvings):
            cand = theta + t * step
            if fold:
                value = _grad_pass(cand, cand, 0.0, False, z, hw, block, act, hid, d, k, sparse, xr, std, mean, scale,
                                   ah, indptr, indices, data, cen, m, y, anchored, a_target, a_weight, a_theta0,
                                   a_decay, g_c)
            else:
                value = _trial_pass(cand, step, t, z, block, act, hid, d, k, sparse, xr, std, mean, scale, ah,
                                    indptr, indices, data, cen, m, y, anchored, a_target, a_weight, a_theta0, a_decay)
            if anchored:
                value += 0.5 * _dot(cand, pen * cand)
            else:
                value += 0.5 * (qa + 2.0 * t * qb + t * t * qc)
            if value <= f + c1 * t * slope:
                accepted = True
                f = value
                break
            t *= 0.5
        if not accepted:
            break
        theta = cand
        if not anchored:
            g_t = g_t + t * hs
        if fold:  # the accepted trial's pass summed the next step's gradient
            g_x, g_c = g_c, g_x
        elif it < steps - 1:  # the next step's gradient, at the accepted point (z moves there)
            _grad_pass(theta, step, t, True, z, hw, block, act, hid, d, k, sparse, xr, std, mean, scale, ah,
                       indptr, indices, data, cen, m, y, anchored, a_target, a_weight, a_theta0, a_decay, g_x)
    return theta


@jit(boundscheck=False)
def _scores_rows(theta, s, block, act, hid, d, k, sparse, xr, std, mean, scale, indptr, indices, data, cen,
                 y):  # pragma: no cover - compiled
    """`_scores` a block of rows at a time: per row the same numbers, no [rows, hidden] array."""
    m = y.shape[0]
    nw = hid * d
    o3 = nw + hid
    w1t = np.ascontiguousarray(theta[:nw].reshape((hid, d)).T)
    s1t = np.ascontiguousarray(s[:nw].reshape((hid, d)).T)
    cw = cen @ w1t
    cs = cen @ s1t
    w3t = np.ascontiguousarray(theta[o3:o3 + k * hid].reshape((k, hid)).T)
    v3t = np.ascontiguousarray(s[o3:o3 + k * hid].reshape((k, hid)).T)
    sc = np.zeros(m)
    acc = np.zeros(2)
    buf = np.empty((0 if sparse else min(block, m), d))
    no_rows = np.zeros((0, d))
    for b0 in range(0, m, block):
        e = min(m, b0 + block)
        hb = buf if sparse else _rows_h(b0, e, m, xr, std, mean, scale, no_rows, buf)
        z = _rows_out(b0, e, hb, sparse, indptr, indices, data, cw, w1t, theta, nw, hid)
        _, a3, slopes, resid = _fit_rows(theta, z, b0, act, hid, d, k, m, y, False, np.zeros((0, k)), 0.0, acc)
        t = _rows_out(b0, e, hb, sparse, indptr, indices, data, cs, s1t, s, nw, hid)
        for i in range(e - b0):
            for j in range(hid):
                t[i, j] *= slopes[i, j]
        out = a3 @ v3t
        jv = t @ w3t
        for i in range(e - b0):
            for q in range(k):
                sc[b0 + i] += resid[i, q] * (jv[i, q] + (out[i, q] + s[o3 + k * hid + q]))
    return sc
