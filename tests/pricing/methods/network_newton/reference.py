"""What several network-newton test modules share: reference implementations the method is checked
against (pricing computes these inside its refit, `calculus.ggn_operator` and `compiled.probe_loss`,
never alone), and a small seeded problem with its spec."""

from __future__ import annotations

import numpy as np

from pricing import make_spec
from pricing.builders.build import _layers_to_spec
from pricing.builders.curvature import network_curvature
from pricing.methods.network_newton import calculus as nc
from pricing.proxies import Network

__all__ = ["loss_grad", "ggn_vp", "small_problem", "small_spec"]


def loss_grad(net: Network, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray, list[np.ndarray], np.ndarray]:
    """(summed log-loss, its flat gradient, each layer's input, the logits) on records (x, y)."""
    logits, acts = net.forward(x, keep=True)
    loss, r = nc.loss_and_residual(logits, y)
    return loss, nc.flat_grad(net, acts, r), acts, logits


def ggn_vp(net: Network, acts: list[np.ndarray], logits: np.ndarray, v: np.ndarray) -> np.ndarray:
    """sum_i J_i' H_i J_i v without forming the GGN (one forward-mode and one reverse pass)."""
    return nc.ggn_operator(net, acts, logits)(v)


def small_problem(seed: int = 0, k: int = 3, m: int = 12) -> tuple[Network, np.ndarray, np.ndarray, np.ndarray]:
    """(a tanh network with k logits, 40 training inputs, m bundle rows, their labels), seeded."""
    rng = np.random.default_rng(seed)
    net = Network(["linear", "tanh", "linear"], [{"weight": rng.normal(size=(4, 3)), "bias": rng.normal(size=4)}, {},
                                                 {"weight": rng.normal(size=(k, 4)), "bias": rng.normal(size=k)}])
    x_tr = rng.normal(size=(40, 3))
    x = rng.normal(size=(m, 3))
    y = rng.integers(0, max(k, 2), size=m)
    return net, x_tr, x, y


def small_spec(net: Network, x_tr: np.ndarray, classes: int, **over) -> bytes:
    """A network-newton spec of `net` (rank-4 curvature on x_tr, five probe rows); `over` sets
    hyper (`hyper=`), replaces tensors (`tensors=`)."""
    layers = [(k, p) for k, p in zip(net.kinds, net.params)]
    layer_list, tensors = _layers_to_spec(layers, "proxy")
    tensors.update(network_curvature(net, x_tr, weight_decay=1.0, rank=4))
    tensors["probe.features"], tensors["probe.label"] = x_tr[:5], np.arange(5) % classes
    tensors.update(over.pop("tensors", {}))
    manifest = {"method": "network-newton", "proxy": {"layers": layer_list}, "hyper": over.pop("hyper", {}),
                "schema": {"features": [{"name": f"x{i}"} for i in range(3)],
                           "label": {"name": "y", "kind": "categorical", "classes": classes}}}
    return make_spec(manifest, tensors)
