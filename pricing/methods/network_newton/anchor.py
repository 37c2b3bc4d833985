"""The anchor: the buyer's training loss as a function of the parameters, on unlabelled inputs it
ships (`hyper.anchor_weight`, `anchor.features`), in place of the curvature's quadratic."""

from __future__ import annotations

import numpy as np

from ...proxies import Network
from . import calculus as nc

__all__ = ["Anchor"]


class Anchor:
    """The buyer's training loss as a function of theta, not its quadratic: the cross-entropy of
    the network against its own predictions at theta* on unlabelled inputs the buyer ships,
    weight w each (n_train / rows, so the sum stands for the n_train training rows), plus the
    weight decay as 1/2 (theta - theta*)' diag(decay) (theta - theta*), so theta* stays
    stationary. It agrees with the GGN quadratic to second order at theta*, but it saturates:
    moving a confidently fitted row's logits costs what it would cost the real training loss,
    where the quadratic (whose curvature p (1 - p) vanishes there) calls it free, and so lets a
    refit unlearn the training set to fit one hard bundle record (docs/decisions/2026-12-02-network-anchor.md)."""

    def __init__(self, net: Network, x: np.ndarray, weight: float, weight_decay: float):
        self.x, self.weight = x, weight
        self.h = nc.first_input(net, x)  # what the refit passes through the network (`Rows`)
        self.target = nc.soft_targets(net.forward(x))
        self.theta0 = nc.flat(net)
        self.decay = weight_decay * nc.weight_mask(net)

    def restricted(self, cols: np.ndarray, keep: np.ndarray) -> "Anchor":
        """The anchor of a network restricted to input columns `cols` and flat parameters
        `keep` (`Restriction`): the same rows, targets and weight."""
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
