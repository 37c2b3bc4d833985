"""Network-Newton: refit the buyer's whole network on the bundle against a curvature model of
its training objective.

Feature-Newton keeps the hidden layers frozen, so it cannot see what retraining does to them:
a real network memorises random-label noise in its hidden units, learns features from a
slightly noisy but large bundle, and absorbs a change of input scale in its first layer.
Here the buyer ships its whole network theta* (an allow-listed layer list whose last linear
layer gives the logits) and a curvature model of its training objective in sum units,
H~ = V diag(lambda) V' + P (diag D) P with P = I - V V': the top-r eigenpairs of
the GGN (plus its own weight decay), and the GGN's exact diagonal for the rest of the
space. The hub minimises

    J(theta) = 1/2 (theta - theta*)' H~ (theta - theta*) + sum_U l(z, theta)

(the training part as its quadratic model, the bundle part exact) by Gauss-Newton steps,
each solved by conjugate gradients preconditioned with the exact inverse of H~ (its
directions kept A-conjugate to all earlier ones, so that a rounding difference of another
machine stays one: `pcg(reorth=True)`), with Armijo backtracking; efficacy = probe loss at
theta* minus probe loss at the refit (Koh et al. 2019 and Basu et al. 2020 for group effects;
Martens 2010 for GGN-CG). A bundle's
records enter only through Jacobian-vector products, so a quote costs a few dozen passes of
the bundle through the network. A buyer whose pipeline refits its input scaler on merged data
declares `hyper.refit_scaler`: the first layer absorbs the new scaling in its function but
not in its weight decay, and the hub adds the difference (`scaler_penalty`). The refit is
truncated by design (4 steps of up to 10 CG iterations by default): docs/pricing.md,
"Choosing the budget". A buyer that ships unlabelled inputs as an anchor
(`hyper.anchor_weight`, `anchor.features`) has the training part priced as a function, the
cross-entropy against its own predictions there, in place of the quadratic (`Anchor`).
"""

from __future__ import annotations

import numpy as np

from .. import _netcurv as nc
from .._cg import pcg, workspace as cg_workspace
from .._gn_step import flat_grad, probe_loss, record_scores, refit
from .._lowrank import expand_pair_into, project_pair
from .._sparse_rows import SparseRows
from .._linesearch import armijo
from ..errors import PricingError, SpecError
from ..proxies import Network, check_scaler_refit, layer_tensor_shapes, pooled_moments
from .base import Efficacy, PricingMethod

__all__ = ["NetworkNewton", "Curvature", "Anchor", "network_refit", "scaler_penalty", "BUDGET", "ANCHOR_BUDGET"]


