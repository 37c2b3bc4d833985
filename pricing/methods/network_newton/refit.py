"""The network-Newton refit: damped Gauss-Newton on the bundle against the curvature model (or the
anchor), each step a CG solve preconditioned with H~^-1 and Armijo backtracking; its default
budgets; and the weight-decay change a refitted input scaler brings."""

from __future__ import annotations

import numpy as np

from ...numerics.cg import pcg, workspace as cg_workspace
from ...numerics.linesearch import C1, HALVINGS, armijo
from ...proxies import Network, pooled_moments
from . import calculus as nc
from .anchor import Anchor
from .compiled import AUTO, refit as compiled_refit
from .curvature import Curvature
from .rows import Rows

__all__ = ["network_refit", "scaler_penalty", "BUDGET", "ANCHOR_BUDGET"]

# the default budget, part of the method (docs/decisions/2026-12-01-network-newton-budget.md): chosen on a
# development split of the validation, by the best worst-case rho over its data sets
BUDGET = {"steps": 4.0, "cg_iters": 10.0, "cg_tol": 1e-2}
# with an anchor (`Anchor`) the line search sees the training loss itself, so more steps keep
# helping: chosen the same way, on the development split (docs/decisions/2026-12-02-network-anchor.md)
ANCHOR_BUDGET = {"steps": 8.0, "cg_iters": 5.0, "cg_tol": 1e-2}


def network_refit(net: Network, x: np.ndarray, y: np.ndarray, theta0: np.ndarray, curv: Curvature,
                  steps: int = int(BUDGET["steps"]), *, cg_iters: int = int(BUDGET["cg_iters"]),
                  cg_tol: float = BUDGET["cg_tol"], newton_tol: float = 0.0, penalty: np.ndarray | None = None,
                  anchor: Anchor | None = None, compiled: bool = True, c1: float = C1,
                  halvings: int = HALVINGS, block: int | str | None = AUTO, z_store: str = AUTO) -> np.ndarray:
    """Damped Gauss-Newton on J(theta) + 1/2 theta' diag(penalty) theta from theta0; returns the
    refitted parameters. The penalty is the change of weight decay that a scaler refitted on
    the merged rows brings (`scaler_penalty`); None for a pipeline that keeps its scaler. With
    an `anchor`, the training part of J is the anchor's objective (`Anchor.value`, here on one
    forward pass of the bundle's and the anchor's rows together), and H~ stays its curvature
    in the Newton system (exact at theta*) and the preconditioner. For a one-hidden-layer
    network the whole loop below runs as one compiled call (`compiled.refit`);
    `compiled=False`, and any other network, keep it in numpy (`pcg`), the reference the tests
    compare the compiled refit with. `newton_tol` > 0 stops once a step's predicted decrease
    -slope / 2 (half the squared Newton decrement; Boyd & Vandenberghe 2004, sec. 9.5) is at most
    that many nats, before its line search; 0 runs every step. `c1` and `halvings` are Armijo's
    sufficient-decrease constant and number of trials (`numerics.linesearch`), the method's own
    unless a test asks for others. The compiled refit streams the rows `block` at a time
    (`compiled.refit`; None: the whole-array kernel), keeping the first layer's output between
    passes or recomputing it per block as `z_store` says (`compiled.z_store_for`)."""
    if compiled:
        done = compiled_refit(net, x, y, theta0, curv, steps=steps, cg_iters=cg_iters, cg_tol=cg_tol,
                              newton_tol=newton_tol, penalty=penalty, anchor=anchor, workspace=cg_workspace,
                              c1=c1, halvings=halvings, block=block, z_store=z_store)
        if done is not None:
            return done
    rows = Rows(net, x, anchor)
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

        accepted = armijo(trial, f, slope, c1=c1, halvings=halvings)
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
