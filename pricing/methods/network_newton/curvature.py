"""The curvature model a network-newton spec ships, H~ = V diag(ev) V' + P diag(D) P, and its
products: the Newton system's prior term and the CG preconditioner of every refit."""

from __future__ import annotations

import numpy as np

from ...proxies import Network
from . import calculus as nc
from .lowrank import expand_pair_into, project_pair

__all__ = ["Curvature"]


class Curvature:
    """H~ = V diag(ev) V' + P diag(D) P (P = I - V V') and its exact inverse.

    In the basis [V, V_perp] H~ is block diagonal, diag(ev) on span(V) and V_perp' D V_perp on
    the rest, so H~^-1 = V diag(1/ev) V' + (P D P)^+ and the second term is a r x r solve:
    (P D P)^+ r = D^-1 (P r - V K^-1 V' D^-1 P r) with K = V' D^-1 V. Each product needs two
    projections onto V and two expansions from it, the cost that dominates a refit: they run
    as two compiled passes over V (`lowrank`), one reading V row by row for both
    projections and one reading V' for both expansions, which is why both layouts are kept
    (four BLAS products, each its own read of V, took 1.7x as long on MNIST; docs/decisions/2026-12-02-compiled-curvature-sparse-rows.md).
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
