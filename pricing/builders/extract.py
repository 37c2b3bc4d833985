"""Read a buyer's trained model into allow-listed layers (buyer side; the model stays home).

Supported: a torch ``nn.Sequential`` of Linear / ReLU / Tanh / Sigmoid; a scikit-learn
``MLPClassifier`` / ``MLPRegressor``, optionally after a ``StandardScaler`` in a
``Pipeline``; any other scikit-learn model is used only through its predictions.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from ..errors import UnknownLayer
from ..proxies import LAYERS

__all__ = ["hidden_layers", "network_layers", "predictor", "head_l2"]

DEFAULT_L2 = 1e-2

_SK_ACT = {"relu": "relu", "tanh": "tanh", "logistic": "sigmoid"}


def _torch_layers(model: Any) -> list[tuple[str, dict[str, np.ndarray]]]:
    import torch.nn as nn

    out = []
    for mod in model:
        if isinstance(mod, nn.Linear):
            w = mod.weight.detach().to("cpu").double().numpy().copy()
            b = (mod.bias.detach().to("cpu").double().numpy().copy() if mod.bias is not None else np.zeros(w.shape[0]))
            out.append(("linear", {"weight": w, "bias": b}))
        elif isinstance(mod, (nn.ReLU, nn.Tanh, nn.Sigmoid)):
            out.append(({nn.ReLU: "relu", nn.Tanh: "tanh", nn.Sigmoid: "sigmoid"}[type(mod)], {}))
        elif isinstance(mod, (nn.Identity, nn.Dropout, nn.Flatten)):
            continue
        else:
            raise UnknownLayer(type(mod).__name__, LAYERS)
    return out


def _sklearn_layers(model: Any) -> list[tuple[str, dict[str, np.ndarray]]] | None:
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    pre: list[tuple[str, dict[str, np.ndarray]]] = []
    if isinstance(model, Pipeline):
        *steps, (_, model) = model.steps
        for _, step in steps:
            if not isinstance(step, StandardScaler):
                return None
            scale = step.scale_ if step.scale_ is not None else np.ones_like(step.mean_)
            pre.append(("standardize", {"mean": np.asarray(step.mean_, float), "scale": np.asarray(scale, float)}))
    if not isinstance(model, (MLPClassifier, MLPRegressor)):
        return None
    act = _SK_ACT.get(model.activation)
    layers = list(pre)
    for i, (w, b) in enumerate(zip(model.coefs_, model.intercepts_)):
        layers.append(("linear", {"weight": np.asarray(w, float).T.copy(), "bias": np.asarray(b, float).copy()}))
        if i < len(model.coefs_) - 1:
            if act is None:
                if model.activation != "identity":
                    raise UnknownLayer(model.activation, LAYERS)
            else:
                layers.append((act, {}))
    return layers


def _read_layers(model: Any) -> list[tuple[str, dict[str, np.ndarray]]] | None:
    """All layers of a torch nn.Sequential or a scikit-learn MLP (pipeline); None for other models."""
    try:
        import torch.nn as nn

        if isinstance(model, nn.Sequential):
            return _torch_layers(model)
    except ImportError:  # pragma: no cover - torch is a project dependency
        pass
    return _sklearn_layers(model)


def network_layers(model: Any) -> list[tuple[str, dict[str, np.ndarray]]]:
    """All of the model's layers, the last linear one giving the logits; a model whose layers
    cannot be read (not a torch Sequential or a scikit-learn MLP pipeline) raises SpecError."""
    from ..errors import SpecError

    layers = _read_layers(model)
    if not layers or layers[-1][0] != "linear":
        raise SpecError(f"network-newton needs a network whose layers can be read (a torch nn.Sequential ending in "
                        f"Linear, or a scikit-learn MLP, optionally after a StandardScaler), got {type(model).__name__}")
    return layers


def hidden_layers(model: Any, x_train: np.ndarray) -> list[tuple[str, dict[str, np.ndarray]]]:
    """The model's layers up to (not including) its last linear layer: the feature extractor.
    A model without readable layers gets a standardisation of x_train instead."""
    layers = _read_layers(model)
    if layers is None:
        sd = x_train.std(axis=0)
        return [("standardize", {"mean": x_train.mean(axis=0), "scale": np.where(sd > 0, sd, 1.0)})]
    last = max(i for i, (kind, _) in enumerate(layers) if kind == "linear")
    return layers[:last]


def predictor(model: Any, classes: int) -> Callable[[np.ndarray], np.ndarray]:
    """x -> class probabilities [m, K] (or predictions [m, 1]) from a torch or sklearn model."""
    try:
        import torch
        import torch.nn as nn

        if isinstance(model, nn.Module):
            def run(x: np.ndarray) -> np.ndarray:
                with torch.no_grad():
                    out = model(torch.as_tensor(x, dtype=next(model.parameters()).dtype)).double().numpy()
                if not classes:
                    return out.reshape(-1, 1)
                z = out - out.max(axis=1, keepdims=True)
                e = np.exp(z)
                return e / e.sum(axis=1, keepdims=True)
            return run
    except ImportError:  # pragma: no cover
        pass
    if classes:
        return lambda x: np.asarray(model.predict_proba(x), dtype=np.float64)
    return lambda x: np.asarray(model.predict(x), dtype=np.float64).reshape(-1, 1)


def head_l2(model: Any, n_train: int) -> float:
    """The L2 strength of the model's own objective in the head's units, (1/n) sum l + (l2/2)|w|^2:
    a scikit-learn MLP's `alpha` / n (its penalty is alpha/(2n) |W|^2), else DEFAULT_L2. A head
    refitted with it is the model's own output layer at the optimum, as influence assumes."""
    from sklearn.neural_network import MLPClassifier, MLPRegressor
    from sklearn.pipeline import Pipeline

    last = model.steps[-1][1] if isinstance(model, Pipeline) else model
    if isinstance(last, (MLPClassifier, MLPRegressor)) and n_train > 0:
        return float(last.alpha) / n_train
    return DEFAULT_L2
