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
``steps`` caps the Newton steps; ``newton_tol`` > 0 ends the refit sooner, once a step predicts a
decrease of at most that many nats (the Newton-decrement stop network-newton has; 0, the default,
runs every step). ``frozen_hessian`` = 1 factorises the Hessian once and reuses it for every step (the chord
method: cheaper, slightly less accurate). ``solver`` names how each Newton system is solved: a
spec stores it as a number, as every hyper-parameter (`SOLVER_CODES`: 0 `Solver.EXACT`, Cholesky;
1 `Solver.CG`, the default); `solver_of` reads it as a `Solver`.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import blas, cho_factor, cho_solve, lapack

from ..numerics import linear_head
from ..numerics.cg import pcg
from ..numerics.linesearch import armijo
from ..numerics.solver import Solver
from ..numerics.threads import one_thread
from ..errors import PricingError, SpecError
from ..proxies import Network, check_scaler_refit, pooled_moments
from .base import Efficacy, HeadMethod, check_count

__all__ = ["FeatureNewton", "newton_refit", "SOLVER_CODES", "solver_of", "solver_code", "MAX_STEPS"]

#: The most Newton steps a spec may ask for (network-newton's bound; the demo's buyers cap theirs at 50).
MAX_STEPS = 100

#: hyper.solver as a spec stores it (a number, like every hyper-parameter, so a spec's bytes and
#: hash do not depend on this enum) and the `Solver` it names
SOLVER_CODES: dict[float, Solver] = {0.0: Solver.EXACT, 1.0: Solver.CG}


def solver_of(value: object) -> Solver:
    """The `Solver` a feature-newton spec's hyper.solver names: a code of `SOLVER_CODES`, or a
    `Solver` (or its name) among them; raises `SpecError` otherwise."""
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value in SOLVER_CODES:
        return SOLVER_CODES[float(value)]
    if isinstance(value, str):
        return Solver.parse(value, allowed=tuple(SOLVER_CODES.values()), what="hyper.solver")
    raise SpecError(f"hyper.solver must be 0 (exact: Cholesky) or 1 (cg: conjugate gradients), got {value!r}")


def solver_code(solver: "Solver | str | float") -> float:
    """The number a spec stores for `solver` (a `Solver`, its name or already a code)."""
    chosen = solver_of(solver)
    return next(code for code, s in SOLVER_CODES.items() if s is chosen)


def _bundle_hvp(phi: np.ndarray, prob: np.ndarray | None, v: np.ndarray, k: int, q: int) -> np.ndarray:
    """Sum over records of the loss Hessian times v, without forming it: for softmax,
    sum_i (diag(p_i) - p_i p_i') (V phi_i) phi_i'; for least squares phi' phi V'."""
    z = phi @ v.reshape(k, q).T
    if prob is not None:
        z = prob * (z - (prob * z).sum(axis=1, keepdims=True))
    return (z.T @ phi).ravel()


def _solve(phi, prob, b, k, q, n, h_inv, h_cg, tol):
    """(H + H_U / n)^-1 b by PCG preconditioned with h_inv; without h_cg, H is taken as the
    inverse of h_inv and carried by recursion (Newton's fixed point is set by the exact
    float64 gradient, so a Hessian accurate to float32 only changes the path to it)."""
    if h_cg is None:
        return pcg(lambda v: _bundle_hvp(phi, prob, v, k, q) / n, b, h_inv, rtol=tol, carry_h=True)
    return pcg(lambda v: h_cg(v) + _bundle_hvp(phi, prob, v, k, q) / n, b, h_inv, rtol=tol)


