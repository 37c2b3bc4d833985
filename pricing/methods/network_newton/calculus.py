"""Gauss-Newton calculus on a whole proxy network: flat parameters, the log-loss and its
gradient, products with the generalised Gauss-Newton matrix (GGN) and its exact diagonal.

The network's last layer is linear and gives the logits: K of them (softmax), or one for a
two-class model (logistic, as a scikit-learn MLP has). Parameters are flattened layer by
layer, each linear layer as (weight.ravel(), bias). The GGN of a sum of log-losses is
sum_i J_i' H_i J_i (J_i the Jacobian of record i's logits, H_i the loss Hessian in logit
space; Schraudolph 2002, Martens 2010): positive semi-definite, so Newton systems on it are
solved by conjugate gradients.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Callable

import numpy as np

from ...proxies import Network, pointwise_grad

__all__ = ["linear_layers", "first_input", "flat", "with_flat", "loss_and_residual", "soft_loss_and_residual",
           "flat_grad", "mean_loss", "jvp", "logit_hessian_weights", "ggn_operator", "ggn_diag", "probabilities", "soft_targets",
           "weight_mask"]


def linear_layers(net: Network) -> tuple[int, ...]:
    """Indices of the trainable (linear) layers, in order."""
    return _linear_indices(tuple(net.kinds))


@lru_cache(maxsize=64)
def _linear_indices(kinds: tuple[str, ...]) -> tuple[int, ...]:
    return tuple(i for i, k in enumerate(kinds) if k == "linear")


def first_input(net: Network, x: np.ndarray) -> np.ndarray:
    """The input of the first linear layer for rows x: the layers below it (a `standardize`)
    hold no trainable parameter, so a refit computes this once."""
    first = linear_layers(net)[0]
    return Network(net.kinds[:first], net.params[:first]).forward(x) if first else np.asarray(x, dtype=np.float64)


def flat(net: Network) -> np.ndarray:
    """The network's trainable parameters as one float64 vector."""
    parts = []
    for i in linear_layers(net):
        parts += [net.params[i]["weight"].ravel(), net.params[i]["bias"]]
    return np.concatenate(parts)


def _split(net: Network, v: np.ndarray) -> dict[int, dict[str, np.ndarray]]:
    out, o = {}, 0
    for i in linear_layers(net):
        w = net.params[i]["weight"]
        out[i] = {"weight": v[o:o + w.size].reshape(w.shape), "bias": v[o + w.size:o + w.size + w.shape[0]]}
        o += w.size + w.shape[0]
    return out


def with_flat(net: Network, theta: np.ndarray) -> Network:
    """A network of the same layers with parameters `theta` (other layers shared)."""
    new = dict(_split(net, theta))
    return Network(list(net.kinds), [new.get(i, p) for i, p in enumerate(net.params)])


def probabilities(logits: np.ndarray) -> np.ndarray:
    """Class probabilities [m, K]: softmax, or [1 - s, s] for a single logistic logit."""
    if logits.shape[1] == 1:
        s = 1.0 / (1.0 + np.exp(-logits[:, 0]))
        return np.stack([1.0 - s, s], axis=1)
    z = logits - logits.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def soft_targets(logits: np.ndarray) -> np.ndarray:
    """A network's own predictions as targets for `soft_loss_and_residual`, in the logits'
    layout: [m, 1] probabilities of class 1 for one logistic logit, else [m, K] softmax."""
    if logits.shape[1] == 1:
        return 1.0 / (1.0 + np.exp(-logits))
    return probabilities(logits)


def soft_loss_and_residual(logits: np.ndarray, target: np.ndarray) -> tuple[float, np.ndarray]:
    """Summed cross-entropy against soft targets (`soft_targets`) and its gradient wrt the
    logits: `loss_and_residual` with a probability vector in place of each class index."""
    if logits.shape[1] == 1:
        z, t = logits[:, 0], target[:, 0]
        return float(np.sum(np.logaddexp(0.0, z) - t * z)), (1.0 / (1.0 + np.exp(-z)) - t)[:, None]
    z = logits - logits.max(axis=1, keepdims=True)
    lse = np.log(np.exp(z).sum(axis=1))
    return float(np.sum(lse - (target * z).sum(axis=1))), np.exp(z - lse[:, None]) - target


def weight_mask(net: Network) -> np.ndarray:
    """1 on every weight, 0 on every bias, in the flat layout: where weight decay applies."""
    return np.concatenate([np.concatenate([np.ones(net.params[i]["weight"].size), np.zeros(net.params[i]["bias"].size)])
                           for i in linear_layers(net)])


def loss_and_residual(logits: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray]:
    """Summed log-loss and its gradient wrt the logits."""
    m = y.shape[0]
    if logits.shape[1] == 1:
        z = logits[:, 0]
        loss = float(np.sum(np.logaddexp(0.0, z) - y * z))
        return loss, (1.0 / (1.0 + np.exp(-z)) - y)[:, None]
    z = logits - logits.max(axis=1, keepdims=True)
    lse = np.log(np.exp(z).sum(axis=1))
    loss = float(np.sum(lse - z[np.arange(m), y]))
    r = np.exp(z - lse[:, None])
    r[np.arange(m), y] -= 1.0
    return loss, r


