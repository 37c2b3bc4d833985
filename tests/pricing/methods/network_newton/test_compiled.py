"""The compiled network-Newton refit (`pricing._gn_step.refit`) and its CG solve against the numpy
path (`ggn_operator` + `Curvature.inv` + `pcg` + `armijo`) it replaces for one-hidden-layer
networks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricing.builders.curvature import network_curvature
from pricing.methods.network_newton import Curvature, network_refit
from pricing.methods.network_newton import calculus as nc
from pricing.methods.network_newton.compiled import _NO_DATA, COMPILED, _operands, one_hidden, refit
from pricing.methods.network_newton.kernels import _pcg
from pricing.methods.network_newton.rows import Rows
from pricing.methods.network_newton.sparse_rows import SparseRows
from pricing.numerics.cg import pcg, workspace
from pricing.numerics.linesearch import C1
from pricing.proxies import Network
from tests.pricing.methods.network_newton.reference import loss_grad



def _net(rng, kinds, d, hid, k):
    """A `[standardize,] linear, <act>, linear` network: d inputs, hid hidden units, k logits."""
    shapes = iter([(hid, d), (k, hid)])
    params = []
    for kind in kinds:
        if kind == "standardize":
            params.append({"mean": rng.normal(size=d) * 0.1, "scale": rng.uniform(0.5, 2.0, size=d)})
        elif kind == "linear":
            out, n_in = next(shapes)
            params.append({"weight": rng.normal(size=(out, n_in)) * 0.5, "bias": rng.normal(size=out) * 0.1})
        else:
            params.append({})
    return Network(list(kinds), params)


def _solve(net, acts, logits, g, curv, *, rtol, max_iter, penalty):
    """One step's CG solve through the compiled `_pcg`, as `_kernels._refit` calls it."""
    ds, ads, hds, dads = workspace(max_iter, g.shape[0])
    return _pcg(g, rtol, max_iter, ds, ads, hds, dads, *_operands(net, acts),
                np.ascontiguousarray(nc.logit_hessian_weights(logits)), logits.shape[1] > 1,
                _NO_DATA if penalty is None else penalty, penalty is not None,
                curv.v, curv.vt, curv.ev, curv.kinv, curv.dinv, curv.dinv_live, curv.idx)


def _curv(net, rng, d, rank=4):
    t = network_curvature(net, rng.normal(size=(30, d)), weight_decay=0.5, rank=rank)
    return Curvature(t["curvature.eigvecs"], t["curvature.eigvals"], t["curvature.diag"])


def _rows_x(rng, m, d, sparse):
    x = rng.normal(size=(m, d))
    if sparse:  # one-hot-like: most entries zero, so `Rows` takes `SparseRows`
        x *= rng.random((m, d)) < 0.1
    return x


def _refit_case(seed: int, act: str, k: int, m: int, scaler: bool, sparse: bool, penalty: bool, anchored: bool):
    """A random one-hidden-layer refit problem (7 inputs, 5 hidden units), drawn from `seed` in one
    fixed order: the generator (to draw on from), network, curvature, rows, labels, start, optional
    scaler penalty and anchor."""
    from pricing.methods.network_newton import Anchor

    rng = np.random.default_rng(seed)
    d, hid = 7, 5
    net = _net(rng, (["standardize"] if scaler else []) + ["linear", act, "linear"], d, hid, k)
    curv = _curv(net, rng, d)
    x = _rows_x(rng, m, d, sparse and scaler)
    y = rng.integers(0, max(k, 2), size=m)
    theta0 = nc.flat(net)
    pen = rng.uniform(-0.1, 0.5, size=theta0.shape[0]) if penalty else None
    anchor = Anchor(net, _rows_x(rng, 12, d, sparse and scaler), 2.5, 0.5) if anchored else None
    return rng, net, curv, x, y, theta0, pen, anchor


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31), act=st.sampled_from(["relu", "tanh", "sigmoid"]), k=st.sampled_from([1, 3]),
       scaler=st.booleans(), sparse=st.booleans(), penalty=st.booleans(), m=st.integers(1, 25),
       iters=st.integers(1, 12))
