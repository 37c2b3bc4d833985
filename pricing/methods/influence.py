"""First-order influence functions (Koh & Liang, ICML 2017), the baseline method.

The buyer ships ``influence.ihvp`` = H^{-1} grad L_val(theta*) for its linear head on a fixed
feature extractor (exact for small heads, CG or LiSSA otherwise; see builders). Adding a
record z with weight 1/n moves the head by -(1/n) H^{-1} grad l(z), so the predicted
reduction of the validation loss is (1/n) ihvp . grad l(z): linear, so ten copies of a
record are worth ten times one.
"""

from __future__ import annotations

import numpy as np

from ..numerics import linear_head
from .base import Efficacy, HeadMethod

__all__ = ["Influence"]


class Influence(HeadMethod):
    """Predicted validation-loss reduction, summed over records (Koh & Liang 2017, eq. 2)."""

    name = "influence"
    defaults = {"n_train": 0.0}

    def tensor_shapes(self, manifest, *, d, width, classes, hyper):
        shapes = super().tensor_shapes(manifest, d=d, width=width, classes=classes, hyper=hyper)
        shapes["influence.ihvp"] = ((classes or 1) * (width + 1),)
        return shapes

    def _efficacy(self, spec, x, y):
        phi, w = self.features(spec, x), self.head(spec)
        g = linear_head.record_grads(phi, y, w, spec.classification)
        scores = g @ spec.tensors["influence.ihvp"] / spec.hyper["n_train"]
        return Efficacy(float(np.sum(scores)), scores)
