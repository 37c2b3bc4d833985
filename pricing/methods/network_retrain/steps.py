"""How long the hub's retraining runs: the step count at which it fits as the buyer's model does.

A fixed-step Adam run passes through under- and over-fitted networks, and how much a release
is worth depends on where it stops: on noisy labels 200 steps memorised the anchor's drawn labels
to a probe loss of 1.02 where the buyer's model had 0.58, and priced a release of 1,000 clean
rows at -0.08 nats that a retraining gained +0.02 from (docs/decisions/2026-12-07-network-retrain.md).
So the builder runs the retraining without a release once along a grid of step counts and ships
the one whose probe loss is closest to the buyer's own model's: a retraining as fitted as the
buyer's own. It runs at the buyer's, on what the spec ships; the hub only reads `hyper.steps`.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from ...proxies import Network
from ..network_newton import calculus as nc
from .trainer import Part, adam_path, anchor_labels, glorot, mean_probe_loss

__all__ = ["STEP_GRID", "matched_steps"]

STEP_GRID: tuple[int, ...] = (25, 50, 100, 200, 400, 800)


def matched_steps(net: Network, anchor: np.ndarray, probe_x: np.ndarray, probe_y: np.ndarray, *, weight: float,
                  weight_decay: float, lr: float, inits: int, seed: int, labels: np.ndarray | None = None,
                  grid: Sequence[int] = STEP_GRID) -> tuple[int, dict[int, float]]:
    """(the step count of `grid` whose retraining on the anchor alone (its `labels`, else drawn as
    the method draws them), averaged over the starts, has the probe loss closest to `net`'s own,
    every step count's probe loss)."""
    grid = tuple(sorted(int(g) for g in grid))
    target = nc.mean_loss(net, probe_x, probe_y)
    loss = np.zeros(len(grid))
    for k, lab in enumerate(anchor_labels(net, anchor, labels, seed, inits)):
        with np.errstate(over="ignore"):
            path = adam_path(net, [Part(anchor, lab, weight)], theta0=glorot(net, seed, k),
                             checkpoints=grid, lr=lr, weight_decay=weight_decay)
            loss += [mean_probe_loss(net, theta, probe_x, probe_y) for theta in path]
    loss /= inits
    return grid[int(np.argmin(np.abs(loss - target)))], dict(zip(grid, loss.tolist()))