def test_compiled_step_solves_as_the_numpy_path(seed, act, k, scaler, sparse, penalty, m, iters):
    """The same CG iterations, so the same step to rounding, for every activation, one logit or
    a softmax, dense or sparse first-layer rows, with and without a scaler penalty."""
    rng = np.random.default_rng(seed)
    d, hid = 7, 5
    kinds = (["standardize"] if scaler else []) + ["linear", act, "linear"]
    net = _net(rng, kinds, d, hid, k)
    assert one_hidden(net.kinds)
    curv = _curv(net, rng, d)
    x = _rows_x(rng, m, d, sparse and scaler)
    rows = Rows(net, x, None)
    assert isinstance(rows.h, SparseRows) == (sparse and scaler and SparseRows.worthwhile(x))
    theta = nc.flat(net)
    logits, acts = rows.forward(net, rows.first_output(theta))
    g = rng.normal(size=theta.shape[0])
    pen = rng.uniform(-0.1, 0.5, size=theta.shape[0]) if penalty else None
    got = _solve(net, acts, logits, g, curv, rtol=1e-6, max_iter=iters, penalty=pen)
    ggn = nc.ggn_operator(net, acts, logits)
    matvec = ggn if pen is None else (lambda v: pen * v + ggn(v))
    want = pcg(matvec, g, curv.inv, rtol=1e-6, max_iter=iters, carry_h=True, reorth=True)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9 * max(1.0, float(np.abs(want).max())))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31), act=st.sampled_from(["relu", "tanh", "sigmoid"]), k=st.sampled_from([1, 3]),
       scaler=st.booleans(), sparse=st.booleans(), penalty=st.booleans(), anchored=st.booleans(),
       m=st.integers(1, 25), steps=st.integers(1, 5), iters=st.integers(1, 8),
       newton_tol=st.sampled_from([0.0, 1e-3, 1e-1, 10.0]), c1=st.sampled_from([C1, 0.5, 0.9]))
def test_compiled_refit_is_the_numpy_refit(seed, act, k, scaler, sparse, penalty, anchored, m, steps, iters,
                                           newton_tol, c1):
    """The whole refit in one compiled call takes the numpy loop's steps and line-search trials,
    so it ends at the same parameters to rounding: every activation, one logit or a softmax,
    dense or sparse rows, with and without a scaler penalty, an anchor or a Newton-decrement stop,
    and any Armijo constant (a demanding one rejects trials the default takes)."""
    _, net, curv, x, y, theta0, pen, anchor = _refit_case(seed, act, k, m, scaler, sparse, penalty, anchored)
    kw = dict(cg_iters=iters, cg_tol=1e-3, newton_tol=newton_tol, penalty=pen, anchor=anchor, c1=c1)
    assert refit(net, x, y, theta0, curv, steps=steps, workspace=workspace,
                 **kw) is not None  # the compiled path is taken
    got = network_refit(net, x, y, theta0, curv, steps, **kw)
    want = network_refit(net, x, y, theta0, curv, steps, compiled=False, **kw)
    # both move, or (no descent direction, or every trial rejected) neither does
    assert np.array_equal(got, theta0) == np.array_equal(want, theta0)
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9 * max(1.0, float(np.abs(want).max())))