class Curvature:
    """H~ = V diag(ev) V' + P diag(D) P (P = I - V V') and its exact inverse.

    In the basis [V, V_perp] H~ is block diagonal, diag(ev) on span(V) and V_perp' D V_perp on
    the rest, so H~^-1 = V diag(1/ev) V' + (P D P)^+ and the second term is a r x r solve:
    (P D P)^+ r = D^-1 (P r - V K^-1 V' D^-1 P r) with K = V' D^-1 V. Each product needs two
    projections onto V and two expansions from it, the cost that dominates a refit: they run
    as two compiled passes over V (`pricing._lowrank`), one reading V row by row for both
    projections and one reading V' for both expansions, which is why both layouts are kept
    (four BLAS products, each its own read of V, took 1.7x as long on MNIST; docs/pricing.md).
    Rows of V that are exactly zero (parameters the buyer's training data never move, such as
    the weights of an input that is constant there) are skipped: on them H~ is diag(D),
    exactly (`skip_zero_rows=False` keeps every row, the tests' reference). Everything is
    float64, as shared/protocol.md requires of pricing.
    """

    def __init__(self, vecs: np.ndarray, vals: np.ndarray, diag: np.ndarray, *, skip_zero_rows: bool = True):
        self.ev, self.d = vals, diag
        self.dinv = 1.0 / diag
        live = np.any(vecs != 0.0, axis=1) if skip_zero_rows else np.ones(vecs.shape[0], dtype=bool)
        self.idx = np.flatnonzero(live).astype(np.int64)  # where V's kept rows sit in a parameter vector
        v = vecs if live.all() else vecs[self.idx]
        self.v = np.ascontiguousarray(v)  # [live rows, r]: rows for the projections
        self.vt = np.ascontiguousarray(v.T)  # [r, live rows]: basis vectors for the expansions
        d_live = diag[self.idx]
        self.d_live, self.dinv_live = d_live, 1.0 / d_live
        self.g = v.T @ (d_live[:, None] * v)  # V' D V
        self.kinv = np.linalg.inv(v.T @ (self.dinv_live[:, None] * v))  # (V' D^-1 V)^-1

    def restricted(self, keep: np.ndarray) -> "Curvature":
        """The same curvature on the parameters `keep` (sorted indices) alone, where every
        dropped parameter is a zero row of V: there H~ is diag(D), decoupled from the rest, so
        this is H~'s principal block. V's live rows, V' D V and K^-1 are unchanged and shared."""
        new = object.__new__(Curvature)
        new.__dict__.update(self.__dict__)
        new.d, new.dinv = self.d[keep], self.dinv[keep]
        pos = np.searchsorted(keep, self.idx)
        if pos.max(initial=-1) >= keep.shape[0] or not np.array_equal(keep[pos], self.idx):
            raise ValueError("restricted: every live row of V must be kept")
        new.idx = pos.astype(np.int64)
        return new

    @property
    def live(self) -> np.ndarray | None:
        """The parameters V's kept rows stand for, or None when that is every parameter."""
        return None if self.idx.shape[0] == self.d.shape[0] else self.idx

    def dead_inputs(self, net: Network) -> np.ndarray:
        """Per input column of the first linear layer: whether every weight on it is a zero row
        of V (the buyer's training data never moves it)."""
        w = net.params[nc.linear_layers(net)[0]]["weight"]
        live = np.zeros(self.d.shape[0], dtype=bool)
        live[self.idx] = True
        return ~live[:w.size].reshape(w.shape).any(axis=0)

    def __matmul__(self, x: np.ndarray) -> np.ndarray:
        """H~ x = D x + V (ev c - V'D x + V'D V c) - D V c on the live rows, c = V'x."""
        c, vdx = project_pair(self.v, x, self.d_live, self.idx)
        return expand_pair_into(self.d * x, self.vt, self.ev * c - vdx + self.g @ c, c, self.d_live, self.idx)

    def inv(self, r: np.ndarray) -> np.ndarray:
        """H~^-1 r. With c = V'r: V diag(1/ev) c + D^-1 (r - V c - V K^-1 (V'D^-1 r - K c)),
        and c + K^-1 (V'D^-1 r - K c) = K^-1 V'D^-1 r."""
        c, vdr = project_pair(self.v, r, self.dinv_live, self.idx)
        return expand_pair_into(self.dinv * r, self.vt, c / self.ev, self.kinv @ vdr, self.dinv_live, self.idx)


# the default budget, part of the method (docs/pricing.md, "Choosing the budget"): chosen on a
# development split of the validation, by the best worst-case rho over its data sets
BUDGET = {"steps": 4.0, "cg_iters": 10.0, "cg_tol": 1e-2}
# with an anchor (`Anchor`) the line search sees the training loss itself, so more steps keep
# helping: chosen the same way, on the development split (docs/pricing.md, "The anchor")
ANCHOR_BUDGET = {"steps": 8.0, "cg_iters": 5.0, "cg_tol": 1e-2}


