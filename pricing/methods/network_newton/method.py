"""`NetworkNewton`, the pricing method: what a spec must hold, what it prepares once per parsed
spec, and a quote (the refit, the probe loss after it, each record's score). The method itself is
described in the package's docstring (`pricing.methods.network_newton`)."""

from __future__ import annotations

import numpy as np

from ...errors import NonOrthonormalBasis, PricingError, SpecError
from ...numerics.threads import one_thread
from ...proxies import Network, check_scaler_refit, check_whole_network, layer_tensor_shapes
from ..base import Efficacy, PricingMethod, check_count
from . import calculus as nc
from .anchor import Anchor
from .compiled import AUTO, flat_grad, probe_loss, record_scores
from .curvature import Curvature
from .refit import BUDGET, network_refit, scaler_penalty
from .rows import Restriction, Rows
from .support import Support

__all__ = ["NetworkNewton"]


def _probe_loss(rows: Rows, net: Network, theta: np.ndarray, y: np.ndarray, *, grad: bool = False,
                compiled: bool = True) -> tuple[float, np.ndarray | None]:
    """The mean probe loss at theta (`net` holds theta) from the probe's cached first-layer
    input, and with `grad` its flat gradient (`compiled=False`: numpy's backward pass): one
    path for theta* and every refit, so a refit that does not move theta prices exactly 0. For a
    one-hidden-layer network it is one compiled call (`compiled.probe_loss`)."""
    if compiled:
        done = probe_loss(net, rows, theta, y, grad=grad)
        if done is not None:
            return done
    logits, acts = rows.forward(net, rows.first_output(theta))
    loss, resid = nc.loss_and_residual(logits, y)
    n = y.shape[0]
    return loss / n, ((flat_grad if compiled else nc.flat_grad)(net, acts, resid) / n if grad else None)


def _positive(value) -> bool:
    return isinstance(value, (int, float)) and value > 0


