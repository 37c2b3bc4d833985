"""Feature-Newton: refit the buyer's logistic head on the bundle with damped Newton steps.

The buyer ships its feature extractor (the hidden layers of its own network), the head
theta* fitted on those features, the Hessian H of its training objective at theta*, and a
probe set it chooses to show. The hub minimises the buyer's objective with the bundle
added, J(theta) = 1/2 (theta - theta*)' H (theta - theta*) + (1/n) sum_U l(z, theta)
(the training part as its quadratic model around the optimum, the bundle part exact), by
a few Newton steps with Armijo backtracking (an undamped step overshoots on noisy bundles;
Boyd & Vandenberghe 2004, sec. 9.5). Efficacy = probe loss at theta* minus at the new theta.
Because the bundle's loss stays exact, mislabelled records cannot pull the head far, and
repeated records meet a fit that already explains them (the gain saturates).

With ``refit_scaler`` = 1 the buyer declares that it refits its input standardisation on the
merged data (as a scikit-learn ``Pipeline`` does): the hub then recomputes the first
``standardize`` layer from its shipped mean and scale, n_train and the bundle (exact pooled
moments), and prices with the shifted features, so rows that wreck the scaler (e.g.
out-of-distribution columns) lower the probe loss reduction as they lower the real model's.
``frozen_hessian`` = 1 factorises the Hessian once and reuses it for every step (the chord
method: cheaper, slightly less accurate).
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import cho_factor, cho_solve

from .. import _head
from ..errors import SpecError
from .base import Efficacy, HeadMethod

__all__ = ["FeatureNewton", "newton_refit"]


def newton_refit(phi: np.ndarray, y: np.ndarray, w0: np.ndarray, h_train: np.ndarray, n: float,
                 classification: bool, steps: int, *, return_factor: bool = False, frozen: bool = False):
    """Damped Newton on J(theta); returns the refitted head W [k, q] (Cholesky: J is convex),
    and with `return_factor` also the Cholesky factor of the last Hessian used (or None)."""
    k, q = w0.shape
    t0 = w0.ravel()

    def objective(theta: np.ndarray) -> float:
        d = theta - t0
        return 0.5 * float(d @ h_train @ d) + float(_head.losses(phi, y, theta.reshape(k, q), classification).sum()) / n

    theta, f = t0.copy(), objective(t0)
    fac = None
    for _ in range(steps):
        wm = theta.reshape(k, q)
        g = h_train @ (theta - t0) + _head.grad_sum(phi, y, wm, classification) / n
        if fac is None or not frozen:  # frozen: the chord method, one factorisation for all steps
            h = h_train + _head.hessian_sum(phi, wm, classification) / n
            fac = cho_factor(h, lower=True, check_finite=False)
        step = -cho_solve(fac, g, check_finite=False)
        slope = float(g @ step)
        if slope >= 0:
            break
        t = 1.0
        for _ in range(30):
            cand = theta + t * step
            f_new = objective(cand)
            if f_new <= f + 1e-4 * t * slope:
                break
            t *= 0.5
        else:
            break
        theta, f = cand, f_new
    return (theta.reshape(k, q), fac) if return_factor else theta.reshape(k, q)


class FeatureNewton(HeadMethod):
    """Probe-loss reduction after damped Newton refitting of the head (the benchmark's best)."""

    name = "feature-newton"
    uses_probe = True
    defaults = {"n_train": 0.0, "steps": 3.0, "refit_scaler": 0.0, "frozen_hessian": 0.0}

    def check_manifest(self, manifest, tensors, *, d, classes):
        super().check_manifest(manifest, tensors, d=d, classes=classes)
        layers = manifest.get("proxy", {}).get("layers", [])
        if manifest.get("hyper", {}).get("refit_scaler") and not (layers and layers[0].get("type") == "standardize"):
            raise SpecError("hyper.refit_scaler needs the proxy to start with a 'standardize' layer")

    @staticmethod
    def _refit_features(spec, x: np.ndarray, extra: np.ndarray) -> tuple:
        """Feature maps (old, new): new uses the first scaler refitted on n_train rows plus x."""
        from ..proxies import Network

        net = Network.from_spec(spec.layers, spec.tensors, "proxy")
        new = net.copy()
        mean, scale = net.params[0]["mean"], net.params[0]["scale"]
        n, m = spec.hyper["n_train"], x.shape[0]
        mu = (n * mean + x.sum(axis=0)) / (n + m)
        var = (n * (scale**2 + mean**2) + (x**2).sum(axis=0)) / (n + m) - mu**2
        sd = np.sqrt(np.maximum(var, 0.0))
        new.params[0] = {"mean": mu, "scale": np.where(sd > 1e-12 * np.maximum(1.0, np.abs(mu)), sd, scale)}
        return (lambda z: _head.add_bias(net.forward(z))), (lambda z: _head.add_bias(new.forward(z)))

    def tensor_shapes(self, manifest, *, d, width, classes, hyper):
        shapes = super().tensor_shapes(manifest, d=d, width=width, classes=classes, hyper=hyper)
        p = (classes or 1) * (width + 1)
        shapes["newton.hessian"] = (p, p)
        return shapes

    def _efficacy(self, spec, x, y):
        w0 = self.head(spec)
        px, py = self.probe(spec)
        if spec.hyper["refit_scaler"]:
            old, new = self._refit_features(spec, x, px)
            phi, probe_old, probe_phi = new(x), old(px), new(px)
        else:
            phi = self.features(spec, x)
            probe_old = probe_phi = self.features(spec, px)
        n, cls = spec.hyper["n_train"], spec.classification
        h_train = spec.tensors["newton.hessian"]
        w, fac = newton_refit(phi, y, w0, h_train, n, cls, int(spec.hyper["steps"]), return_factor=True,
                              frozen=bool(spec.hyper["frozen_hessian"]))
        total = _head.mean_loss(probe_old, py, w0, cls) - _head.mean_loss(probe_phi, py, w, cls)
        # per-record attribution: influence at the refitted head (Koh & Liang 2017 at theta_U),
        # with the last Newton Hessian (one factorisation fewer; it is within one step of theta_U)
        g_probe = _head.grad_sum(probe_phi, py, w, cls) / probe_phi.shape[0]
        if fac is None:
            fac = cho_factor(h_train + _head.hessian_sum(phi, w, cls) / n, lower=True, check_finite=False)
        s = cho_solve(fac, g_probe, check_finite=False)
        scores = _head.record_grads(phi, y, w, cls) @ s / n
        return Efficacy(float(total), scores)
