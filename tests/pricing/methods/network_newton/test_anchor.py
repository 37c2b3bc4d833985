"""network-newton with an anchor: the training loss as a function of theta (cross-entropy
against the network's own predictions on shipped inputs) in place of its quadratic."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import minimize

from pricing import SpecError, parse_spec
from pricing.builders.curvature import network_curvature
from pricing.methods.network_newton import ANCHOR_BUDGET, Anchor, Curvature, NetworkNewton, network_refit
from pricing.methods.network_newton import calculus as nc
from pricing.numerics.cg import pcg
from pricing.numerics.linesearch import armijo
from pricing.proxies import Network
from tests.pricing.methods.network_newton.reference import loss_grad, small_problem, small_spec



@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**31), k=st.sampled_from([1, 2, 4]), m=st.integers(1, 20))
def test_soft_loss_with_one_hot_targets_is_the_log_loss(seed, k, m):
    rng = np.random.default_rng(seed)
    logits = 3.0 * rng.normal(size=(m, k))
    y = rng.integers(0, max(k, 2), size=m)
    target = y[:, None].astype(float) if k == 1 else np.eye(k)[y]
    loss, resid = nc.loss_and_residual(logits, y)
    soft, soft_resid = nc.soft_loss_and_residual(logits, target)
    assert soft == pytest.approx(loss, rel=1e-12, abs=1e-12)
    np.testing.assert_allclose(soft_resid, resid, atol=1e-12)


@pytest.mark.parametrize("k", [1, 3])
def test_soft_loss_residual_is_its_gradient(k):
    rng = np.random.default_rng(k)
    logits = rng.normal(size=(6, k))
    target = nc.soft_targets(rng.normal(size=(6, k)))
    _, resid = nc.soft_loss_and_residual(logits, target)
    h = 1e-6
    for i, j in [(0, 0), (3, k - 1), (5, 0)]:
        up, down = logits.copy(), logits.copy()
        up[i, j] += h
        down[i, j] -= h
        fd = (nc.soft_loss_and_residual(up, target)[0] - nc.soft_loss_and_residual(down, target)[0]) / (2 * h)
        assert fd == pytest.approx(resid[i, j], abs=1e-7)


def _anchor(k=3, seed=0, weight=1.5, decay=0.3):
    net, x_tr, x, y = small_problem(seed=seed, k=k)
    return net, x_tr, x, y, Anchor(net, x_tr, weight, decay)


@pytest.mark.parametrize("k", [1, 3])
def test_anchor_keeps_the_shipped_network_stationary_and_its_gradient_is_exact(k):
    net, x_tr, _, _, a = _anchor(k=k)
    theta0 = nc.flat(net)
    value0, kept = a.value(net, theta0)
    assert np.abs(a.grad(net, theta0, kept)).max() < 1e-12  # its own predictions: nothing to move towards
    rng = np.random.default_rng(1)
    theta = theta0 + 0.3 * rng.normal(size=theta0.shape)
    cand = nc.with_flat(net, theta)
    value, kept = a.value(cand, theta)
    assert value > value0  # cross-entropy against its own predictions is lowest there
    g = a.grad(cand, theta, kept)
    v = rng.normal(size=theta.shape)
    h = 1e-6
    fd = (a.value(nc.with_flat(net, theta + h * v), theta + h * v)[0]
          - a.value(nc.with_flat(net, theta - h * v), theta - h * v)[0]) / (2 * h)
    assert fd == pytest.approx(float(g @ v), rel=1e-6)


@pytest.mark.parametrize("k", [1, 3])
def test_anchor_agrees_with_the_ggn_quadratic_to_second_order_at_theta_star(k):
    """Its Hessian at theta* is w GGN(anchor rows) + the decay on the weights: the curvature
    the buyer ships when the anchor is its training inputs."""
    net, x_tr, _, _, a = _anchor(k=k, weight=1.5, decay=0.3)
    theta0 = nc.flat(net)
    v = np.random.default_rng(2).normal(size=theta0.shape)
    h = 1e-5
    grad = lambda th: a.grad(nc.with_flat(net, th), th, a.value(nc.with_flat(net, th), th)[1])
    hv = (grad(theta0 + h * v) - grad(theta0 - h * v)) / (2 * h)
    logits, acts = net.forward(x_tr, keep=True)
    expected = 1.5 * nc.ggn_operator(net, acts, logits)(v) + 0.3 * nc.weight_mask(net) * v
    np.testing.assert_allclose(hv, expected, rtol=1e-5, atol=1e-7)


def test_anchor_charges_for_unlearning_a_confident_row_where_the_quadratic_does_not():
    """The reason for the anchor: a row the network fits confidently has GGN curvature p (1 - p)
    ~ 0, so the quadratic calls moving its logit the wrong way free; the anchor charges what
    the cross-entropy would."""
    net = Network(["linear"], [{"weight": np.array([[8.0]]), "bias": np.array([0.0])}])  # one logistic logit
    x_tr = np.array([[1.0]])  # p(class 1) = sigmoid(8), confidently fitted
    a = Anchor(net, x_tr, 1.0, 0.0)
    t = network_curvature(net, x_tr, weight_decay=0.0, rank=1)
    theta0 = nc.flat(net)
    move = theta0 + np.array([-8.0, 0.0])  # its logit from 8 to 0
    d = move - theta0
    quad_cost = 0.5 * d @ (Curvature(t["curvature.eigvecs"], t["curvature.eigvals"], t["curvature.diag"]) @ d)
    anchor_cost = a.value(nc.with_flat(net, move), move)[0] - a.value(net, theta0)[0]
    assert anchor_cost > 0.6  # KL(sigmoid(8) || 1/2) ~ log 2 - 0.003
    assert quad_cost < 0.02


def _anchored_objective(net, x, y, a):
    def f(theta):
        value, kept = a.value(nc.with_flat(net, theta), theta)
        loss, g, _, _ = loss_grad(nc.with_flat(net, theta), x, y)
        return value + loss, a.grad(nc.with_flat(net, theta), theta, kept) + g
    return f


@pytest.mark.parametrize("k", [1, 3])
def test_anchored_gauss_newton_reaches_the_minimiser_of_the_anchored_objective(k):
    """H~ stands for the anchor's curvature at theta* only, so the steps converge linearly, not
    quadratically: 2000 of them reach a local minimiser (a pricing budget stops far earlier)."""
    net, x_tr, x, y, a = _anchor(k=k, weight=1.0, decay=0.5)
    t = network_curvature(net, x_tr, weight_decay=0.5, rank=8)
    curv = Curvature(t["curvature.eigvecs"], t["curvature.eigvals"], t["curvature.diag"])
    theta0 = nc.flat(net)
    f = _anchored_objective(net, x, y, a)
    ours = network_refit(net, x, y, theta0, curv, 2000, cg_iters=50, cg_tol=1e-8, anchor=a)
    # not convex: a minimiser started from ours finds nothing lower nearby
    ref = minimize(f, ours, jac=True, method="L-BFGS-B", options={"gtol": 1e-10, "maxiter": 5000}).x
    assert f(ours)[0] == pytest.approx(f(ref)[0], rel=1e-6)
    assert np.linalg.norm(f(ours)[1]) < 1e-3 * np.linalg.norm(f(theta0)[1])


def test_each_anchored_step_lowers_the_anchored_objective():
    net, x_tr, x, y, a = _anchor(seed=4, weight=1.0, decay=0.1)
    t = network_curvature(net, x_tr, weight_decay=0.1, rank=6)
    curv = Curvature(t["curvature.eigvecs"], t["curvature.eigvals"], t["curvature.diag"])
    theta0 = nc.flat(net)
    f = _anchored_objective(net, x, y, a)
    values = [f(network_refit(net, x, y, theta0, curv, s, cg_iters=5, anchor=a))[0] for s in range(6)]
    assert values[-1] < values[0]
    assert all(b <= a_ + 1e-12 for a_, b in zip(values, values[1:]))


def _plain_refit(net, x, y, theta0, curv, steps, *, cg_iters, cg_tol, anchor, penalty):
    """The anchored refit written plainly, as a reference: every trial a whole forward pass of
    the bundle and, separately, of the anchor (`Anchor.value`)."""
    theta = theta0.copy()
    loss, g_b, acts, logits = loss_grad(net, x, y)
    a_val, kept = anchor.value(net, theta)
    f, g_t = loss + a_val + 0.5 * theta @ (penalty * theta), anchor.grad(net, theta, kept)
    for _ in range(steps):
        g = g_t + penalty * theta + g_b
        ggn = nc.ggn_operator(nc.with_flat(net, theta), acts, logits)
        step = -pcg(lambda v: penalty * v + ggn(v), g, curv.inv, rtol=cg_tol, max_iter=cg_iters, carry_h=True, reorth=True)

        def trial(t):
            cand = theta + t * step
            cn = nc.with_flat(net, cand)
            lg, ac = cn.forward(x, keep=True)
            l, r = nc.loss_and_residual(lg, y)
            av, kp = anchor.value(cn, cand)
            return av + 0.5 * cand @ (penalty * cand) + l, (cand, cn, lg, ac, r, kp)

        t, f, (theta, cn, logits, acts, r, kp) = armijo(trial, f, float(g @ step))
        g_b, g_t = nc.flat_grad(cn, acts, r), anchor.grad(cn, theta, kp)
    return theta


@pytest.mark.parametrize("k", [1, 3])
def test_the_refit_carries_the_first_layer_along_the_line_exactly(k):
    """`network_refit` passes the bundle's and the anchor's rows through the network together,
    from the first linear layer's input (below it, a standardize layer, computed once), and
    along a line moves that layer's output as z + t dz instead of recomputing it: the same
    refit as whole forward passes of each, to rounding."""
    rng = np.random.default_rng(7)
    d, hidden = 5, 6
    net = Network(["standardize", "linear", "relu", "linear"],
                  [{"mean": rng.normal(size=d), "scale": rng.uniform(0.5, 2.0, size=d)},
                   {"weight": 0.5 * rng.normal(size=(hidden, d)), "bias": rng.normal(size=hidden)}, {},
                   {"weight": 0.5 * rng.normal(size=(k, hidden)), "bias": rng.normal(size=k)}])
    x_tr, x = rng.normal(size=(30, d)), rng.normal(size=(9, d))
    y = rng.integers(0, max(k, 2), size=9)
    t = network_curvature(net, x_tr, weight_decay=0.2, rank=6)
    curv = Curvature(t["curvature.eigvecs"], t["curvature.eigvals"], t["curvature.diag"])
    a = Anchor(net, x_tr, 1.0, 0.2)
    theta0 = nc.flat(net)
    penalty = np.abs(rng.normal(size=theta0.shape)) * 0.1
    ours = network_refit(net, x, y, theta0, curv, 4, cg_iters=5, cg_tol=1e-2, anchor=a, penalty=penalty)
    ref = _plain_refit(net, x, y, theta0, curv, 4, cg_iters=5, cg_tol=1e-2, anchor=a, penalty=penalty)
    assert np.abs(ours - theta0).max() > 1e-3  # it moved
    np.testing.assert_allclose(ours, ref, rtol=0, atol=1e-10 * np.abs(ref).max())


def test_a_forward_pass_can_start_at_any_layer():
    net, x_tr, _, _ = small_problem()
    h1 = net.params[0]["weight"] @ x_tr.T
    z = (h1.T + net.params[0]["bias"])
    logits, acts = net.forward(z, keep=True, start=1)
    full, full_acts = net.forward(x_tr, keep=True)
    np.testing.assert_allclose(logits, full, rtol=1e-14, atol=1e-14)
    assert len(acts) == 2 and np.allclose(acts[0], full_acts[1])
    np.testing.assert_array_equal(nc.first_input(net, x_tr), x_tr)  # no layer below the first linear one


def test_anchored_spec_prices_and_differs_from_the_quadratic():
    net, x_tr, x, y = small_problem()
    plain = parse_spec(small_spec(net, x_tr, 3))
    anchored = parse_spec(small_spec(net, x_tr, 3, hyper={"anchor_weight": 1.0, "weight_decay": 1.0},
                                tensors={"anchor.features": x_tr}))
    e_plain, e_anch = NetworkNewton().efficacy(plain, x, y), NetworkNewton().efficacy(anchored, x, y)
    assert np.isfinite(e_anch.total) and e_anch.scores.shape == (len(y),)
    assert e_anch.total != pytest.approx(e_plain.total, rel=1e-6)


@pytest.mark.parametrize("over,match", [
    ({"hyper": {"anchor_weight": -1.0}}, "anchor_weight"),
    ({"hyper": {"anchor_weight": 1.0}}, "anchor.features"),
    ({"hyper": {"anchor_weight": 1.0}, "tensors": {"anchor.features": np.zeros((5, 4))}}, "anchor.features"),
    ({"hyper": {"anchor_weight": 1.0}, "tensors": {"anchor.features": np.full((5, 3), np.nan)}}, "finite"),
    ({"hyper": {"anchor_weight": 1.0}, "tensors": {"anchor.features": np.zeros((0, 3))}}, "no rows"),
    ({"tensors": {"anchor.features": np.zeros((5, 3))}}, "anchor.features"),  # shipped, but anchor_weight 0
])
def test_anchored_specs_are_refused_one_by_one(over, match):
    net, x_tr, _, _ = small_problem()
    with pytest.raises(SpecError, match=match):
        parse_spec(small_spec(net, x_tr, 3, **over))


def test_builder_ships_the_anchor_with_its_weight_and_budget(digits_small, fit_pipeline):
    from pricing.builders import build_spec

    ds = digits_small
    tr, va = ds["train"], ds["val"]
    model = fit_pipeline(16, alpha=1.0, max_iter=300)
    x_tr = ds["x"][tr]
    spec = parse_spec(build_spec("network-newton", model, x_tr, ds["y"][tr], ds["x"][va], ds["y"][va], classes=3,
                                 rank=8, anchor=x_tr[: len(tr) // 2]))
    assert spec.hyper["anchor_weight"] == pytest.approx(len(tr) / (len(tr) // 2))
    assert spec.hyper["steps"] == ANCHOR_BUDGET["steps"]
    np.testing.assert_array_equal(spec.tensors["anchor.features"], x_tr[: len(tr) // 2])
    with pytest.raises(SpecError, match="only network-newton"):
        build_spec("feature-newton", model, x_tr, ds["y"][tr], ds["x"][va], ds["y"][va], classes=3, anchor=x_tr)
    with pytest.raises(SpecError, match="pass anchor="):
        build_spec("network-newton", model, x_tr, ds["y"][tr], ds["x"][va], ds["y"][va], classes=3,
                   hyper={"anchor_weight": 1.0})
    with pytest.raises(SpecError, match="anchor must be"):
        build_spec("network-newton", model, x_tr, ds["y"][tr], ds["x"][va], ds["y"][va], classes=3, anchor=x_tr[:, :2])