def newton_refit(phi: np.ndarray, y: np.ndarray, w0: np.ndarray, h_train: np.ndarray, n: float,
                 classification: bool, steps: int, *, return_factor: bool = False, frozen: bool = False,
                 h_inv=None, h_cg=None, cg_tol: float = 1e-8, newton_tol: float = 0.0):
    """Damped Newton on J(theta); returns the refitted head W [k, q] (Cholesky: J is convex),
    and with `return_factor` also the Cholesky factor of the last Hessian used (or None).

    `steps` is a cap: with `newton_tol` > 0 the refit ends, before its line search, at the first
    step whose predicted decrease -slope / 2 (half the squared Newton decrement; Boyd &
    Vandenberghe 2004, sec. 9.5) is at most `newton_tol` nats; 0 runs every step, as before.

    With `h_inv` (a function applying the inverse of `h_train`; `h_cg`, optional, applies
    `h_train` itself inside CG), each Newton system is solved by conjugate
    gradients preconditioned with it (truncated / Newton-CG: Nocedal & Wright 2006, ch. 7):
    Hessian-vector products of the bundle cost O(m k q) instead of forming and factorising a
    P x P Hessian; the factor returned is then None."""
    k, q = w0.shape
    t0 = w0.ravel()
    c_h = h_cg

    def data_term(theta: np.ndarray) -> float:
        return float(linear_head.losses(phi, y, theta.reshape(k, q), classification).sum()) / n

    # the quadratic part along the search line, from two products per step (no P x P product
    # per trial point): d = theta - theta*, |d|_H^2 and H d are updated as theta moves
    theta, hd, quad = t0.copy(), np.zeros_like(t0), 0.0
    f = data_term(theta)
    fac = None
    for _ in range(steps):
        wm = theta.reshape(k, q)
        g = hd + linear_head.grad_sum(phi, y, wm, classification) / n
        if h_inv is not None:
            prob = linear_head.softmax(phi @ wm.T) if classification else None
            step = -_solve(phi, prob, g, k, q, n, h_inv, c_h, cg_tol)
        else:
            if fac is None or not frozen:  # frozen: the chord method, one factorisation for all steps
                h = h_train + linear_head.hessian_sum(phi, wm, classification) / n
                fac = cho_factor(h, lower=True, check_finite=False)
            step = -cho_solve(fac, g, check_finite=False)
        slope = float(g @ step)
        # the Newton-decrement stop; newton_tol 0 leaves exactly the old test (a slope of -5e-324
        # would make -0.5 * slope round to 0, so 0 must not reach the comparison)
        if slope >= 0 or (newton_tol > 0 and -0.5 * slope <= newton_tol):
            break
        hs = h_train @ step
        ds, ss = float((theta - t0) @ hs), float(step @ hs)
        def trial(t: float):
            cand, quad_new = theta + t * step, quad + 2.0 * t * ds + t * t * ss
            return 0.5 * quad_new + data_term(cand), (cand, quad_new)

        accepted = armijo(trial, f, slope)
        if accepted is None:
            break
        t, f, (theta, quad) = accepted
        hd = hd + t * hs
    return (theta.reshape(k, q), fac) if return_factor else theta.reshape(k, q)


