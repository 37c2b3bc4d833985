"""Distilled proxy: fine-tune a small network distilled from the buyer's model on the release.

The buyer distils its model into an allow-listed network (Hinton, Vinyals, Dean 2015) and
ships it with a probe set. The hub runs a fixed, seeded number of minibatch SGD steps on
the release (steps grow with the release, ceil(epochs * m / batch), up to max_steps) with
an L2 pull towards the shipped weights, and reports the probe loss before minus after.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import HyperOutOfRange, SpecError
from ..proxies import Network
from .base import Efficacy, PricingMethod, check_count

__all__ = ["Distilled", "MAX_STEPS", "MAX_BATCH", "MAX_EPOCHS"]

#: Bounds on the fine-tuning a spec asks for: SGD steps (50x the default 200; network-retrain's
#: bound on its Adam steps), minibatch rows (32x the default 32) and epochs (500x the default 2;
#: the steps are min(max_steps, ceil(epochs * rows / batch)), so epochs matter only below max_steps).
MAX_STEPS, MAX_BATCH, MAX_EPOCHS = 10_000, 1024, 1000.0


def _loss_and_grad(out: np.ndarray, y: np.ndarray, classification: bool) -> tuple[np.ndarray, np.ndarray]:
    """Per-record loss and d(mean loss)/d(out)."""
    m = out.shape[0]
    if classification:
        z = out - out.max(axis=1, keepdims=True)
        e = np.exp(z)
        p = e / e.sum(axis=1, keepdims=True)
        loss = np.log(e.sum(axis=1)) - z[np.arange(m), y]
        p[np.arange(m), y] -= 1.0
        return loss, p / m
    r = out[:, 0] - y
    return 0.5 * r**2, (r / m)[:, None]


class Distilled(PricingMethod):
    """Probe-loss reduction after seeded fine-tuning of the distilled proxy."""

    name = "distilled"
    defaults = {"epochs": 2.0, "batch": 32.0, "max_steps": 200.0, "lr": 0.05, "anchor": 1e-3}

    def tensor_shapes(self, manifest, *, d, width, classes, hyper):
        if width != (classes or 1):
            raise SpecError(f"the distilled proxy must output {classes or 1} values (one per class), it outputs {width}")
        return {"probe.features": ("probe", d), "probe.label": ("probe",)}

    def check_manifest(self, manifest, tensors, *, d, classes):
        if not any(layer.get("type") == "linear" for layer in manifest.get("proxy", {}).get("layers", [])):
            raise SpecError("the distilled proxy needs at least one linear layer to fine-tune")
        hyper = manifest.get("hyper", {})
        check_count(hyper, "max_steps", self.defaults["max_steps"], 1, MAX_STEPS)
        check_count(hyper, "batch", self.defaults["batch"], 1, MAX_BATCH)
        epochs = hyper.get("epochs", self.defaults["epochs"])
        if not 0 < epochs <= MAX_EPOCHS:
            raise HyperOutOfRange("hyper.epochs", epochs, f"a number in (0, {MAX_EPOCHS:g}]")
        if hyper.get("lr", self.defaults["lr"]) <= 0:
            raise SpecError("hyper.lr must be > 0")

    def _efficacy(self, spec, x, y):
        cls = spec.classification
        net0 = Network.from_spec(spec.layers, spec.tensors, "proxy")
        net = net0.copy()
        px = spec.tensors["probe.features"]
        py = spec.tensors["probe.label"].astype(np.int64) if cls else spec.tensors["probe.label"]
        before = _loss_and_grad(net0.forward(px), py, cls)[0]
        h = spec.hyper
        m, batch = x.shape[0], int(h["batch"])
        steps = min(int(h["max_steps"]), math.ceil(h["epochs"] * m / batch))
        rng = np.random.Generator(np.random.PCG64(spec.seed))
        for _ in range(steps):
            idx = rng.integers(0, m, size=min(batch, m))
            out, acts = net.forward(x[idx], keep=True)
            _, g_out = _loss_and_grad(out, y[idx], cls)
            grads = net.backward(acts, g_out)
            for p, p0, g in zip(net.params, net0.params, grads):
                for key, grad in g.items():
                    p[key] -= h["lr"] * (grad + h["anchor"] * (p[key] - p0[key]))
        after = _loss_and_grad(net.forward(px), py, cls)[0]
        # per-record scores: each record's share, by how much the tuned proxy lowered its own loss
        own = _loss_and_grad(net0.forward(x), y, cls)[0] - _loss_and_grad(net.forward(x), y, cls)[0]
        total = float(before.mean() - after.mean())
        denom = float(np.abs(own).sum())
        scores = own * (total / denom) if denom > 0 else np.zeros(m)
        return Efficacy(total, scores)