@pytest.mark.parametrize("anchored", [False, True])
def test_compiled_line_search_asks_armijos_sufficient_decrease(anchored):
    """Trials that lower the objective, but by less than c1 t |slope|, are rejected by the compiled
    line search as by `numerics.linesearch.armijo` (Nocedal & Wright 2006, alg. 3.1). With a
    demanding c1 the first trials here lower the objective too little, so the refit differs from
    the default constant's; a line search that took any decrease would land where that one does."""
    from pricing.methods.network_newton import Anchor

    rng = np.random.default_rng(11)
    d, hid, k = 7, 5, 3
    net = _net(rng, ["standardize", "linear", "tanh", "linear"], d, hid, k)
    curv = _curv(net, rng, d)
    x, y = rng.normal(size=(20, d)), rng.integers(0, k, size=20)
    theta0 = nc.flat(net)
    anchor = Anchor(net, rng.normal(size=(12, d)), 2.5, 0.5) if anchored else None
    kw = dict(cg_iters=8, cg_tol=1e-3, anchor=anchor)
    strict = network_refit(net, x, y, theta0, curv, 3, c1=0.9, **kw)
    strict_numpy = network_refit(net, x, y, theta0, curv, 3, c1=0.9, compiled=False, **kw)
    default = network_refit(net, x, y, theta0, curv, 3, **kw)
    scale = max(1.0, float(np.abs(strict_numpy).max()))
    assert np.abs(strict_numpy - default).max() > 1e-3 * scale  # the constant decides which trial is taken
    np.testing.assert_allclose(strict, strict_numpy, rtol=0, atol=1e-9 * scale)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), anchored=st.booleans(), compiled=st.booleans(), m=st.integers(1, 25),
       newton_tol=st.floats(1e-6, 1.0, allow_subnormal=False))
def test_newton_decrement_stop_truncates_the_same_refit(seed, anchored, compiled, m, newton_tol):
    """A Newton-decrement stop only ends the refit early: it lands where the refit without it
    lands after some number of its steps (none when the first step predicts too little), and a
    tolerance that no step's predicted decrease exceeds stops before the first step."""
    from pricing.methods.network_newton import Anchor

    rng = np.random.default_rng(seed)
    d, hid, k, steps = 7, 5, 3, 5
    net = _net(rng, ["linear", "tanh", "linear"], d, hid, k)
    curv = _curv(net, rng, d)
    x, y = rng.normal(size=(m, d)), rng.integers(0, k, size=m)
    theta0 = nc.flat(net)
    anchor = Anchor(net, rng.normal(size=(12, d)), 2.5, 0.5) if anchored else None
    kw = dict(cg_iters=6, cg_tol=1e-3, anchor=anchor, compiled=compiled)
    got = network_refit(net, x, y, theta0, curv, steps, newton_tol=newton_tol, **kw)
    path = [theta0] + [network_refit(net, x, y, theta0, curv, j, **kw) for j in range(1, steps + 1)]
    assert any(np.array_equal(got, p) for p in path)
    assert np.array_equal(network_refit(net, x, y, theta0, curv, steps, newton_tol=0.0, **kw), path[-1])
    assert np.array_equal(network_refit(net, x, y, theta0, curv, steps, newton_tol=1e300, **kw), theta0)


@pytest.mark.parametrize("kinds", [["linear", "relu", "linear", "relu", "linear"], ["linear", "linear"],
                                   ["standardize", "linear"], ["linear", "relu", "relu", "linear"]])
def test_other_networks_keep_the_numpy_path(kinds):
    """refit declines what it does not compile, and the refit is then the numpy one."""
    assert not one_hidden(kinds)
    rng = np.random.default_rng(1)
    params = []
    width = 4
    for i, kind in enumerate(kinds):
        if kind == "linear":
            out = 2 if i == len(kinds) - 1 else 4
            params.append({"weight": rng.normal(size=(out, width)), "bias": rng.normal(size=out)})
            width = out
        elif kind == "standardize":
            params.append({"mean": np.zeros(width), "scale": np.ones(width)})
        else:
            params.append({})
    net = Network(kinds, params)
    x_tr, x, y = rng.normal(size=(20, 4)), rng.normal(size=(6, 4)), rng.integers(0, 2, size=6)
    t = network_curvature(net, x_tr, weight_decay=0.5, rank=3)
    curv = Curvature(t["curvature.eigvecs"], t["curvature.eigvals"], t["curvature.diag"])
    theta0 = nc.flat(net)
    assert refit(net, x, y, theta0, curv, steps=3, cg_iters=4, cg_tol=1e-3, newton_tol=0.0,
                 penalty=None, anchor=None, workspace=workspace) is None
    a = network_refit(net, x, y, theta0, curv, 3, cg_iters=4)
    b = network_refit(net, x, y, theta0, curv, 3, cg_iters=4, compiled=False)
    assert np.array_equal(a, b)