class Anchor:
    """The buyer's training loss as a function of theta, not its quadratic: the cross-entropy of
    the network against its own predictions at theta* on unlabelled inputs the buyer ships,
    weight w each (n_train / rows, so the sum stands for the n_train training rows), plus the
    weight decay as 1/2 (theta - theta*)' diag(decay) (theta - theta*), so theta* stays
    stationary. It agrees with the GGN quadratic to second order at theta*, but it saturates:
    moving a confidently fitted row's logits costs what it would cost the real training loss,
    where the quadratic (whose curvature p (1 - p) vanishes there) calls it free, and so lets a
    refit unlearn the training set to fit one hard bundle record (docs/pricing.md, "The anchor")."""

    def __init__(self, net: Network, x: np.ndarray, weight: float, weight_decay: float):
        self.x, self.weight = x, weight
        self.h = nc.first_input(net, x)  # what the refit passes through the network (`_Rows`)
        self.target = nc.soft_targets(net.forward(x))
        self.theta0 = nc.flat(net)
        self.decay = weight_decay * nc.weight_mask(net)

    def restricted(self, cols: np.ndarray, keep: np.ndarray) -> "Anchor":
        """The anchor of a network restricted to input columns `cols` and flat parameters
        `keep` (`_Restriction`): the same rows, targets and weight."""
        new = object.__new__(Anchor)
        new.__dict__.update(self.__dict__)
        new.x, new.h = self.x[:, cols], self.h[:, cols]
        new.theta0, new.decay = self.theta0[keep], self.decay[keep]
        return new

    def on_logits(self, logits: np.ndarray, theta: np.ndarray) -> tuple[float, np.ndarray]:
        """(the anchor's objective at theta, its weighted residual) from the anchor rows' logits
        there: the one definition `value` and the refit's stacked forward pass share."""
        loss, resid = nc.soft_loss_and_residual(logits, self.target)
        d = theta - self.theta0
        return self.weight * loss + 0.5 * float(d @ (self.decay * d)), self.weight * resid

    def decay_grad(self, theta: np.ndarray) -> np.ndarray:
        """The gradient of the decay term, which no forward pass sees."""
        return self.decay * (theta - self.theta0)

    def value(self, cand_net: Network, theta: np.ndarray) -> tuple[float, tuple]:
        """(the anchor's objective at theta, what `grad` needs of this forward pass)."""
        logits, acts = cand_net.forward(self.x, keep=True)
        val, resid = self.on_logits(logits, theta)
        return val, (acts, resid)

    def grad(self, cand_net: Network, theta: np.ndarray, kept: tuple) -> np.ndarray:
        acts, resid = kept
        return nc.flat_grad(cand_net, acts, resid) + self.decay_grad(theta)


class _Rows:
    """The rows a refit passes through the network, as the input of its first linear layer: the
    bundle's, then the anchor's. The layers below that one hold no trainable parameter, so this
    input is fixed for the whole refit, and the first layer's output is linear in theta: along a
    line theta + t step it is z + t dz, one product with the rows a step instead of one a
    line-search trial (the widest product of a forward pass: 784 inputs on MNIST)."""

    def __init__(self, net: Network, x: np.ndarray, anchor: "Anchor | None"):
        self.first = nc.linear_layers(net)[0]
        raw = x if anchor is None else np.concatenate([x, anchor.x])
        if net.kinds[:self.first] == ["standardize"] and SparseRows.worthwhile(raw):
            # one-hot or mostly blank inputs: the first layer's products per nonzero (`SparseRows`)
            self.h = SparseRows.standardized(raw, net.params[0]["mean"], net.params[0]["scale"])
        else:
            h = nc.first_input(net, x)
            self.h = h if anchor is None else np.concatenate([h, anchor.h])
        self.m = x.shape[0]
        w = net.params[self.first]["weight"]
        self.shape, self.nw, self.nb = w.shape, w.size, w.shape[0]  # the first layer leads the flat layout

    def first_output(self, theta: np.ndarray) -> np.ndarray:
        """The first linear layer's output on every row at parameters theta (or, since it is
        linear, its change along a direction theta)."""
        return self.h @ theta[:self.nw].reshape(self.shape).T + theta[self.nw:self.nw + self.nb]

    def forward(self, cand_net: Network, z: np.ndarray) -> tuple[np.ndarray, list]:
        """(logits, every layer's input) from the first layer's output z; the inputs below the
        first linear layer, which nothing downstream reads, are None."""
        logits, upper = cand_net.forward(z, keep=True, start=self.first + 1)
        return logits, [None] * self.first + [self.h] + upper

    def bundle(self, acts: list, logits: np.ndarray) -> tuple[list, np.ndarray]:
        """The bundle's share of a forward pass (row views, no copy)."""
        return [None if a is None else a[:self.m] for a in acts], logits[:self.m]