class FeatureNewton(HeadMethod):
    """Probe-loss reduction after damped Newton refitting of the head (the benchmark's best)."""

    name = "feature-newton"
    uses_probe = True
    defaults = {"n_train": 0.0, "steps": 3.0, "refit_scaler": 0.0, "frozen_hessian": 0.0,
                "solver": solver_code(Solver.CG), "cg_tol": 1e-8, "newton_tol": 0.0}

    def check_manifest(self, manifest, tensors, *, d, classes):
        super().check_manifest(manifest, tensors, d=d, classes=classes)
        check_count(manifest.get("hyper", {}), "steps", self.defaults["steps"], 1, MAX_STEPS)
        layers = manifest.get("proxy", {}).get("layers", [])
        if manifest.get("hyper", {}).get("refit_scaler"):
            check_scaler_refit(layers, tensors["scaler.var"])
        solver = solver_of(manifest.get("hyper", {}).get("solver", self.defaults["solver"]))
        if manifest.get("hyper", {}).get("frozen_hessian") and solver is Solver.CG:
            raise SpecError("hyper.frozen_hessian (chord steps on a Cholesky factor) needs hyper.solver = 0")
        tol = manifest.get("hyper", {}).get("cg_tol", self.defaults["cg_tol"])
        if not 0 < tol < 1:
            raise SpecError(f"hyper.cg_tol must be in (0, 1), got {tol!r}")
        newton_tol = manifest.get("hyper", {}).get("newton_tol", self.defaults["newton_tol"])
        if not newton_tol >= 0:  # parse_spec checked it is a finite number
            raise SpecError(f"hyper.newton_tol must be >= 0 (nats; 0 runs every step), got {newton_tol!r}")

    @staticmethod
    def _prepared(spec) -> dict:
        """What depends on the spec alone, computed once per parsed spec (`Spec.cache`): the
        proxy network, the probe's features and loss at theta*, and (`Solver.CG`) the inverse
        of the training Hessian."""
        c = spec.cache.get("feature-newton")
        if c is not None:
            return c
        with one_thread():
            net = Network.from_spec(spec.layers, spec.tensors, "proxy")
            w0 = spec.tensors["head.weight"]
            px, py = HeadMethod.probe(spec)
            probe_old = linear_head.add_bias(net.forward(px))
            c = {"net": net, "probe_old": probe_old,
                 "probe_loss0": linear_head.mean_loss(probe_old, py, w0, spec.classification)}
            if solver_of(spec.hyper["solver"]) is Solver.CG:
                h = spec.tensors["newton.hessian"]
                low, info = lapack.dpotrf(h, lower=1)  # Cholesky, then the inverse from it (LAPACK potri)
                if info == 0:
                    low, info = lapack.dpotri(low, lower=1)
                if info != 0:
                    raise PricingError("newton.hessian is not positive definite; rebuild the spec")
                # float32, lower triangles only, applied with BLAS symv: no symmetrising copy
                inv32 = np.asfortranarray(low, dtype=np.float32)
                c["h_inv"] = lambda r: blas.ssymv(1.0, inv32, r, lower=1).astype(np.float64)
                c["h32"] = None  # H inside CG: carried by recursion as the inverse of h_inv
        spec.cache["feature-newton"] = c
        return c

    @staticmethod
    def _refit_net(spec, net, x: np.ndarray):
        """The proxy with its first scaler refitted on n_train rows plus x (exact pooled moments)."""
        new = Network(list(net.kinds), list(net.params))  # shares the unchanged layers
        first = net.params[0]
        mu, sd = pooled_moments(first["mean"], spec.tensors["scaler.var"], first["scale"], spec.hyper["n_train"], x)
        new.params[0] = {"mean": mu, "scale": sd}
        return new

    def tensor_shapes(self, manifest, *, d, width, classes, hyper):
        shapes = super().tensor_shapes(manifest, d=d, width=width, classes=classes, hyper=hyper)
        p = (classes or 1) * (width + 1)
        shapes["newton.hessian"] = (p, p)
        if hyper.get("refit_scaler"):
            shapes["scaler.var"] = (d,)  # the training variance: a zero-variance column's scale says 1
        return shapes

    def _efficacy(self, spec, x, y):
        c = self._prepared(spec)
        w0 = self.head(spec)
        px, py = self.probe(spec)
        probe_old = c["probe_old"]
        if spec.hyper["refit_scaler"]:
            new = self._refit_net(spec, c["net"], x)
            phi, probe_phi = linear_head.add_bias(new.forward(x)), linear_head.add_bias(new.forward(px))
        else:
            phi, probe_phi = linear_head.add_bias(c["net"].forward(x)), probe_old
        n, cls = spec.hyper["n_train"], spec.classification
        h_train = spec.tensors["newton.hessian"]
        h_inv, c_h = c.get("h_inv"), c.get("h32")
        w, fac = newton_refit(phi, y, w0, h_train, n, cls, int(spec.hyper["steps"]), return_factor=True,
                              frozen=bool(spec.hyper["frozen_hessian"]), h_inv=h_inv, h_cg=c_h,
                              cg_tol=spec.hyper["cg_tol"], newton_tol=spec.hyper["newton_tol"])
        total = c["probe_loss0"] - linear_head.mean_loss(probe_phi, py, w, cls)
        # per-record attribution: influence at the refitted head (Koh & Liang 2017 at theta_U),
        # with the last Newton Hessian (one factorisation fewer; it is within one step of theta_U)
        g_probe = linear_head.grad_sum(probe_phi, py, w, cls) / probe_phi.shape[0]
        k, q = w.shape
        if h_inv is not None:
            prob = linear_head.softmax(phi @ w.T) if cls else None
            s = _solve(phi, prob, g_probe, k, q, n, h_inv, c_h, spec.hyper["cg_tol"])
        else:
            if fac is None:
                fac = cho_factor(h_train + linear_head.hessian_sum(phi, w, cls) / n, lower=True, check_finite=False)
            s = cho_solve(fac, g_probe, check_finite=False)
        # record_grads(phi, y, w) @ s without the [m, P] matrix: sum_c r_ic (phi_i . s_c)
        scores = (linear_head.residual(phi, y, w, cls) * (phi @ s.reshape(k, q).T)).sum(axis=1) / n
        return Efficacy(float(total), scores)