def test_compiled_refit_prices_as_the_numpy_refit(digits_small, fit_pipeline):
    """A whole anchored quote with the scaler refit declared: the compiled solves give the numpy
    refit's efficacy and scores to rounding."""
    from pricing import parse_spec
    from pricing.builders import build_spec
    from pricing.methods import get_method
    from pricing.methods.network_newton import NetworkNewton

    ds = digits_small
    tr, va = ds["train"], ds["val"]
    model = fit_pipeline(16, alpha=1.0, max_iter=300)
    raw = build_spec("network-newton", model, ds["x"][tr], ds["y"][tr], ds["x"][va], ds["y"][va], classes=3,
                     rank=8, hyper={"refit_scaler": 1.0}, anchor=ds["x"][tr])
    spec = parse_spec(raw)
    method = get_method("network-newton")
    pick = ds["pool"][:40]
    x, y = ds["x"][pick], ds["y"][pick].copy()
    y[::3] = (y[::3] + 1) % 3  # some flipped labels, so the refit moves
    fast = method.efficacy(spec, x, y)
    ref = NetworkNewton(compiled=False).efficacy(spec, x, y)
    assert fast.total != 0.0
    assert fast.total == pytest.approx(ref.total, rel=1e-8, abs=1e-12)
    np.testing.assert_allclose(fast.scores, ref.scores, rtol=1e-7, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), act=st.sampled_from(["relu", "tanh", "sigmoid"]), k=st.sampled_from([1, 3]),
       scaler=st.booleans(), sparse=st.booleans(), m=st.integers(1, 25))
def test_compiled_backward_is_the_numpy_gradient(seed, act, k, scaler, sparse, m):
    """`flat_grad` compiled: the gradient `_netcurv.flat_grad` gives, to rounding."""
    from pricing.methods.network_newton.compiled import flat_grad

    rng = np.random.default_rng(seed)
    d, hid = 7, 5
    net = _net(rng, (["standardize"] if scaler else []) + ["linear", act, "linear"], d, hid, k)
    rows = Rows(net, _rows_x(rng, m, d, sparse and scaler), None)
    logits, acts = rows.forward(net, rows.first_output(nc.flat(net)))
    resid = rng.normal(size=logits.shape)
    want = nc.flat_grad(net, acts, resid)
    np.testing.assert_allclose(flat_grad(net, acts, resid), want, rtol=0, atol=1e-12 * max(1.0, float(np.abs(want).max())))


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), act=st.sampled_from(["relu", "tanh", "sigmoid"]), k=st.sampled_from([1, 3]),
       scaler=st.booleans(), sparse=st.booleans(), m=st.integers(1, 25))
def test_compiled_probe_loss_and_scores_are_numpys(seed, act, k, scaler, sparse, m):
    """The quote's last steps compiled: the probe's mean loss and gradient (`probe_loss`) and each
    record's gradient dotted with a direction (`record_scores`), against `_netcurv`'s."""
    from pricing.methods.network_newton.compiled import probe_loss, record_scores

    rng = np.random.default_rng(seed)
    d, hid = 7, 5
    net = _net(rng, (["standardize"] if scaler else []) + ["linear", act, "linear"], d, hid, k)
    x = _rows_x(rng, m, d, sparse and scaler)
    y = rng.integers(0, max(k, 2), size=m)
    theta, s = nc.flat(net), rng.normal(size=nc.flat(net).shape[0])
    rows = Rows(net, x, None)
    loss, grad = probe_loss(net, rows, theta, y, grad=True)
    want_loss, want_grad = loss_grad(net, x, y)[:2]
    assert loss == pytest.approx(want_loss / m, rel=1e-12)
    assert probe_loss(net, rows, theta, y, grad=False) == (loss, None)  # the same loss with or without the gradient
    np.testing.assert_allclose(grad, want_grad / m, rtol=0, atol=1e-12 * max(1.0, float(np.abs(want_grad).max())))
    logits, acts = net.forward(x, keep=True)
    want = (nc.loss_and_residual(logits, y)[1] * nc.jvp(net, acts, s)).sum(axis=1)
    np.testing.assert_allclose(record_scores(net, x, theta, y, s), want, rtol=0,
                               atol=1e-12 * max(1.0, float(np.abs(want).max())))