class _Restriction:
    """The refit on the input columns it can move. A column of the first linear layer's input
    that is zero on every row of the refit (bundle and anchor), whose weights are all zero rows
    of V and carry no scaler penalty, gives those weights no gradient and no GGN, and H~ is
    diag(D) there, decoupled from the rest. So every CG direction, every step and the
    refitted value are exactly zero there, and the refit of the others alone is the same
    refit (to rounding: BLAS sums the same nonzero terms in another blocking). On MNIST a
    quarter of the pixels are such columns: constant in the buyer's 600 training rows and
    blank in most bundles."""

    def __init__(self, net: Network, cols: np.ndarray):
        first = nc.linear_layers(net)[0]
        w = net.params[first]["weight"]
        self.cols = cols
        # the first layer leads the flat layout, as weight.ravel() (row-major [out, in]), then its bias
        w_idx = (np.arange(w.shape[0])[:, None] * w.shape[1] + cols[None, :]).ravel()
        self.keep = np.concatenate([w_idx, np.arange(w.size, nc.flat(net).shape[0])])
        params = []
        for i, (kind, p) in enumerate(zip(net.kinds, net.params)):
            if i < first and kind == "standardize":
                p = {"mean": p["mean"][cols], "scale": p["scale"][cols]}
            elif i == first:
                p = {"weight": np.ascontiguousarray(w[:, cols]), "bias": p["bias"]}
            params.append(p)
        self.net = Network(list(net.kinds), params)

    @staticmethod
    def columns(net: Network, x: np.ndarray, anchor: "Anchor | None", dead: np.ndarray,
                penalty: np.ndarray | None) -> np.ndarray | None:
        """The input columns to keep, or None when none can be dropped."""
        idle = dead & ~np.any(nc.first_input(net, x) != 0.0, axis=0)
        if anchor is not None:
            idle &= ~np.any(anchor.h != 0.0, axis=0)
        if penalty is not None and idle.any():
            w = net.params[nc.linear_layers(net)[0]]["weight"]
            idle &= ~np.any(penalty[:w.size].reshape(w.shape) != 0.0, axis=0)
        if not idle.any() or idle.all():
            return None
        return np.flatnonzero(~idle)


