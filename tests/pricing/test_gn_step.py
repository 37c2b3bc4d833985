"""The compiled CG solve of a network-Newton step (`pricing._gn_step`) against the numpy path
(`ggn_operator` + `Curvature.inv` + `pcg`) it replaces for one-hidden-layer networks."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricing import _netcurv as nc
from pricing._cg import pcg, workspace
from pricing._gn_step import COMPILED, one_hidden, solve_step
from pricing._sparse_rows import SparseRows
from pricing.builders.curvature import network_curvature
from pricing.methods.network_newton import Curvature, _Rows, network_refit
from pricing.proxies import Network

pytestmark = pytest.mark.skipif(not COMPILED, reason="numba is not importable")


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


def _rows_x(rng, m, d, sparse):
    x = rng.normal(size=(m, d))
    if sparse:  # one-hot-like: most entries zero, so `_Rows` takes `SparseRows`
        x *= rng.random((m, d)) < 0.1
    return x


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
    t = network_curvature(net, rng.normal(size=(30, d)), weight_decay=0.5, rank=4)
    curv = Curvature(t["curvature.eigvecs"], t["curvature.eigvals"], t["curvature.diag"])
    x = _rows_x(rng, m, d, sparse and scaler)
    rows = _Rows(net, x, None)
    assert isinstance(rows.h, SparseRows) == (sparse and scaler and SparseRows.worthwhile(x))
    theta = nc.flat(net)
    logits, acts = rows.forward(net, rows.first_output(theta))
    g = rng.normal(size=theta.shape[0])
    pen = rng.uniform(-0.1, 0.5, size=theta.shape[0]) if penalty else None
    got = solve_step(net, acts, logits, g, curv, rtol=1e-6, max_iter=iters, penalty=pen, workspace=workspace)
    ggn = nc.ggn_operator(net, acts, logits)
    matvec = ggn if pen is None else (lambda v: pen * v + ggn(v))
    want = pcg(matvec, g, curv.inv, rtol=1e-6, max_iter=iters, carry_h=True, reorth=True)
    assert got is not None
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9 * max(1.0, float(np.abs(want).max())))


@pytest.mark.parametrize("kinds", [["linear", "relu", "linear", "relu", "linear"], ["linear", "linear"],
                                   ["standardize", "linear"], ["linear", "relu", "relu", "linear"]])
def test_other_networks_keep_the_numpy_path(kinds):
    """solve_step declines what it does not compile, and the refit is then the numpy one."""
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
    logits, acts = net.forward(x, keep=True)
    assert solve_step(net, acts, logits, theta0, curv, rtol=1e-3, max_iter=3, penalty=None, workspace=workspace) is None
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
    NetworkNewton._prepared(spec)["compiled"] = False
    ref = method.efficacy(spec, x, y)
    assert fast.total != 0.0
    assert fast.total == pytest.approx(ref.total, rel=1e-8, abs=1e-12)
    np.testing.assert_allclose(fast.scores, ref.scores, rtol=1e-7, atol=1e-12)


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), act=st.sampled_from(["relu", "tanh", "sigmoid"]), k=st.sampled_from([1, 3]),
       scaler=st.booleans(), sparse=st.booleans(), m=st.integers(1, 25))
def test_compiled_backward_is_the_numpy_gradient(seed, act, k, scaler, sparse, m):
    """`flat_grad` compiled: the gradient `_netcurv.flat_grad` gives, to rounding."""
    from pricing._gn_step import flat_grad

    rng = np.random.default_rng(seed)
    d, hid = 7, 5
    net = _net(rng, (["standardize"] if scaler else []) + ["linear", act, "linear"], d, hid, k)
    rows = _Rows(net, _rows_x(rng, m, d, sparse and scaler), None)
    logits, acts = rows.forward(net, rows.first_output(nc.flat(net)))
    resid = rng.normal(size=logits.shape)
    want = nc.flat_grad(net, acts, resid)
    np.testing.assert_allclose(flat_grad(net, acts, resid), want, rtol=0, atol=1e-12 * max(1.0, float(np.abs(want).max())))
