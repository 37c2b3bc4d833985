"""Allow-listed proxy architectures, run in float64 numpy with a fixed summation order.

A proxy is a list of layers from `LAYERS`; tensors are named `<prefix>.<i>.<param>`. Only
these layer kinds can appear in a spec, so a spec can never carry code.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np

from .errors import BadShape, MissingTensor, SpecError, UnknownLayer

__all__ = ["LAYERS", "Network", "layer_tensor_shapes", "pointwise_grad", "pooled_moments", "check_scaler_refit",
           "check_whole_network"]

LAYERS: tuple[str, ...] = ("linear", "relu", "tanh", "sigmoid", "standardize")
_PARAMS = {"linear": ("weight", "bias"), "standardize": ("mean", "scale")}


def layer_tensor_shapes(layers: Sequence[Mapping], d_in: int, prefix: str) -> tuple[dict[str, tuple[int, ...]], int]:
    """Shapes of the tensors a layer list needs and its output width; validates the list."""
    shapes: dict[str, tuple[int, ...]] = {}
    width = d_in
    if not isinstance(layers, (list, tuple)):
        raise SpecError(f"{prefix} layers must be a list, got {type(layers).__name__}")
    for i, layer in enumerate(layers):
        kind = layer.get("type") if isinstance(layer, Mapping) else layer
        if kind not in LAYERS:
            raise UnknownLayer(kind, LAYERS)
        if kind == "linear":
            out = layer.get("out")
            if not isinstance(out, int) or isinstance(out, bool) or out < 1:
                raise SpecError(f"{prefix}.{i}: linear layer needs a positive int 'out', got {out!r}")
            shapes[f"{prefix}.{i}.weight"] = (out, width)
            shapes[f"{prefix}.{i}.bias"] = (out,)
            width = out
        elif kind == "standardize":
            shapes[f"{prefix}.{i}.mean"] = (width,)
            shapes[f"{prefix}.{i}.scale"] = (width,)
    return shapes, width


def pooled_moments(mean: np.ndarray, var: np.ndarray, scale: np.ndarray, n: float,
                   x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean and scale of a standardisation refitted on n rows of the shipped mean and
    variance plus the rows x (exact pooled moments); a column still without spread keeps its
    shipped scale (as scikit-learn's StandardScaler keeps 1)."""
    m = x.shape[0]
    mu = (n * mean + x.sum(axis=0)) / (n + m)
    second = (n * (var + mean**2) + (x**2).sum(axis=0)) / (n + m)
    sd = np.sqrt(np.maximum(second - mu**2, 0.0))
    return mu, np.where(sd > 1e-12 * np.maximum(1.0, np.abs(mu)), sd, scale)


def check_whole_network(method: str, layers: Sequence[Mapping], classes: int) -> None:
    """What a method that works on the buyer's whole classifier needs of its layer list: a
    classification schema and a last linear layer with one logit per class (or one for two)."""
    if classes < 2:
        raise SpecError(f"{method} prices classification models (schema label kind 'categorical')")
    if not layers or layers[-1].get("type") != "linear":
        raise SpecError(f"{method} needs the whole network: its last layer must be the linear logits layer")
    out = layers[-1].get("out")
    if out != classes and not (out == 1 and classes == 2):
        raise SpecError(f"the network gives {out} logits; {classes} classes need {classes} (or 1 for two classes)")


def check_scaler_refit(layers: Sequence[Mapping], train_var: np.ndarray) -> None:
    """What a declared scaler refit (`hyper.refit_scaler`) needs of any method: a leading
    'standardize' layer to refit and the training variance it was fitted on."""
    if not layers or layers[0].get("type") != "standardize":
        raise SpecError("hyper.refit_scaler needs the network to start with a 'standardize' layer (the scaler to refit)")
    if train_var.min(initial=0.0) < 0:
        raise SpecError("scaler.var is the training variance per column and cannot be negative")


def pointwise_grad(kind: str, params: Mapping[str, np.ndarray], a: np.ndarray, g: np.ndarray) -> np.ndarray:
    """g times the derivative of a parameter-free (or fixed) elementwise layer at its input a."""
    if kind == "standardize":
        return g / params["scale"]
    if kind == "relu":
        return g * (a > 0)
    if kind == "tanh":
        return g * (1.0 - np.tanh(a) ** 2)
    if kind == "sigmoid":
        s = 1.0 / (1.0 + np.exp(-a))
        return g * s * (1.0 - s)
    raise UnknownLayer(kind, LAYERS)


@dataclass
class Network:
    """A feed-forward stack of allow-listed layers with float64 forward and backward passes."""

    kinds: list[str]
    params: list[dict[str, np.ndarray]]

    @classmethod
    def from_spec(cls, layers: Sequence[Mapping], tensors: Mapping[str, np.ndarray], prefix: str) -> "Network":
        """Bind a validated layer list to its tensors."""
        kinds, params = [], []
        for i, layer in enumerate(layers):
            kind = layer["type"] if isinstance(layer, Mapping) else layer
            if kind not in LAYERS:
                raise UnknownLayer(kind, LAYERS)
            p = {}
            for name in _PARAMS.get(kind, ()):
                key = f"{prefix}.{i}.{name}"
                if key not in tensors:
                    raise MissingTensor(key)
                p[name] = np.array(tensors[key], dtype=np.float64)
            kinds.append(kind)
            params.append(p)
        return cls(kinds, params)

    def copy(self) -> "Network":
        """A deep copy, so fine-tuning never touches the spec's tensors."""
        return Network(list(self.kinds), [{k: v.copy() for k, v in p.items()} for p in self.params])

    def forward(self, x: np.ndarray, keep: bool = False, start: int = 0) -> np.ndarray | tuple[np.ndarray, list[np.ndarray]]:
        """Output for inputs x [m, d]; with keep, also each layer's input for backward. With
        `start`, x is the input of layer `start` and the layers below it are skipped (their
        inputs are then missing from the list: the caller holds them)."""
        acts = []
        h = np.asarray(x, dtype=np.float64)
        for kind, p in zip(self.kinds[start:], self.params[start:]):
            acts.append(h)
            if kind == "linear":
                if h.shape[1] != p["weight"].shape[1]:
                    raise BadShape("input", h.shape, (h.shape[0], p["weight"].shape[1]))
                h = h @ p["weight"].T + p["bias"]
            elif kind == "standardize":
                h = (h - p["mean"]) / p["scale"]
            elif kind == "relu":
                h = np.maximum(h, 0.0)
            elif kind == "tanh":
                h = np.tanh(h)
            elif kind == "sigmoid":
                h = 1.0 / (1.0 + np.exp(-h))
        return (h, acts) if keep else h

    def backward(self, acts: list[np.ndarray], grad_out: np.ndarray) -> list[dict[str, np.ndarray]]:
        """Gradients of sum(grad_out * output) wrt each trainable tensor (linear layers only)."""
        grads: list[dict[str, np.ndarray]] = [{} for _ in self.kinds]
        g = grad_out
        first = self.kinds.index("linear") if "linear" in self.kinds else len(self.kinds)
        for i in range(len(self.kinds) - 1, first - 1, -1):  # nothing below the first linear layer trains
            kind, p, a = self.kinds[i], self.params[i], acts[i]
            if kind == "linear":
                grads[i] = {"weight": g.T @ a, "bias": g.sum(axis=0)}
                if i > first:
                    g = g @ p["weight"]
            else:
                g = pointwise_grad(kind, p, a, g)
        return grads
