"""`build_spec`: everything a method needs, computed at the buyer's, into one bundle."""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ..numerics import linear_head
from ..errors import SpecError, UnknownMethod
from ..methods import METHODS
from ..methods.feature_newton import solver_code
from ..methods.network_newton import ANCHOR_BUDGET
from ..methods.network_retrain import RETRAIN_BUDGET
from ..methods.network_retrain.steps import matched_steps
from ..numerics.solver import Solver
from ..proxies import Network
from ..spec import check_copies, make_spec
from .curvature import CURVATURE_BYTES, CURVATURE_RTOL, network_curvature
from .extract import head_l2, hidden_layers, network_layers, predictor

__all__ = ["build_spec", "ihvp_cg", "ihvp_lissa", "SCALER_AWARE", "ANCHORED"]

# methods that can model a scaler refitted on the merged rows (hyper.refit_scaler, scaler.var)
SCALER_AWARE: tuple[str, ...] = ("feature-newton", "network-newton", "network-retrain")
# methods that ship the buyer's unlabelled inputs (`anchor`): optional for network-newton, needed by network-retrain
ANCHORED: tuple[str, ...] = ("network-newton", "network-retrain")


def ihvp_cg(hvp: Callable[[np.ndarray], np.ndarray], v: np.ndarray, *, tol: float = 1e-10,
            max_iter: int = 1000) -> np.ndarray:
    """H^{-1} v by conjugate gradients with Hessian-vector products (Martens 2010)."""
    x = np.zeros_like(v)
    r = v.copy()
    p = r.copy()
    rs = float(r @ r)
    for _ in range(max_iter):
        if rs <= tol**2 * float(v @ v):
            break
        hp = hvp(p)
        a = rs / float(p @ hp)
        x += a * p
        r -= a * hp
        rs_new = float(r @ r)
        p = r + (rs_new / rs) * p
        rs = rs_new
    return x


def ihvp_lissa(hvp: Callable[[np.ndarray], np.ndarray], v: np.ndarray, *, scale: float,
               depth: int = 5000, damping: float = 0.0) -> np.ndarray:
    """H^{-1} v by the LiSSA recursion h <- v + (I - (H + damping)/scale) h (Agarwal et al. 2017;
    Koh & Liang 2017, sec. 3); `scale` must exceed H's largest eigenvalue."""
    h = v.copy()
    for _ in range(depth):
        h = v + h - (hvp(h) + damping * h) / scale
    return h / scale


def _schema(feature_names: Sequence[str] | None, d: int, classes: int, label_name: str) -> dict:
    names = list(feature_names) if feature_names is not None else [f"x{i}" for i in range(d)]
    if len(names) != d:
        raise SpecError(f"{len(names)} feature names for {d} columns")
    label = {"name": label_name, "kind": "categorical", "classes": classes} if classes else {"name": label_name, "kind": "continuous"}
    return {"features": [{"name": n} for n in names], "label": label}


def _layers_to_spec(layers: list[tuple[str, dict[str, np.ndarray]]], prefix: str) -> tuple[list[dict], dict[str, np.ndarray]]:
    specs, tensors = [], {}
    for i, (kind, params) in enumerate(layers):
        entry: dict[str, Any] = {"type": kind}
        if kind == "linear":
            entry["out"] = int(params["weight"].shape[0])
        specs.append(entry)
        for k, v in params.items():
            tensors[f"{prefix}.{i}.{k}"] = np.asarray(v, dtype=np.float64)
    return specs, tensors


def _anchor_rows(anchor: np.ndarray, d: int) -> np.ndarray:
    """The anchor inputs as the spec ships them: at least one row of d float64 columns."""
    anchor = np.ascontiguousarray(anchor, np.float64)
    if anchor.ndim != 2 or anchor.shape[1] != d or not anchor.shape[0]:
        raise SpecError(f"anchor must be [rows, {d}] inputs, got shape {anchor.shape}")
    return anchor


