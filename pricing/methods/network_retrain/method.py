"""`NetworkRetrain`, the pricing method: what a spec must hold, what it prepares once per parsed
spec (the retrainings without the release), and a quote."""

from __future__ import annotations

import numpy as np

from ...errors import NonFiniteEfficacy, SpecError
from ...numerics.threads import one_thread
from ...proxies import Network, check_scaler_refit, check_whole_network, pooled_moments
from ..base import Efficacy, PricingMethod, check_count, largest_magnitude
from ..network_newton import calculus as nc
from .trainer import ROW_BLOCK, Part, adam_fit, anchor_labels, glorot, mean_probe_loss

__all__ = ["NetworkRetrain", "RETRAIN_BUDGET"]

# the retraining: Adam steps, rate, and how many seeded starts a price averages (one start's
# gain carries its own seed's luck: docs/decisions/2026-12-07-network-retrain.md)
RETRAIN_BUDGET = {"steps": 200.0, "lr": 0.01, "inits": 3.0}
_LIMITS = {"steps": (1, 10_000), "inits": (1, 16)}


class NetworkRetrain(PricingMethod):
    """Probe-loss drop when the buyer's network, retrained from scratch on its anchor (labels drawn
    from its own predictions) plus the release, is compared with the same retraining without it."""

    name = "network-retrain"
    defaults = {**RETRAIN_BUDGET, "weight_decay": 0.0, "n_train": 0.0, "refit_scaler": 0.0, "anchor_labels": 0.0}

    def __init__(self, *, block: int = ROW_BLOCK):
        """`block`: rows a pass takes at a time (memory; prices do not depend on it beyond rounding)."""
        self.block = block

    def tensor_shapes(self, manifest, *, d, width, classes, hyper):
        return {"probe.features": ("probe", d), "probe.label": ("probe",), "anchor.features": ("anchor", d),
                **({"scaler.var": (d,)} if hyper.get("refit_scaler") else {}),
                **({"anchor.label": ("anchor",)} if hyper.get("anchor_labels") else {})}

    def check_manifest(self, manifest, tensors, *, d, classes):
        layers = manifest.get("proxy", {}).get("layers", [])
        check_whole_network(self.name, layers, classes)
        hyper = manifest.get("hyper", {})
        for key, (lo, hi) in _LIMITS.items():
            check_count(hyper, key, self.defaults[key], lo, hi)
        if not 0 < hyper.get("lr", self.defaults["lr"]) <= 1:
            raise SpecError(f"hyper.lr (Adam's step size) must be in (0, 1], got {hyper.get('lr')!r}")
        if not hyper.get("weight_decay", 0.0) >= 0:
            raise SpecError("hyper.weight_decay must be >= 0 (the weights' L2 in sum units, a scikit-learn MLP's alpha)")
        if not hyper.get("n_train", 0.0) >= 0:
            raise SpecError("hyper.n_train must be >= 0 (the buyer's training rows; 0: as many as the anchor)")
        if not tensors["anchor.features"].shape[0]:
            raise SpecError("anchor.features has no rows: network-retrain retrains on them; ship the training inputs")
        if hyper.get("refit_scaler"):
            check_scaler_refit(layers, tensors["scaler.var"])
            if not hyper.get("n_train", 0.0) > 0:
                raise SpecError("hyper.refit_scaler needs hyper.n_train > 0 (the rows the shipped scaler was fitted on)")
        for key in ("probe.label", *(("anchor.label",) if hyper.get("anchor_labels") else ())):
            lab = tensors[key]
            if lab.min(initial=0) < 0 or lab.max(initial=0) >= classes or not np.all(lab == np.round(lab)):
                raise SpecError(f"{key} must hold class indices in [0, {classes})")

    def _prepared(self, spec) -> dict:
        """Once per parsed spec: the network, each start's weights and anchor labels (drawn from the
        network's own predicted probabilities), and each start's probe loss retrained without a release."""
        c = spec.cache.get(self.name)
        if c is None:
            with one_thread():
                t, h = spec.tensors, spec.hyper
                net = Network.from_spec(spec.layers, t, "proxy")
                anchor = t["anchor.features"]
                n_train = h["n_train"] or float(anchor.shape[0])
                inits = range(int(h["inits"]))
                c = {"net": net, "anchor": anchor, "weight": n_train / anchor.shape[0], "n_train": n_train,
                     "probe_y": t["probe.label"].astype(np.int64),
                     "starts": [glorot(net, spec.seed, k) for k in inits],
                     "labels": anchor_labels(net, anchor, t.get("anchor.label") if h["anchor_labels"] else None,
                                             spec.seed, len(inits))}
                c["base"] = [self._probe_loss(spec, c, net, theta) for theta in self._fits(spec, c, net, None, None)]
            spec.cache[self.name] = c
        return c

    def _scaled_net(self, spec, c, x: np.ndarray | None) -> Network:
        """The network whose first layer is the buyer's scaler: refitted on its training rows plus
        x (exact pooled moments) when the spec says its pipeline refits it, else as shipped."""
        net = c["net"]
        if x is None or not spec.hyper["refit_scaler"]:
            return net
        first = net.params[0]
        mu, sd = pooled_moments(first["mean"], spec.tensors["scaler.var"], first["scale"], c["n_train"], x)
        return Network(list(net.kinds), [{"mean": mu, "scale": sd}, *net.params[1:]])

    def _fits(self, spec, c, net: Network, x: np.ndarray | None, y: np.ndarray | None) -> list[np.ndarray]:
        """Each start's weights retrained on the anchor (its drawn labels, weighted) plus (x, y) if given."""
        h = spec.hyper
        out = []
        for theta0, labels in zip(c["starts"], c["labels"]):
            parts = [Part(c["anchor"], labels, c["weight"]), *([Part(x, y)] if x is not None else [])]
            with np.errstate(over="ignore"):  # a logistic residual at a huge margin is exactly 0 or 1
                out.append(adam_fit(net, parts, theta0=theta0, steps=int(h["steps"]), lr=float(h["lr"]),
                                    weight_decay=float(h["weight_decay"]), block=self.block))
        return out

    def _probe_loss(self, spec, c, net: Network, theta: np.ndarray) -> float:
        with np.errstate(over="ignore"):
            return mean_probe_loss(net, theta, spec.tensors["probe.features"], c["probe_y"])

    def _efficacy(self, spec, x, y):
        c = self._prepared(spec)
        net = self._scaled_net(spec, c, x)
        fits = self._fits(spec, c, net, x, y)
        after = [self._probe_loss(spec, c, net, theta) for theta in fits]
        if not np.all(np.isfinite(after)):
            raise NonFiniteEfficacy(self.name, largest_magnitude(x), spec_fix="the retraining diverged: lower the spec's hyper.lr")
        scores = np.mean([self._scores(spec, c, net, theta, x, y) for theta in fits], axis=0)
        return Efficacy(float(np.mean(np.subtract(c["base"], after))), scores)

    def _scores(self, spec, c, net: Network, theta: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
        """Each record's first-order share at the retrained weights: how much one gradient step on
        its loss alone lowers the probe loss per unit step (grad probe . grad l_i)."""
        cur = nc.with_flat(net, theta)
        with np.errstate(over="ignore"):
            logits, acts = cur.forward(spec.tensors["probe.features"], keep=True)
            _, resid = nc.loss_and_residual(logits, c["probe_y"])
            g_probe = nc.flat_grad(cur, acts, resid) / c["probe_y"].shape[0]
            out = np.empty(x.shape[0])
            for s in range(0, x.shape[0], self.block):
                logits, acts = cur.forward(x[s:s + self.block], keep=True)
                _, resid = nc.loss_and_residual(logits, y[s:s + self.block])
                out[s:s + self.block] = (resid * nc.jvp(cur, acts, g_probe)).sum(axis=1)
        return out