@given(n=st.integers(0, 40), seed=st.integers(0, 2**16))
def test_the_compiled_dot_sums_every_term_in_its_fixed_lanes(n, seed):
    from pricing.methods.network_newton.kernels import _dot

    rng = np.random.default_rng(seed)
    a, b = rng.normal(size=n), rng.normal(size=n)
    lanes = [sum(a[i] * b[i] for i in range(l, n - n % 8, 8)) for l in range(8)]  # lane l: i = l mod 8, in order
    expect = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) + ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]))
    for i in range(n - n % 8, n):
        expect += a[i] * b[i]
    assert _dot(a, b) == expect  # the documented order, bit for bit
    assert _dot(a, b) == pytest.approx(float(a @ b), rel=1e-12, abs=1e-12)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31), act=st.sampled_from(["relu", "tanh", "sigmoid"]), k=st.sampled_from([1, 3]),
       scaler=st.booleans(), sparse=st.booleans(), penalty=st.booleans(), anchored=st.booleans(),
       m=st.integers(1, 40), steps=st.integers(1, 5), iters=st.integers(1, 8), block=st.integers(1, 30),
       c1=st.sampled_from([C1, 0.5]), z_store=st.sampled_from(["keep", "recompute"]))
def test_streamed_refit_is_the_whole_array_refit(seed, act, k, scaler, sparse, penalty, anchored, m, steps, iters,
                                                 block, c1, z_store):
    """The refit streamed `block` rows at a time (`kernels._refit_rows`) against the whole-array
    kernel (`block=None`): bit for bit when one block holds every row (bundle and anchor), and
    to rounding when the rows' sums run block by block, with the first layer's output kept
    between passes or recomputed a block at a time (`z_store`); the same for the records' scores."""
    from pricing.methods.network_newton.compiled import record_scores

    rng, net, curv, x, y, theta0, pen, anchor = _refit_case(seed, act, k, m, scaler, sparse, penalty, anchored)
    kw = dict(cg_iters=iters, cg_tol=1e-3, penalty=pen, anchor=anchor, c1=c1)
    whole = network_refit(net, x, y, theta0, curv, steps, block=None, **kw)
    one = network_refit(net, x, y, theta0, curv, steps, block=m + 12, **kw)
    auto = network_refit(net, x, y, theta0, curv, steps, **kw)  # `AUTO`: one block up to WHOLE_ROWS rows
    assert np.array_equal(one, whole) and np.array_equal(auto, whole)
    blocks = network_refit(net, x, y, theta0, curv, steps, block=block, z_store=z_store, **kw)
    np.testing.assert_allclose(blocks, whole, rtol=0, atol=1e-9 * max(1.0, float(np.abs(whole).max())))
    s = rng.normal(size=theta0.shape[0])
    want = record_scores(net, x, whole, y, s, block=None)
    assert np.array_equal(record_scores(net, x, whole, y, s), want)
    np.testing.assert_allclose(record_scores(net, x, whole, y, s, block=block), want, rtol=0,
                               atol=1e-12 * max(1.0, float(np.abs(want).max())))


def test_streamed_refit_refuses_a_block_of_no_rows():
    rng = np.random.default_rng(0)
    net = _net(rng, ["linear", "relu", "linear"], 3, 4, 1)
    curv = _curv(net, rng, 3)
    for bad in (0, -3, 2.5, True):
        with pytest.raises(ValueError, match="block must be a positive number of rows"):
            network_refit(net, rng.normal(size=(5, 3)), np.zeros(5, dtype=np.int64), nc.flat(net), curv, 1, block=bad)