def _tree_json(x: np.ndarray, labels: np.ndarray, classes: int, max_leaves: int, seed: int) -> dict:
    from sklearn.tree import DecisionTreeClassifier

    clf = DecisionTreeClassifier(max_leaf_nodes=max_leaves, min_samples_leaf=5, random_state=seed).fit(x, labels)
    t = clf.tree_
    value = np.zeros((t.node_count, classes))
    value[:, clf.classes_.astype(int)] = t.value[:, 0, :] * t.weighted_n_node_samples[:, None] / np.maximum(
        t.value[:, 0, :].sum(axis=1, keepdims=True), 1e-300)
    return {
        "feature": [int(f) if l >= 0 else 0 for f, l in zip(t.feature, t.children_left)],
        "threshold": [float(th) if l >= 0 else 0.0 for th, l in zip(t.threshold, t.children_left)],
        "left": [int(v) for v in t.children_left], "right": [int(v) for v in t.children_right],
        "value": [[float(c) for c in row] for row in value],
    }


def _sample_inputs(x: np.ndarray, n: int, rng: np.random.Generator, components: int = 10) -> np.ndarray:
    """Inputs drawn from a Gaussian mixture fitted to the buyer's data (Bastani et al. 2017)."""
    from sklearn.mixture import GaussianMixture

    gm = GaussianMixture(n_components=min(components, max(1, x.shape[0] // 20)), covariance_type="diag",
                         random_state=int(rng.integers(2**31)), reg_covar=1e-3).fit(x)
    return gm.sample(n)[0]


def _distil(teacher: np.ndarray, x: np.ndarray, d: int, k: int, hidden: int, seed: int, epochs: int) -> list:
    """Fit a tanh MLP student to the teacher's probabilities (or outputs) by full-batch Adam, in torch."""
    import torch

    g = torch.Generator().manual_seed(seed)
    mean, sd = x.mean(axis=0), x.std(axis=0)
    sd = np.where(sd > 0, sd, 1.0)
    w1 = (torch.randn(hidden, d, generator=g, dtype=torch.float64) / np.sqrt(d)).requires_grad_()
    b1 = torch.zeros(hidden, dtype=torch.float64, requires_grad=True)
    w2 = (torch.randn(k, hidden, generator=g, dtype=torch.float64) / np.sqrt(hidden)).requires_grad_()
    b2 = torch.zeros(k, dtype=torch.float64, requires_grad=True)
    xt = torch.as_tensor((x - mean) / sd)
    tt = torch.as_tensor(teacher)
    opt = torch.optim.Adam([w1, b1, w2, b2], lr=0.01)
    for _ in range(epochs):
        opt.zero_grad()
        out = torch.tanh(xt @ w1.T + b1) @ w2.T + b2
        loss = -(tt * torch.log_softmax(out, dim=1)).sum(dim=1).mean() if k > 1 else ((out - tt) ** 2).mean()
        loss.backward()
        opt.step()
    return [("standardize", {"mean": mean, "scale": sd}),
            ("linear", {"weight": w1.detach().numpy().copy(), "bias": b1.detach().numpy().copy()}), ("tanh", {}),
            ("linear", {"weight": w2.detach().numpy().copy(), "bias": b2.detach().numpy().copy()})]


def build_spec(method: str, model: Any, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray,
               y_val: np.ndarray, *, classes: int, feature_names: Sequence[str] | None = None,
               label_name: str = "label", l2: float | None = None, rank: int = 64, solver: Solver | str = Solver.EXACT,
               probe: tuple[np.ndarray, np.ndarray] | None = None, seed: int = 0,
               hyper: dict[str, float] | None = None, dedup_tol: float = 0.0, copies: str = "lower",
               tree_samples: int = 2000, tree_leaves: int = 64, student_hidden: int = 32,
               student_epochs: int = 300, anchor: np.ndarray | None = None, anchor_labels: np.ndarray | None = None,
               curvature_bytes: int | None = CURVATURE_BYTES, curvature_rtol: float | None = CURVATURE_RTOL) -> bytes:
    """Spec bundle for `method` from the buyer's model and data (classes=0 for regression).

    Head methods refit a linear head on the model's hidden features with L2 `l2` (default: the
    model's own weight decay, `head_l2`); the probe set shipped is `probe`, else the validation set.
    network-newton ships `anchor`, unlabelled inputs the buyer chooses to show (its training
    inputs price best), when given: its refit then runs against the training loss as a function
    rather than its quadratic (`network_newton.Anchor`), with the budget `ANCHOR_BUDGET`.
    network-retrain needs `anchor`: it retrains the network's layers on those inputs (labelled by
    the network's own predictions) with and without a release (`methods.network_retrain`).
    `solver` (a `Solver` or its name) computes influence's inverse-Hessian-vector product; a
    feature-newton buyer chooses its Newton solver as hyper={"solver": Solver.EXACT} (or "cg",
    or the spec's own number), written into the spec as the number it stores.
    `copies` says how `price()` counts a release's duplicate records (`pricing.spec.COPIES`):
    "lower" for a buyer that trains on a release as delivered, "drop" for one that drops copies.
    network-newton ships at most `rank` eigenpairs, fewer where their live rows would pass
    `curvature_bytes` (`curvature.CURVATURE_BYTES`; None for no cap), and of those only the
    ones whose data curvature is at least `curvature_rtol` of the largest (`CURVATURE_RTOL`)."""
    if method not in METHODS:
        raise UnknownMethod(method, tuple(METHODS))
    check_copies(copies)  # refused here, not after the curvature or the tree is computed
    solver = Solver.parse(solver)
    if anchor is not None and method not in ANCHORED:
        raise SpecError(f"only {' and '.join(ANCHORED)} ship an anchor; {method} prices without one (pass anchor=None)")
    if anchor_labels is not None and method != "network-retrain":
        raise SpecError(f"only network-retrain ships the anchor's labels; {method} prices without them")
    if anchor is None and method == "network-retrain":
        raise SpecError("network-retrain retrains on the buyer's own inputs: pass anchor=<rows of inputs> "
                        "(spartacus spec build --anchor FILE); its training inputs price best, shipped unlabelled")
    x_train, x_val = np.asarray(x_train, np.float64), np.asarray(x_val, np.float64)
    y_train = np.asarray(y_train, np.int64 if classes else np.float64)
    y_val = np.asarray(y_val, np.int64 if classes else np.float64)
    px, py = probe if probe is not None else (x_val, y_val)
    px, py = np.asarray(px, np.float64), np.asarray(py, np.int64 if classes else np.float64)
    d, n = x_train.shape[1], x_train.shape[0]
    k = classes or 1
    manifest: dict[str, Any] = {"method": method, "schema": _schema(feature_names, d, classes, label_name),
                                "seeds": {"finetune": int(seed)}, "dedup": {"tol": float(dedup_tol), "copies": copies}}
    tensors: dict[str, np.ndarray] = {}
    h: dict[str, float] = {}
    rng = np.random.Generator(np.random.PCG64(seed))

    if method in ("influence", "group-influence", "feature-newton"):
        l2 = head_l2(model, n) if l2 is None else float(l2)
        layer_list, tensors = _layers_to_spec(hidden_layers(model, x_train), "proxy")
        manifest["proxy"] = {"layers": layer_list}
        net = Network.from_spec(layer_list, tensors, "proxy")
        phi_tr, phi_val = linear_head.add_bias(net.forward(x_train)), linear_head.add_bias(net.forward(x_val))
        w = linear_head.fit_head(phi_tr, y_train, classes=classes, l2=l2)
        tensors["head.weight"] = w
        h["n_train"] = float(n)
        p = w.size
        hess = linear_head.hessian_sum(phi_tr, w, classes > 0) / n + l2 * np.eye(p)
        g_val = linear_head.grad_sum(phi_val, y_val, w, classes > 0) / x_val.shape[0]
        if method == "influence":
            if solver is Solver.EXACT:
                ihvp = np.linalg.solve(hess, g_val)
            elif solver is Solver.CG:
                ihvp = ihvp_cg(lambda v: hess @ v, g_val)
            else:
                ihvp = ihvp_lissa(lambda v: hess @ v, g_val, scale=1.1 * float(np.linalg.eigvalsh(hess)[-1]))
            tensors["influence.ihvp"] = ihvp
        elif method == "group-influence":
            lam, vec = np.linalg.eigh(hess)
            r = min(rank, p)
            tensors["group.eigvals"], tensors["group.eigvecs"] = lam[::-1][:r].copy(), vec[:, ::-1][:, :r].copy()
            tensors["group.grad_val"] = g_val
            rest = lam[: p - r]
            h["residual"] = float(rest.mean()) if rest.size else float(l2)
        else:
            tensors["newton.hessian"] = hess
            tensors["probe.features"], tensors["probe.label"] = px, py
    elif method == "network-newton":
        layer_list, tensors = _layers_to_spec(network_layers(model), "proxy")
        manifest["proxy"] = {"layers": layer_list}
        net = Network.from_spec(layer_list, tensors, "proxy")
        decay = (head_l2(model, n) if l2 is None else float(l2)) * n  # the model's own penalty, in sum units
        tensors.update(network_curvature(net, x_train, weight_decay=decay, rank=rank, seed=seed,
                                         max_bytes=curvature_bytes, rtol=curvature_rtol))
        h["n_train"], h["weight_decay"] = float(n), decay  # what a refitted scaler's penalty (and an anchor) needs
        if anchor is not None:
            tensors["anchor.features"] = anchor = _anchor_rows(anchor, d)
            h.update(ANCHOR_BUDGET, anchor_weight=n / anchor.shape[0])  # each anchor row stands for n / rows training rows
        tensors["probe.features"], tensors["probe.label"] = px, py
    elif method == "network-retrain":
        layer_list, tensors = _layers_to_spec(network_layers(model), "proxy")
        manifest["proxy"] = {"layers": layer_list}
        tensors["anchor.features"] = anchor = _anchor_rows(anchor, d)
        h["n_train"] = float(n)  # the anchor stands for the buyer's n training rows
        h["weight_decay"] = (head_l2(model, n) if l2 is None else float(l2)) * n  # its own penalty, sum units
        tensors["probe.features"], tensors["probe.label"] = px, py
        if anchor_labels is not None:  # the buyer discloses its training labels: retrained on them
            lab = np.asarray(anchor_labels)
            if lab.shape != (anchor.shape[0],) or not np.all(lab == np.round(lab)) or not 0 <= lab.min() <= lab.max() < k:
                raise SpecError(f"anchor_labels must be one class index in [0, {k}) per anchor row "
                                f"({anchor.shape[0]}), got shape {lab.shape}")
            tensors["anchor.label"], h["anchor_labels"] = lab.astype(np.int64), 1.0
        run = {**RETRAIN_BUDGET, **(hyper or {})}
        if "steps" not in (hyper or {}):  # as long as the retraining takes to fit as the buyer's model does
            net = Network.from_spec(layer_list, tensors, "proxy")
            h["steps"] = float(matched_steps(net, anchor, px, py, weight=n / anchor.shape[0],
                                             weight_decay=h["weight_decay"], lr=float(run["lr"]),
                                             inits=int(run["inits"]), seed=seed,
                                             labels=tensors.get("anchor.label"))[0])
    elif method == "tree":
        if not classes:
            raise SpecError("the tree method needs a classification model (classes >= 2)")
        xs = np.concatenate([x_train, _sample_inputs(x_train, tree_samples, rng)])
        labels = predictor(model, classes)(xs).argmax(axis=1)
        manifest["tree"] = _tree_json(xs, labels, classes, tree_leaves, seed)
    elif method == "distilled":
        xs = np.concatenate([x_train, _sample_inputs(x_train, tree_samples, rng)])
        teacher = predictor(model, classes)(xs)
        layer_list, tensors = _layers_to_spec(_distil(teacher, xs, d, k, student_hidden, seed, student_epochs), "proxy")
        manifest["proxy"] = {"layers": layer_list}
        tensors["probe.features"], tensors["probe.label"] = px, py
    h.update(hyper or {})
    if method == "feature-newton" and "solver" in h:
        h["solver"] = solver_code(h["solver"])  # the spec stores the number (`feature_newton.SOLVER_CODES`)
    if h.get("anchor_weight") and "anchor.features" not in tensors:  # else the spec fails at parse, as MissingTensor
        raise SpecError("hyper.anchor_weight needs the anchor inputs themselves: pass anchor=<rows of inputs> "
                        "(the builder then sets the weight)")
    if h.get("refit_scaler") and method in SCALER_AWARE:
        tensors["scaler.var"] = np.asarray(x_train, np.float64).var(axis=0)  # the pooled moments need it
    manifest["hyper"] = h
    return make_spec(manifest, tensors)