class NetworkNewton(PricingMethod):
    """Probe-loss reduction after Gauss-Newton refitting of the whole network (classification)."""

    name = "network-newton"
    defaults = {**BUDGET, "refit_scaler": 0.0, "n_train": 0.0, "weight_decay": 0.0, "anchor_weight": 0.0,
                "newton_tol": 0.0, "support": 0.0}

    def __init__(self, *, compiled: bool = True, restrict: bool = True, block: int | str | None = AUTO):
        """The registered method prices with the defaults. `compiled=False` keeps every refit,
        probe loss and score in numpy (`refit.network_refit(compiled=False)`), `restrict=False`
        refits every input column (no `Restriction`): the references the tests price against.
        Either gives the default's prices to rounding, not bit for bit. `block` is the rows a
        compiled pass streams at a time (`compiled.AUTO`: up to `WHOLE_ROWS` rows the whole-array
        refit and one block for the other passes, then `ROW_BLOCK`; None: the whole-array
        kernels, bit for bit the default up to `WHOLE_ROWS` rows, to rounding above)."""
        self.compiled, self.restrict, self.block = compiled, restrict, block

    def tensor_shapes(self, manifest, *, d, width, classes, hyper):
        shapes, _ = layer_tensor_shapes(manifest.get("proxy", {}).get("layers", []), d, "proxy")
        p = sum(int(np.prod(s)) for k, s in shapes.items() if k.endswith((".weight", ".bias")))
        return {"curvature.eigvecs": (p, "rank"), "curvature.eigvals": ("rank",), "curvature.diag": (p,),
                "probe.features": ("probe", d), "probe.label": ("probe",),
                **({"scaler.var": (d,)} if hyper.get("refit_scaler") else {}),
                **({"anchor.features": ("anchor", d)} if _positive(hyper.get("anchor_weight")) else {})}

    def check_manifest(self, manifest, tensors, *, d, classes):
        layers = manifest.get("proxy", {}).get("layers", [])
        check_whole_network(self.name, layers, classes)
        hyper = manifest.get("hyper", {})
        for key in ("steps", "cg_iters"):
            check_count(hyper, key, self.defaults[key], 1, 100)
        if hyper.get("refit_scaler"):
            check_scaler_refit(layers, tensors["scaler.var"])
            if len(layers) < 2 or layers[1].get("type") != "linear":
                raise SpecError("hyper.refit_scaler needs the 'standardize' layer to feed a 'linear' one (its decay changes)")
            if not hyper.get("n_train", 0) > 0 or not hyper.get("weight_decay", 0) >= 0:
                raise SpecError("hyper.refit_scaler needs hyper.n_train > 0 (the buyer's training rows) and "
                                "hyper.weight_decay >= 0 (the weights' L2 in sum units, a scikit-learn MLP's alpha)")
        w = hyper.get("anchor_weight", 0.0)
        if not (isinstance(w, (int, float)) and np.isfinite(w) and w >= 0):
            raise SpecError(f"hyper.anchor_weight must be a finite number >= 0 (n_train / anchor rows), got {w!r}")
        if w and not hyper.get("weight_decay", 0) >= 0:
            raise SpecError("hyper.anchor_weight needs hyper.weight_decay >= 0 (the weights' L2 in sum units)")
        if w and not tensors["anchor.features"].shape[0]:
            raise SpecError("anchor.features has no rows; ship at least one input or set hyper.anchor_weight to 0")
        if not 0 < hyper.get("cg_tol", self.defaults["cg_tol"]) < 1:
            raise SpecError(f"hyper.cg_tol must be in (0, 1), got {hyper.get('cg_tol')!r}")
        if not hyper.get("support", self.defaults["support"]) >= 0:
            raise SpecError(f"hyper.support must be >= 0 (0 prices every row; else the radius, in multiples of the "
                            f"farthest reference row's distance), got {hyper.get('support')!r}")
        if not hyper.get("newton_tol", self.defaults["newton_tol"]) >= 0:  # parse_spec checked it is a finite number
            raise SpecError(f"hyper.newton_tol must be >= 0 (nats; 0 runs every step), got {hyper.get('newton_tol')!r}")
        vecs, vals, diag = tensors["curvature.eigvecs"], tensors["curvature.eigvals"], tensors["curvature.diag"]
        if vals.min(initial=1.0) <= 0 or diag.min(initial=1.0) <= 0:
            raise SpecError("curvature.eigvals and curvature.diag must be positive (add the weight decay)")
        if vecs.shape[1] > vecs.shape[0]:  # more columns than rows cannot be orthonormal; V'V would be rank x rank
            raise NonOrthonormalBasis("curvature.eigvecs", float("inf"), 1e-6, shape=vecs.shape)
        gram_err = float(np.abs(vecs.T @ vecs - np.eye(vecs.shape[1])).max(initial=0.0))
        if gram_err > 1e-6:  # else H~ need not be positive definite and the refit is meaningless
            raise NonOrthonormalBasis("curvature.eigvecs", gram_err, 1e-6)
        lab = tensors["probe.label"]
        if lab.min(initial=0) < 0 or lab.max(initial=0) >= classes or not np.all(lab == np.round(lab)):
            raise SpecError(f"probe.label must hold class indices in [0, {classes})")

    @staticmethod
    def _prepared(spec) -> dict:
        """What depends on the spec alone, once per parsed spec: network, theta*, curvature, probe
        loss (by the compiled path where there is one, whichever instance prepares it), the
        inputs whose weights V never moves."""
        c = spec.cache.get("network-newton")
        if c is None:
            with one_thread():
                net = Network.from_spec(spec.layers, spec.tensors, "proxy")
                t = spec.tensors
                py = t["probe.label"].astype(np.int64)
                c = {"net": net, "theta0": nc.flat(net), "probe_y": py,
                     "curv": Curvature(t["curvature.eigvecs"], t["curvature.eigvals"], t["curvature.diag"]),
                     # the probe's first-layer input, once per spec (sparse for one-hot data, `Rows`)
                     "probe_rows": Rows(net, t["probe.features"], None),
                     "anchor": (Anchor(net, t["anchor.features"], spec.hyper["anchor_weight"], spec.hyper["weight_decay"])
                                if spec.hyper["anchor_weight"] else None)}
                c["dead_inputs"] = c["curv"].dead_inputs(net)
                ref = t["anchor.features"] if spec.hyper["anchor_weight"] else t["probe.features"]
                c["support"] = Support(net, ref, spec.hyper["support"]) if spec.hyper["support"] else None
                c["probe_loss0"] = _probe_loss(c["probe_rows"], net, c["theta0"], py)[0]
            spec.cache["network-newton"] = c
        return c

    def _efficacy(self, spec, x, y):
        c = self._prepared(spec)
        if c["support"] is None:
            return self._refit_efficacy(spec, c, x, y)
        keep = c["support"].inside(x)
        if keep.all():
            return self._refit_efficacy(spec, c, x, y)
        scores = np.zeros(len(y))
        if not keep.any():  # nothing inside the buyer's support: the release is worth nothing to it
            return Efficacy(0.0, scores)
        e = self._refit_efficacy(spec, c, x[keep], y[keep])
        scores[keep] = e.scores
        return Efficacy(e.total, scores)

    def _refit_efficacy(self, spec, c, x, y):
        """The efficacy of rows all inside the support: refit, probe loss after it, scores."""
        net, h = c["net"], spec.hyper
        pen = (scaler_penalty(net, spec.tensors["scaler.var"], h["n_train"], h["weight_decay"], x)
               if h["refit_scaler"] else None)
        budget = dict(steps=int(h["steps"]), cg_iters=int(h["cg_iters"]), cg_tol=h["cg_tol"],
                      newton_tol=float(h["newton_tol"]), compiled=self.compiled, block=self.block)
        cols = (Restriction.columns(net, x, c["anchor"], c["dead_inputs"], pen) if self.restrict else None)
        if cols is None:
            theta = network_refit(net, x, y, c["theta0"], c["curv"], penalty=pen, anchor=c["anchor"], **budget)
        else:
            r = Restriction(net, cols)
            theta = c["theta0"].copy()
            theta[r.keep] = network_refit(
                r.net, x[:, r.cols], y, c["theta0"][r.keep], c["curv"].restricted(r.keep),
                penalty=None if pen is None else pen[r.keep],
                anchor=None if c["anchor"] is None else c["anchor"].restricted(r.cols, r.keep), **budget)
        py = c["probe_y"]
        new = nc.with_flat(net, theta)
        # the probe loss and its gradient from one forward pass, as probe_loss0 was computed
        after, g_probe = _probe_loss(c["probe_rows"], new, theta, py, grad=True, compiled=self.compiled)
        if not np.isfinite(after):
            raise PricingError("network-newton diverged; the spec's curvature is ill-conditioned")
        # per-record attribution: influence at the refit, s = H~^-1 grad(probe loss), score_i = grad l_i . s
        s = c["curv"].inv(g_probe)
        scores = record_scores(net, x, theta, y, s, block=self.block) if self.compiled else None
        if scores is None:  # numpy: another network, or the tests' reference
            logits, acts = new.forward(x, keep=True)
            _, resid = nc.loss_and_residual(logits, y)
            scores = (resid * nc.jvp(new, acts, s)).sum(axis=1)
        return Efficacy(float(c["probe_loss0"] - after), scores)