def test_the_first_layer_output_is_kept_only_where_the_refit_is_one_block():
    """Up to `WHOLE_ROWS` rows z is kept (the whole-array refit bit for bit); above, it is
    recomputed a block at a time, so the refit holds no [rows, hidden] array; a bad mode is named."""
    from pricing.methods.network_newton.compiled import WHOLE_ROWS, z_store_for

    assert z_store_for(WHOLE_ROWS) == "keep" and z_store_for(WHOLE_ROWS + 1) == "recompute"
    rng = np.random.default_rng(0)
    net = _net(rng, ["linear", "relu", "linear"], 3, 4, 1)
    with pytest.raises(ValueError, match="z_store must be 'keep', 'recompute'"):
        network_refit(net, rng.normal(size=(5, 3)), np.zeros(5, dtype=np.int64), nc.flat(net), _curv(net, rng, 3), 1,
                      z_store="float32")


def _unfolded_refit(a: tuple) -> tuple[np.ndarray, int]:
    """`kernels._refit_rows` as it ran before the trial folded the gradient pass in: the same
    pass kernels, called from Python, with a separate gradient pass after every accepted trial.
    Returns (theta, refused trials)."""
    from pricing.methods.network_newton import kernels as kn

    (theta0, steps, cg_iters, cg_tol, newton_tol, c1, halvings, ds, ads, hds, dads, block, z, act, hid, d, k, sparse,
     xr, std, mean, scale, ah, indptr, indices, data, cen, m, _n_rows, y, pen, use_pen, anchored, a_target, a_weight,
     a_theta0, a_decay, v, vt, ev, g_vdv, kinv, dd, dinv, d_live, dinv_live, idx) = a
    rows = (block, act, hid, d, k, sparse, xr, std, mean, scale, ah, indptr, indices, data, cen, m)
    fit = (y, anchored, a_target, a_weight, a_theta0, a_decay)
    hw = np.empty((0, k))
    theta = theta0.copy()
    g_x = np.empty(theta.shape[0])
    f = kn._grad_pass(theta, theta, 0.0, False, z, hw, *rows, *fit, g_x) + 0.5 * kn._dot(theta, pen * theta)
    g_t = np.zeros(theta.shape[0])
    refused = 0
    for it in range(steps):
        if anchored:
            g_x = g_x + a_decay * (theta - a_theta0)
        g = g_t + pen * theta + g_x
        step = -kn._pcg_pass(g, cg_tol, cg_iters, ds, ads, hds, dads, theta, z, hw, *rows, pen, use_pen,
                             v, vt, ev, kinv, dinv, dinv_live, idx)
        slope = kn._dot(g, step)
        if not slope < 0 or -0.5 * slope <= newton_tol:
            break
        qa = qb = qc = 0.0
        if not anchored:
            hs = kn._hmul(step, v, vt, ev, g_vdv, dd, d_live, idx)
            dl = theta - theta0
            qa = kn._dot(dl, g_t) + kn._dot(theta, pen * theta)
            qb = kn._dot(dl, hs) + kn._dot(theta, pen * step)
            qc = kn._dot(step, hs) + kn._dot(step, pen * step)
        t, accepted, cand = 1.0, False, theta
        for _ in range(halvings):
            cand = theta + t * step
            value = kn._trial_pass(cand, step, t, z, *rows, *fit)
            value += 0.5 * kn._dot(cand, pen * cand) if anchored else 0.5 * (qa + 2.0 * t * qb + t * t * qc)
            if value <= f + c1 * t * slope:
                accepted, f = True, value
                break
            refused += 1
            t *= 0.5
        if not accepted:
            break
        theta = cand
        if not anchored:
            g_t = g_t + t * hs
        if it < steps - 1:
            kn._grad_pass(theta, step, t, True, z, hw, *rows, *fit, g_x)
    return theta, refused


