"""What a refit passes through the network (`Rows`: the first linear layer's fixed input, sparse
for one-hot data) and the refit on the input columns it can move (`Restriction`)."""

from __future__ import annotations

import numpy as np

from ...proxies import Network
from . import calculus as nc
from .anchor import Anchor
from .sparse_rows import SparseRows

__all__ = ["Rows", "Restriction"]

_CHECK_ROWS = 65536  # rows of a release checked for idle inputs at a time (`Restriction.columns`)


class Rows:
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


class Restriction:
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
        """The input columns to keep, or None when none can be dropped. The rows' first-layer
        input is checked `_CHECK_ROWS` at a time, and only where V leaves some input dead: a
        standardised copy of a whole large release would be the release's size again."""
        if not dead.any():
            return None
        idle = dead.copy()
        for s in range(0, x.shape[0], _CHECK_ROWS):
            idle &= ~np.any(nc.first_input(net, x[s:s + _CHECK_ROWS]) != 0.0, axis=0)
        if anchor is not None:
            idle &= ~np.any(anchor.h != 0.0, axis=0)
        if penalty is not None and idle.any():
            w = net.params[nc.linear_layers(net)[0]]["weight"]
            idle &= ~np.any(penalty[:w.size].reshape(w.shape) != 0.0, axis=0)
        if not idle.any() or idle.all():
            return None
        return np.flatnonzero(~idle)
