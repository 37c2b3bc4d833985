"""Full-batch Adam from a seeded Glorot start: the retraining network-retrain prices with.

A fixed number of steps at a fixed rate, in float64, each on the whole objective: the fitted
weights are a smooth function of the rows, so another machine's rounding (1e-16 of an input)
moves them by about as little (docs/decisions/2026-12-07-network-retrain.md measured 1e-10 of an
efficacy at most), where L-BFGS to a tolerance from a random start moved a gain by 1-12%
(docs/decisions/2026-12-07-retraining-price-does-not-replay.md). The objective is a scikit-learn
MLP's: mean log-loss plus weight decay / (2 rows) times the squared weights (not the biases).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...proxies import Network
from ..network_newton import calculus as nc

__all__ = ["Part", "ROW_BLOCK", "glorot", "anchor_labels", "drawn_labels", "adam_fit", "adam_path",
           "mean_probe_loss"]

# rows a pass takes at a time: the hidden activations of one block are the memory a step adds
ROW_BLOCK = 8192
# Adam's constants (Kingma and Ba 2015; scikit-learn's defaults)
BETA1, BETA2, EPS = 0.9, 0.999, 1e-8


@dataclass(frozen=True)
class Part:
    """Rows trained on: inputs, targets (class indices [m], or soft [m, k] in the
    logits' layout: `calculus.soft_targets`) and the weight each row's loss carries."""

    x: np.ndarray
    target: np.ndarray
    weight: float = 1.0

    @property
    def mass(self) -> float:
        return self.weight * self.x.shape[0]


def drawn_labels(probs: np.ndarray, seed: int, init: int) -> np.ndarray:
    """One class index per row drawn from its probabilities [m, K] (inverse CDF of one uniform a row,
    PCG64 seeded by (seed, init, 1): a stream of its own beside the start's)."""
    u = np.random.Generator(np.random.PCG64([int(seed), int(init), 1])).random(probs.shape[0])
    return np.minimum((np.cumsum(probs, axis=1) <= u[:, None]).sum(axis=1), probs.shape[1] - 1).astype(np.int64)


def anchor_labels(net: Network, anchor: np.ndarray, shipped: np.ndarray | None, seed: int,
                  inits: int) -> list[np.ndarray]:
    """Each start's anchor labels: the buyer's own (`anchor.label`) when it ships them, else drawn
    from the network's predicted probabilities, a draw a start (as noisy as real labels would be)."""
    if shipped is not None:
        return [np.asarray(shipped, np.int64)] * inits
    probs = nc.probabilities(net.forward(anchor))
    return [drawn_labels(probs, seed, k) for k in range(inits)]


def glorot(net: Network, seed: int, init: int) -> np.ndarray:
    """Flat start of every linear layer, uniform in +-sqrt(6 / (fan_in + fan_out)) (Glorot and
    Bengio 2010), from PCG64 seeded by (seed, init): the same numbers on every machine."""
    rng = np.random.Generator(np.random.PCG64([int(seed), int(init)]))
    parts = []
    for i in nc.linear_layers(net):
        fan_out, fan_in = net.params[i]["weight"].shape
        bound = np.sqrt(6.0 / (fan_in + fan_out))
        parts += [rng.uniform(-bound, bound, size=fan_out * fan_in), rng.uniform(-bound, bound, size=fan_out)]
    return np.concatenate(parts)


def _part_grad(net: Network, part: Part, block: int) -> np.ndarray:
    """Sum over the part's rows of the loss gradient, block by block in row order (a block's
    inputs are scaled on the way: no copy of the rows)."""
    g = None
    for s in range(0, part.x.shape[0], block):
        logits, acts = net.forward(part.x[s:s + block], keep=True)
        t = part.target[s:s + block]
        _, resid = (nc.soft_loss_and_residual if t.ndim == 2 else nc.loss_and_residual)(logits, t)
        gb = nc.flat_grad(net, acts, resid)
        g = gb if g is None else g + gb
    return g


def adam_fit(net: Network, parts: list[Part], *, theta0: np.ndarray, steps: int, lr: float,
             weight_decay: float, block: int = ROW_BLOCK) -> np.ndarray:
    """Flat weights after `steps` full-batch Adam steps from `theta0` on
    (sum_parts weight * log-loss + weight_decay / 2 * |W|^2) / sum_parts weight * rows.
    `net` gives the layers, its scaler included (its own weights are not read)."""
    return adam_path(net, parts, theta0=theta0, checkpoints=(steps,), lr=lr, weight_decay=weight_decay,
                     block=block)[0]


def adam_path(net: Network, parts: list[Part], *, theta0: np.ndarray, checkpoints: tuple[int, ...], lr: float,
              weight_decay: float, block: int = ROW_BLOCK) -> list[np.ndarray]:
    """`adam_fit`'s weights after each of `checkpoints` steps (ascending), from one run."""
    mass = sum(p.mass for p in parts)
    decay = weight_decay * nc.weight_mask(net)
    theta = theta0.copy()
    m, v = np.zeros_like(theta), np.zeros_like(theta)
    out = []
    for t in range(1, max(checkpoints) + 1):
        cur = nc.with_flat(net, theta)
        g = decay * theta
        for p in parts:
            g = g + p.weight * _part_grad(cur, p, block)
        g /= mass
        m = BETA1 * m + (1.0 - BETA1) * g
        v = BETA2 * v + (1.0 - BETA2) * g * g
        rate = lr * np.sqrt(1.0 - BETA2**t) / (1.0 - BETA1**t)
        theta = theta - rate * m / (np.sqrt(v) + EPS)
        if t in checkpoints:
            out.append(theta.copy())
    return out


def mean_probe_loss(net: Network, theta: np.ndarray, x: np.ndarray, y: np.ndarray) -> float:
    """Mean log-loss of the network at `theta` on the probe (raw inputs x, class indices y)."""
    return nc.mean_loss(nc.with_flat(net, theta), x, y)
