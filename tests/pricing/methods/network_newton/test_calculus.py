"""Gauss-Newton calculus on a whole network, checked against explicit finite-difference Jacobians."""

from __future__ import annotations

import numpy as np
import pytest

from pricing.methods.network_newton import calculus as nc
from pricing.proxies import Network
from tests.pricing.methods.network_newton.reference import ggn_vp, loss_grad


def _net(k_out: int, act: str = "relu", seed: int = 0) -> Network:
    rng = np.random.default_rng(seed)
    return Network(["standardize", "linear", act, "linear"],
                   [{"mean": rng.normal(size=4), "scale": rng.uniform(0.5, 2, size=4)},
                    {"weight": rng.normal(size=(5, 4)), "bias": rng.normal(size=5)}, {},
                    {"weight": rng.normal(size=(k_out, 5)), "bias": rng.normal(size=k_out)}])


def _jacobian(net: Network, x: np.ndarray) -> np.ndarray:
    """[m, K, P] by central differences."""
    theta = nc.flat(net)
    cols = []
    for j in range(theta.size):
        e = np.zeros_like(theta)
        e[j] = 1e-6
        cols.append((nc.with_flat(net, theta + e).forward(x) - nc.with_flat(net, theta - e).forward(x)) / 2e-6)
    return np.stack(cols, axis=2)


def _ggn(net: Network, x: np.ndarray) -> np.ndarray:
    jac = _jacobian(net, x)
    logits = net.forward(x)
    if logits.shape[1] == 1:
        s = 1 / (1 + np.exp(-logits[:, 0]))
        hs = (s * (1 - s))[:, None, None]
    else:
        p = nc.probabilities(logits)
        hs = np.stack([np.diag(q) - np.outer(q, q) for q in p])
    return np.einsum("mkp,mkl,mlq->pq", jac, hs, jac)


def _deep_net(k_out: int, seed: int = 0) -> Network:
    """Two hidden layers with a second scaler between them: every layer kind in one stack."""
    rng = np.random.default_rng(seed)
    return Network(["standardize", "linear", "tanh", "standardize", "linear", "relu", "linear", "sigmoid", "linear"],
                   [{"mean": rng.normal(size=4), "scale": rng.uniform(0.5, 2, size=4)},
                    {"weight": rng.normal(size=(5, 4)), "bias": rng.normal(size=5)}, {},
                    {"mean": rng.normal(size=5) * 0.1, "scale": rng.uniform(0.5, 2, size=5)},
                    {"weight": rng.normal(size=(3, 5)), "bias": rng.normal(size=3)}, {},
                    {"weight": rng.normal(size=(4, 3)), "bias": rng.normal(size=4)}, {},
                    {"weight": rng.normal(size=(k_out, 4)), "bias": rng.normal(size=k_out)}])


@pytest.mark.parametrize("k_out,act", [(3, "relu"), (1, "tanh"), (4, "sigmoid"), (3, "deep"), (1, "deep")])
def test_ggn_products_and_diagonal_match_explicit_jacobians(k_out, act):
    rng = np.random.default_rng(1)
    net = _deep_net(k_out) if act == "deep" else _net(k_out, act)
    x = rng.normal(size=(7, 4))
    g = _ggn(net, x)
    logits, acts = net.forward(x, keep=True)
    v = rng.normal(size=g.shape[0])
    assert np.allclose(ggn_vp(net, acts, logits, v), g @ v, rtol=1e-5, atol=1e-6)
    assert np.allclose(nc.ggn_diag(net, x), np.diag(g), rtol=1e-5, atol=1e-6)
    assert np.allclose(nc.jvp(net, acts, v), _jacobian(net, x) @ v, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("k_out", [1, 3])
def test_loss_gradient_matches_finite_differences(k_out):
    rng = np.random.default_rng(2)
    net = _net(k_out)
    x = rng.normal(size=(9, 4))
    y = rng.integers(0, 2 if k_out == 1 else k_out, size=9)
    theta = nc.flat(net)
    loss, g, _, _ = loss_grad(net, x, y)
    num = np.array([(loss_grad(nc.with_flat(net, theta + e), x, y)[0] - loss_grad(nc.with_flat(net, theta - e), x, y)[0]) / 2e-6
                    for e in np.eye(theta.size) * 1e-6])
    assert np.allclose(g, num, rtol=1e-5, atol=1e-6)
    assert loss == pytest.approx(nc.mean_loss(net, x, y) * 9)
    assert np.allclose(nc.flat(nc.with_flat(net, theta * 2)), theta * 2)