def network_refit(net: Network, x: np.ndarray, y: np.ndarray, theta0: np.ndarray, curv: Curvature,
                  steps: int = int(BUDGET["steps"]), *, cg_iters: int = int(BUDGET["cg_iters"]),
                  cg_tol: float = BUDGET["cg_tol"], newton_tol: float = 0.0, penalty: np.ndarray | None = None,
                  anchor: Anchor | None = None, compiled: bool = True) -> np.ndarray:
    """Damped Gauss-Newton on J(theta) + 1/2 theta' diag(penalty) theta from theta0; returns the
    refitted parameters. The penalty is the change of weight decay that a scaler refitted on
    the merged rows brings (`scaler_penalty`); None for a pipeline that keeps its scaler. With
    an `anchor`, the training part of J is the anchor's objective (`Anchor.value`, here on one
    forward pass of the bundle's and the anchor's rows together), and H~ stays its curvature
    in the Newton system (exact at theta*) and the preconditioner. For a one-hidden-layer
    network the whole loop below runs as one compiled call (`pricing._gn_step.refit`);
    `compiled=False`, and any other network, keep it in numpy (`pcg`), the reference the tests
    compare the compiled refit with. `newton_tol` > 0 stops once a step's predicted decrease
    -slope / 2 (half the squared Newton decrement; Boyd & Vandenberghe 2004, sec. 9.5) is at most
    that many nats, before its line search; 0 runs every step."""
    rows = _Rows(net, x, anchor)
    if compiled:
        done = refit(net, rows, y, theta0, curv, steps=steps, cg_iters=cg_iters, cg_tol=cg_tol,
                     newton_tol=newton_tol, penalty=penalty, anchor=anchor, workspace=cg_workspace)
        if done is not None:
            return done
    pen = np.zeros_like(theta0) if penalty is None else penalty
    m = rows.m

    def fit(theta: np.ndarray, cand_net: Network, z: np.ndarray) -> tuple[float, tuple]:
        """The bundle's loss (plus the anchor's objective) at theta, and its forward pass with the
        residual of every row, the anchor's weighted."""
        logits, acts = rows.forward(cand_net, z)
        loss, resid = nc.loss_and_residual(logits[:m], y)
        if anchor is not None:
            a_val, a_resid = anchor.on_logits(logits[m:], theta)
            loss += a_val
            resid = np.concatenate([resid, a_resid])
        return loss, (logits, acts, resid)

    def fit_grad(theta: np.ndarray, cand_net: Network, acts: list, resid: np.ndarray) -> np.ndarray:
        g = nc.flat_grad(cand_net, acts, resid)
        return g if anchor is None else g + anchor.decay_grad(theta)

    theta, cur = theta0.copy(), net
    z = rows.first_output(theta)
    f, (logits, acts, resid) = fit(theta, cur, z)
    f += 0.5 * float(theta @ (pen * theta))
    # the quadratic's gradient H~ (theta - theta0), carried along the steps (zero with an anchor,
    # whose gradient is in g_x)
    g_t = np.zeros_like(theta0)
    for _ in range(steps):
        # the backward pass at the accepted point, here so the last step's is never run
        g_x = fit_grad(theta, cur, acts, resid)
        g = g_t + pen * theta + g_x
        # (H~ + diag(pen) + GGN_U) step = -g; CG carries H~ d by recursion, so each iteration
        # applies only the bundle's GGN, the penalty and the preconditioner H~^-1
        b_acts, b_logits = rows.bundle(acts, logits)
        ggn = nc.ggn_operator(cur, b_acts, b_logits)
        matvec = ggn if penalty is None else (lambda v: pen * v + ggn(v))
        solved = pcg(matvec, g, curv.inv, rtol=cg_tol, max_iter=cg_iters, carry_h=True, reorth=True)
        step = -solved
        slope = float(g @ step)
        if not slope < 0 or -0.5 * slope <= newton_tol:
            break
        dz = rows.first_output(step)  # the first layer's output moves by t dz along the line
        if anchor is None:
            hs = curv @ step
            d = theta - theta0
            # J along theta + t step: 1/2 (qa + 2 t qb + t^2 qc) + the bundle's loss
            qa = float(d @ g_t) + float(theta @ (pen * theta))
            qb = float(d @ hs) + float(theta @ (pen * step))
            qc = float(step @ hs) + float(step @ (pen * step))

        def trial(t: float):  # forward passes above the first layer only; the gradient once a trial is accepted
            cand = theta + t * step
            cand_net = nc.with_flat(net, cand)
            z_c = z + t * dz
            value, kept = fit(cand, cand_net, z_c)
            if anchor is None:
                value += 0.5 * (qa + 2.0 * t * qb + t * t * qc)
            else:
                value += 0.5 * float(cand @ (pen * cand))
            return value, (cand, cand_net, z_c, kept)

        accepted = armijo(trial, f, slope)
        if accepted is None:
            break
        t, f, (theta, cur, z, (logits, acts, resid)) = accepted
        if anchor is None:
            g_t = g_t + t * hs
    return theta