_REFUSED: list[int] = []


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), act=st.sampled_from(["relu", "tanh", "sigmoid"]), k=st.sampled_from([1, 3]),
       scaler=st.booleans(), penalty=st.booleans(), anchored=st.booleans(), m=st.integers(1, 40),
       steps=st.integers(1, 5), iters=st.integers(1, 8), block=st.integers(1, 30), c1=st.sampled_from([C1, 0.5]))
def test_the_trial_that_sums_the_next_gradient_changes_no_bit(seed, act, k, scaler, penalty, anchored, m, steps,
                                                              iters, block, c1):
    """Without z (`z_store="recompute"`), each Armijo trial's pass also sums the gradient at its
    point, and an accepted trial's is the next step's: the refit equals, bit for bit, the loop
    that runs a separate gradient pass after the accepted trial (the same pass kernels)."""
    from pricing.methods.network_newton import Anchor
    from pricing.methods.network_newton import compiled as cm

    rng = np.random.default_rng(seed)
    d, hid = 7, 5
    net = _net(rng, (["standardize"] if scaler else []) + ["linear", act, "linear"], d, hid, k)
    curv = _curv(net, rng, d)
    x, y = _rows_x(rng, m, d, False), rng.integers(0, max(k, 2), size=m)
    theta0 = nc.flat(net)
    pen = rng.uniform(-0.1, 0.5, size=theta0.shape[0]) if penalty else None
    anchor = Anchor(net, _rows_x(rng, 12, d, False), 2.5, 0.5) if anchored else None
    seen = []
    real = cm._refit_rows

    def spy(*a):
        seen.append(a)
        return real(*a)

    cm._refit_rows = spy
    try:
        got = network_refit(net, x, y, theta0, curv, steps, cg_iters=iters, cg_tol=1e-3, penalty=pen, anchor=anchor,
                            c1=c1, block=block, z_store="recompute")
    finally:
        cm._refit_rows = real
    want, refused = _unfolded_refit(seen[0])
    _REFUSED.append(refused)
    assert np.array_equal(got, want)


def test_the_folded_trials_were_tested_with_refused_trials():
    """The property above met refused trials (whose summed gradient is dropped), not only
    first trials accepted."""
    if not _REFUSED:
        test_the_trial_that_sums_the_next_gradient_changes_no_bit()
    assert sum(r > 0 for r in _REFUSED) >= 3, _REFUSED


@pytest.mark.parametrize("whole_rows", [10_000, 20])
def test_auto_refit_runs_the_whole_array_kernel_up_to_whole_rows_and_streams_above(monkeypatch, whole_rows):
    """`refit`'s default takes the whole-array kernel up to `WHOLE_ROWS` rows (faster than one
    streamed block) and the streamed one above (memory), ending at the same parameters."""
    from pricing.methods.network_newton import compiled

    _, net, curv, x, y, theta0, pen, anchor = _refit_case(3, "relu", 3, 40, True, False, True, True)
    kw = dict(steps=3, cg_iters=6, cg_tol=1e-3, newton_tol=0.0, penalty=pen, anchor=anchor, workspace=workspace)
    called = []
    for name in ("_refit", "_refit_rows"):
        monkeypatch.setattr(compiled, name, (lambda real, n: lambda *a: called.append(n) or real(*a))(
            getattr(compiled, name), name))
    monkeypatch.setattr(compiled, "WHOLE_ROWS", whole_rows)
    got = refit(net, x, y, theta0, curv, **kw)
    small = x.shape[0] + anchor.x.shape[0] <= whole_rows
    assert called == ["_refit" if small else "_refit_rows"]
    whole = refit(net, x, y, theta0, curv, block=None, **kw)
    # one streamed block keeping z is the whole-array refit bit for bit, so the switch moves no price
    assert np.array_equal(whole, refit(net, x, y, theta0, curv, block=x.shape[0] + anchor.x.shape[0],
                                       z_store="keep", **kw))
    if small:
        assert np.array_equal(got, whole)
    else:  # above, z is recomputed per block: the same to rounding
        np.testing.assert_allclose(got, whole, rtol=0, atol=1e-12)
