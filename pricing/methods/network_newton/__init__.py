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
truncated by design (4 steps of up to 10 CG iterations by default): docs/decisions/2026-12-01-network-newton-budget.md. A buyer that ships unlabelled inputs as an anchor
(`hyper.anchor_weight`, `anchor.features`) has the training part priced as a function, the
cross-entropy against its own predictions there, in place of the quadratic (`Anchor`). With
`hyper.support` > 0 the rows outside the buyer's support (`Support`) are dropped before the refit:
a local refit overstates how much rows swamped by DP noise hurt, so network-newton prices DP
releases only with it (`pricing.release_fit.FITS_DP_WITH`).

The package, one module a job, each importing only the ones above it in this list:

- `calculus`: Gauss-Newton calculus on a whole proxy network (flat parameters, log-loss
  residuals, GGN products and diagonal); the builder's curvature uses it too.
- `kernels`: every compiled loop, in one file (numba's cache keys a kernel by its own file).
- `lowrank`, `sparse_rows`: the Python side of the curvature's passes and of one-hot inputs.
- `curvature` (`Curvature`), `anchor` (`Anchor`), `rows` (`Rows`, `Restriction`), `support` (`Support`).
- `compiled`: the refit, probe loss and scores as one compiled call for one-hidden-layer networks.
- `refit`: `network_refit` (numpy, or `compiled` where it applies), the budgets, `scaler_penalty`.
- `method`: `NetworkNewton`, the registered pricing method.
"""

from __future__ import annotations

from .anchor import Anchor
from .curvature import Curvature
from .method import NetworkNewton
from .refit import ANCHOR_BUDGET, BUDGET, network_refit, scaler_penalty
from .support import Support

__all__ = ["NetworkNewton", "Curvature", "Anchor", "Support", "network_refit", "scaler_penalty", "BUDGET",
           "ANCHOR_BUDGET"]