def scaler_penalty(net: Network, train_var: np.ndarray, n_train: float, weight_decay: float,
                   x: np.ndarray) -> np.ndarray:
    """The weight decay that a scaler refitted on the merged rows puts on the first linear
    layer, in the shipped coordinates. W1 (x - mu) / s + b1 computes what W1' (x - mu') / s' +
    b1' does with W1'[:, j] = W1[:, j] s'_j / s_j (and b1' = b1 + W1 (mu' - mu) / s), so the
    network's function class is unchanged and only the decay wd |W1'|^2 = wd sum_j (s'_j /
    s_j)^2 |W1[:, j]|^2 differs: the returned vector is wd ((s'/s)^2 - 1) on W1's entries."""
    mean, scale = net.params[0]["mean"], net.params[0]["scale"]
    _, new_scale = pooled_moments(mean, train_var, scale, n_train, x)
    w1 = net.params[1]["weight"]
    pen = np.zeros(nc.flat(net).shape[0])
    pen[:w1.size] = weight_decay * np.tile((new_scale / scale) ** 2 - 1.0, w1.shape[0])
    return pen


def _probe_loss(rows: _Rows, net: Network, theta: np.ndarray, y: np.ndarray, *, grad: bool = False,
                compiled: bool = True) -> tuple[float, np.ndarray | None]:
    """The mean probe loss at theta (`net` holds theta) from the probe's cached first-layer
    input, and with `grad` its flat gradient (`compiled=False`: numpy's backward pass): one
    path for theta* and every refit, so a refit that does not move theta prices exactly 0. For a
    one-hidden-layer network it is one compiled call (`pricing._gn_step.probe_loss`)."""
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
                "newton_tol": 0.0}

    def tensor_shapes(self, manifest, *, d, width, classes, hyper):
        shapes, _ = layer_tensor_shapes(manifest.get("proxy", {}).get("layers", []), d, "proxy")
        p = sum(int(np.prod(s)) for k, s in shapes.items() if k.endswith((".weight", ".bias")))
        return {"curvature.eigvecs": (p, "rank"), "curvature.eigvals": ("rank",), "curvature.diag": (p,),
                "probe.features": ("probe", d), "probe.label": ("probe",),
                **({"scaler.var": (d,)} if hyper.get("refit_scaler") else {}),
                **({"anchor.features": ("anchor", d)} if _positive(hyper.get("anchor_weight")) else {})}

    def check_manifest(self, manifest, tensors, *, d, classes):
        layers = manifest.get("proxy", {}).get("layers", [])
        if classes < 2:
            raise SpecError("network-newton prices classification models (schema label kind 'categorical')")
        if not layers or layers[-1].get("type") != "linear":
            raise SpecError("network-newton needs the whole network: its last layer must be the linear logits layer")
        out = layers[-1].get("out")
        if out != classes and not (out == 1 and classes == 2):
            raise SpecError(f"the network gives {out} logits; {classes} classes need {classes} (or 1 for two classes)")
        hyper = manifest.get("hyper", {})
        for key in ("steps", "cg_iters"):
            v = hyper.get(key, self.defaults[key])
            if v != int(v) or not 1 <= v <= 100:
                raise SpecError(f"hyper.{key} must be an integer in [1, 100], got {v!r}")
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
        if not hyper.get("newton_tol", self.defaults["newton_tol"]) >= 0:  # parse_spec checked it is a finite number
            raise SpecError(f"hyper.newton_tol must be >= 0 (nats; 0 runs every step), got {hyper.get('newton_tol')!r}")
        vecs, vals, diag = tensors["curvature.eigvecs"], tensors["curvature.eigvals"], tensors["curvature.diag"]
        if vals.min(initial=1.0) <= 0 or diag.min(initial=1.0) <= 0:
            raise SpecError("curvature.eigvals and curvature.diag must be positive (add the weight decay)")
        gram_err = float(np.abs(vecs.T @ vecs - np.eye(vecs.shape[1])).max(initial=0.0))
        if gram_err > 1e-6:  # else H~ need not be positive definite and the refit is meaningless
            raise SpecError(f"curvature.eigvecs must be orthonormal columns (|V'V - I| = {gram_err:.2g}); "
                            "ship the eigenvectors as the eigensolver returns them")
        lab = tensors["probe.label"]
        if lab.min(initial=0) < 0 or lab.max(initial=0) >= classes or not np.all(lab == np.round(lab)):
            raise SpecError(f"probe.label must hold class indices in [0, {classes})")

    @staticmethod
    def _prepared(spec) -> dict:
        """What depends on the spec alone, once per parsed spec: network, theta*, curvature, probe
        loss, the inputs whose weights V never moves; "restrict" False turns `_Restriction` off
        and "compiled" False the compiled refit (`pricing._gn_step`; the tests' reference refits)."""
        c = spec.cache.get("network-newton")
        if c is None:
            from .._threads import one_thread

            with one_thread():
                net = Network.from_spec(spec.layers, spec.tensors, "proxy")
                t = spec.tensors
                py = t["probe.label"].astype(np.int64)
                c = {"net": net, "theta0": nc.flat(net), "probe_y": py,
                     "curv": Curvature(t["curvature.eigvecs"], t["curvature.eigvals"], t["curvature.diag"]),
                     "restrict": True, "compiled": True,
                     # the probe's first-layer input, once per spec (sparse for one-hot data, `_Rows`)
                     "probe_rows": _Rows(net, t["probe.features"], None),
                     "anchor": (Anchor(net, t["anchor.features"], spec.hyper["anchor_weight"], spec.hyper["weight_decay"])
                                if spec.hyper["anchor_weight"] else None)}
                c["dead_inputs"] = c["curv"].dead_inputs(net)
                c["probe_loss0"] = _probe_loss(c["probe_rows"], net, c["theta0"], py)[0]
            spec.cache["network-newton"] = c
        return c

    def _efficacy(self, spec, x, y):
        c = self._prepared(spec)
        net, h = c["net"], spec.hyper
        pen = (scaler_penalty(net, spec.tensors["scaler.var"], h["n_train"], h["weight_decay"], x)
               if h["refit_scaler"] else None)
        budget = dict(steps=int(h["steps"]), cg_iters=int(h["cg_iters"]), cg_tol=h["cg_tol"],
                      newton_tol=float(h["newton_tol"]), compiled=c["compiled"])
        cols = (_Restriction.columns(net, x, c["anchor"], c["dead_inputs"], pen) if c["restrict"] else None)
        if cols is None:
            theta = network_refit(net, x, y, c["theta0"], c["curv"], penalty=pen, anchor=c["anchor"], **budget)
        else:
            r = _Restriction(net, cols)
            theta = c["theta0"].copy()
            theta[r.keep] = network_refit(
                r.net, x[:, r.cols], y, c["theta0"][r.keep], c["curv"].restricted(r.keep),
                penalty=None if pen is None else pen[r.keep],
                anchor=None if c["anchor"] is None else c["anchor"].restricted(r.cols, r.keep), **budget)
        py = c["probe_y"]
        new = nc.with_flat(net, theta)
        # the probe loss and its gradient from one forward pass, as probe_loss0 was computed
        after, g_probe = _probe_loss(c["probe_rows"], new, theta, py, grad=True, compiled=c["compiled"])
        if not np.isfinite(after):
            raise PricingError("network-newton diverged; the spec's curvature is ill-conditioned")
        # per-record attribution: influence at the refit, s = H~^-1 grad(probe loss), score_i = grad l_i . s
        s = c["curv"].inv(g_probe)
        scores = record_scores(net, _Rows(net, x, None), theta, y, s) if c["compiled"] else None
        if scores is None:  # numpy: another network, or the tests' reference
            logits, acts = new.forward(x, keep=True)
            _, resid = nc.loss_and_residual(logits, y)
            scores = (resid * nc.jvp(new, acts, s)).sum(axis=1)
        return Efficacy(float(c["probe_loss0"] - after), scores)
