"""`Support`: which release rows lie inside the buyer's own inputs, so that a refit prices only
them (`hyper.support`).

A local refit from the shipped weights overstates how much rows swamped by DP noise hurt: a
retraining from scratch fits such rows far from every input it is judged on at little cost,
while a refit must move the shipped weights to fit them
(docs/decisions/2026-12-07-support-filter-precision-lead.md). A row whose RMS distance from
the reference rows' centroid exceeds `support` times the farthest reference row's is out of
the buyer's support and carries no efficacy. Distances are in the network's own input units
(after its `standardize` layer, when it has one); the reference rows are the anchor when the
spec ships one, else the probe. The rule reads each row alone, so a price still replays.
"""

from __future__ import annotations

import numpy as np

from ...proxies import Network

__all__ = ["Support"]


class Support:
    """The centroid and radius of the reference rows in the network's input units."""

    def __init__(self, net: Network, reference: np.ndarray, support: float):
        """`support` > 0 scales the farthest reference row's distance into the radius."""
        if net.kinds and net.kinds[0] == "standardize":
            p = net.params[0]
            self._mean, self._scale = np.asarray(p["mean"], np.float64), np.asarray(p["scale"], np.float64)
        else:
            self._mean, self._scale = np.zeros(reference.shape[1]), np.ones(reference.shape[1])
        self._centre = self._units(reference).mean(axis=0)
        self.radius = float(support) * float(self.distance(reference).max(initial=0.0))

    def _units(self, x: np.ndarray) -> np.ndarray:
        return (x - self._mean) / self._scale

    def distance(self, x: np.ndarray) -> np.ndarray:
        """Each row's RMS distance from the reference centroid, in the network's input units."""
        return np.sqrt(((self._units(x) - self._centre) ** 2).mean(axis=1))

    def inside(self, x: np.ndarray) -> np.ndarray:
        """A boolean mask of the rows within the radius (on it counts as inside)."""
        return self.distance(x) <= self.radius
