"""Tree extraction (Bastani, Kim, Bastani 2017): price against a tree that mimics the model.

The buyer samples inputs around its data, labels them with its own model and fits a
decision tree (``tree`` in the manifest: JSON arrays ``feature``, ``threshold``,
``left``, ``right``, ``value`` = class counts per node, children after parents). A record
that lands in an uncertain leaf (high entropy: where the model's decision is unsettled)
and agrees with it is worth a lot; one that contradicts a confident leaf is likely noise
and costs. Within a leaf, value grows as log(1 + sum): more of the same region saturates.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import SpecError
from .base import Efficacy, PricingMethod, check_at_most

__all__ = ["TreeExtraction", "tree_leaves", "MAX_NODES", "MAX_DEPTH"]

_KEYS = ("feature", "threshold", "left", "right", "value")
#: The most nodes and levels a shipped tree may have: a quote walks every release row down it, one
#: pass over the rows per level (the builder's 64 leaves make 127 nodes and at most 63 levels; a
#: 65,535-node chain took 4.5 s on 10,000 rows, and grows with the rows).
MAX_NODES, MAX_DEPTH = 65_536, 1024


def tree_leaves(tree: dict, x: np.ndarray) -> np.ndarray:
    """Index of the leaf each row of x falls in (x[f] <= threshold goes left, as sklearn)."""
    feature = np.asarray(tree["feature"], dtype=np.int64)
    threshold = np.asarray(tree["threshold"], dtype=np.float64)
    left, right = np.asarray(tree["left"], dtype=np.int64), np.asarray(tree["right"], dtype=np.int64)
    node = np.zeros(x.shape[0], dtype=np.int64)
    for _ in range(len(feature)):
        inner = left[node] >= 0
        if not inner.any():
            break
        rows = np.nonzero(inner)[0]
        go_left = x[rows, feature[node[rows]]] <= threshold[node[rows]]
        node[rows] = np.where(go_left, left[node[rows]], right[node[rows]])
    return node


class TreeExtraction(PricingMethod):
    """Efficacy from disagreement with an extracted tree and its leaves' uncertainty."""

    name = "tree"
    defaults = {"scale": 1.0}

    def check_manifest(self, manifest, tensors, *, d, classes):
        tree = manifest.get("tree")
        if not classes:
            raise SpecError("the tree method prices classification data only (schema.label.kind 'categorical')")
        if not isinstance(tree, dict) or set(tree) != set(_KEYS):
            raise SpecError(f"manifest 'tree' must be an object with exactly the arrays {list(_KEYS)}")
        if not all(isinstance(tree[k], list) for k in _KEYS):
            raise SpecError(f"manifest 'tree' must hold the arrays {list(_KEYS)}")
        n = len(tree["feature"])
        if n == 0 or any(len(tree[k]) != n for k in _KEYS):
            raise SpecError("tree arrays must be non-empty and of equal length")
        check_at_most("the tree's node count", n, MAX_NODES, "a quote walks the release down the tree level by level; "
                      "fit the tree with fewer leaves")
        for i in range(n):
            f, lft, rgt, val = tree["feature"][i], tree["left"][i], tree["right"][i], tree["value"][i]
            if not all(isinstance(v, int) and not isinstance(v, bool) for v in (f, lft, rgt)):
                raise SpecError(f"tree node {i}: feature, left and right must be ints")
            if (lft < 0) != (rgt < 0):
                raise SpecError(f"tree node {i}: a node has two children or none")
            if lft >= 0:
                if not (i < lft < n and i < rgt < n):
                    raise SpecError(f"tree node {i}: children ({lft}, {rgt}) must come after their parent and exist")
                if not 0 <= f < d:
                    raise SpecError(f"tree node {i}: feature {f} is not a column index in [0, {d})")
                t = tree["threshold"][i]
                if isinstance(t, bool) or not isinstance(t, (int, float)) or not math.isfinite(t):
                    raise SpecError(f"tree node {i}: threshold {t!r} must be a finite number")
            if not (isinstance(val, list) and len(val) == classes and all(
                    isinstance(c, (int, float)) and not isinstance(c, bool) and math.isfinite(c) and c >= 0 for c in val)
                    and sum(val) > 0):
                raise SpecError(f"tree node {i}: value must be {classes} non-negative counts, not all zero")
        depth = [0] * n  # children come after their parents, so one pass in order finds each node's deepest path
        for i in range(n):
            if tree["left"][i] >= 0:
                for child in (tree["left"][i], tree["right"][i]):
                    depth[child] = max(depth[child], depth[i] + 1)
        check_at_most("the tree's depth", max(depth), MAX_DEPTH, "a quote passes over the release once a level; "
                      "fit the tree with a depth limit")

    def _efficacy(self, spec, x, y):
        tree = spec.manifest["tree"]
        counts = np.asarray(tree["value"], dtype=np.float64)
        p = counts / counts.sum(axis=1, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            ent = -np.where(p > 0, p * np.log(p), 0.0).sum(axis=1) / math.log(spec.classes)
        leaf = tree_leaves(tree, x)
        u, agree = ent[leaf], p[leaf, y]
        scores = spec.hyper["scale"] * (u * agree - (1.0 - u) * (1.0 - agree))
        pos = np.zeros(len(counts))
        np.add.at(pos, leaf, np.maximum(scores, 0.0))
        total = float(np.log1p(pos).sum() + np.minimum(scores, 0.0).sum())
        return Efficacy(total, scores)