def flat_grad(net: Network, acts: list[np.ndarray], grad_out: np.ndarray) -> np.ndarray:
    """The flat gradient of sum(grad_out * output) from a forward pass's layer inputs."""
    grads = net.backward(acts, grad_out)
    return np.concatenate([np.concatenate([grads[i]["weight"].ravel(), grads[i]["bias"]]) for i in linear_layers(net)])


def mean_loss(net: Network, x: np.ndarray, y: np.ndarray) -> float:
    """Mean log-loss of the network on (x, y)."""
    return loss_and_residual(net.forward(x), y)[0] / y.shape[0]


def jvp(net: Network, acts: list[np.ndarray], v: np.ndarray) -> np.ndarray:
    """J v: the change of every record's logits [m, K] along parameter direction v."""
    dv = _split(net, v)
    t = None  # tangent of the current activations; the input itself does not move
    for i, (kind, p, a) in enumerate(zip(net.kinds, net.params, acts)):
        if kind == "linear":
            out = a @ dv[i]["weight"].T + dv[i]["bias"]
            t = out if t is None else t @ p["weight"].T + out
        elif t is not None:
            t = pointwise_grad(kind, p, a, t)  # elementwise layers: the same factor forward and back
    return t


def logit_hessian_weights(logits: np.ndarray) -> np.ndarray:
    """What the log-loss Hessian in logit space is made of: s (1 - s) [m, 1] for one logistic
    logit (H_i = s (1 - s)), else the softmax probabilities p [m, K] (H_i = diag p - p p')."""
    if logits.shape[1] == 1:
        s = 1.0 / (1.0 + np.exp(-logits))
        return s * (1.0 - s)
    return probabilities(logits)


def ggn_operator(net: Network, acts: list[np.ndarray], logits: np.ndarray) -> Callable[[np.ndarray], np.ndarray]:
    """v -> sum_i J_i' H_i J_i v at a fixed forward pass, without forming the GGN (one
    forward-mode and one reverse pass a product). What does not depend on v, each
    elementwise layer's derivative and the loss Hessian's probabilities, is computed once
    here, so a CG solve of many products pays for it once."""
    lin = linear_layers(net)
    first = lin[0]
    slopes = {i: pointwise_grad(kind, p, a, np.ones_like(a))
              for i, (kind, p, a) in enumerate(zip(net.kinds, net.params, acts)) if kind != "linear" and i > first}
    w = logit_hessian_weights(logits)
    if logits.shape[1] == 1:
        h_out = lambda dz: w * dz
    else:
        h_out = lambda dz: w * (dz - (w * dz).sum(axis=1, keepdims=True))
    layout = []
    o = 0
    for i in lin:
        wt = net.params[i]["weight"]
        layout.append((i, o, o + wt.size, o + wt.size + wt.shape[0], wt.shape))
        o += wt.size + wt.shape[0]

    def product(v: np.ndarray) -> np.ndarray:
        t = None  # the tangent of the activations: J v, layer by layer
        for i, lo, mid, hi, shape in layout:
            out = acts[i] @ v[lo:mid].reshape(shape).T + v[mid:hi]
            t = out if t is None else t @ net.params[i]["weight"].T + out
            for j in range(i + 1, len(net.kinds)):
                if net.kinds[j] == "linear":
                    break
                t = t * slopes[j]
        g = h_out(t)
        res = np.empty_like(v)
        for i, lo, mid, hi, shape in reversed(layout):
            res[lo:mid] = (g.T @ acts[i]).ravel()
            res[mid:hi] = g.sum(axis=0)
            if i > first:
                g = g @ net.params[i]["weight"]
                for j in range(i - 1, first, -1):
                    if net.kinds[j] == "linear":
                        break
                    g = g * slopes[j]
        return res

    return product


def ggn_diag(net: Network, x: np.ndarray) -> np.ndarray:
    """The exact diagonal of sum_i J_i' H_i J_i: for each column c of a square root of H_i
    (H_i = sum_c c c'), back-propagate c record by record and add the squares of the
    per-record gradients, which for a linear layer are outer products g_i a_i'."""
    logits, acts = net.forward(x, keep=True)
    if logits.shape[1] == 1:
        s = 1.0 / (1.0 + np.exp(-logits))
        roots = [np.sqrt(s * (1.0 - s))]
    else:
        p = probabilities(logits)
        eye = np.eye(p.shape[1])
        roots = [np.sqrt(p[:, [c]]) * (eye[c] - p) for c in range(p.shape[1])]
    lin = linear_layers(net)
    diag = {i: {"weight": np.zeros_like(net.params[i]["weight"]), "bias": np.zeros_like(net.params[i]["bias"])} for i in lin}
    for g in roots:
        for i in range(len(net.kinds) - 1, -1, -1):
            kind, p_, a = net.kinds[i], net.params[i], acts[i]
            if kind == "linear":
                diag[i]["weight"] += (g**2).T @ (a**2)
                diag[i]["bias"] += (g**2).sum(axis=0)
                if i == lin[0]:
                    break
                g = g @ p_["weight"]
            else:
                g = pointwise_grad(kind, p_, a, g)
    return np.concatenate([np.concatenate([diag[i]["weight"].ravel(), diag[i]["bias"]]) for i in lin])
