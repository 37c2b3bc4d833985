"""ML data sets (features + label): Laplace on clamped features, randomized response on the label.

Features are float64 ``[n, d]`` with declared per-feature bounds; each feature column gets
the Laplace mechanism (discrete Laplace for integer features, cast to float64) at its
share of epsilon. A categorical or boolean label gets k-ary randomized response
(int64 ``[n]``); a numeric label (regression) gets Laplace (float64 ``[n]``). The
tensors stay ``features`` and ``label`` so any pricing method can read any release.

Privacy: replace-one neighbouring over records (one row of features with its label).
The ``d + 1`` column releases compose sequentially; by default each gets
``epsilon / (d + 1)``, or the caller's ``split`` weights (recorded). The whole epsilon is
consumed and recorded as the mechanism's ``epsilon``; each column's parameters are under
``columns`` in the metadata.

Sampling: with OpenDP (no ``rng``) each column is one vectorised OpenDP call, and the
columns are drawn on parallel threads (``_columns.release_columns``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..budget import validate_epsilon
from ..errors import InvalidSchema
from ..release import Release
from ..schema import Schema
from ._columns import release_columns, resolve_split, top_params

__all__ = ["MECHANISM_NAME", "release_ml"]

MECHANISM_NAME = "ml-laplace-rr"


def release_ml(features, label, schema: Schema, epsilon: float, *, split=None, clamp: bool = False,
               rng: np.random.Generator | None = None, workers: int | None = None) -> Release:
    """Draw an epsilon-DP release of an ML data set; ``label`` may be None if the schema has none.

    ``workers`` caps the threads drawing OpenDP columns (default one per CPU; ignored with
    a seeded ``rng``, which draws in column order).
    """
    eps = validate_epsilon(epsilon)
    if not schema.features:
        raise InvalidSchema("schema has no features; use release_table for a general table")
    X = np.asarray(features, dtype=np.float64)
    if X.ndim != 2 or X.shape[1] != len(schema.features):
        raise InvalidSchema(f"features have shape {X.shape}; the schema declares {len(schema.features)} "
                            "feature columns, so features must be [n, d] with that d")
    n = X.shape[0]
    cols = list(schema.features)
    data: list[Any] = [X[:, j] for j in range(X.shape[1])]
    if schema.label is not None:
        if label is None or len(label) != n:
            raise InvalidSchema(f"label must have {n} entries, one per feature row")
        cols.append(schema.label)
        data.append(label)
    elif label is not None:
        raise InvalidSchema("a label was given but the schema declares none")
    shares, split_rec = resolve_split([c.name for c in cols], eps, split)
    drawn = release_columns(cols, data, shares, clamp=clamp, rng=rng, workers=workers)
    outs = [out for out, _ in drawn]
    per_column = {col.name: params for col, (_, params) in zip(cols, drawn)}
    tensors = {"features": np.column_stack([o.astype(np.float64) for o in outs[: len(schema.features)]])
               if n else np.zeros((0, len(schema.features)))}
    if schema.label is not None:
        lab = outs[-1]
        tensors["label"] = lab.astype(np.int64) if schema.label.kind in ("categorical", "boolean") \
            else lab.astype(np.float64)
    return Release(tensors=tensors, schema=schema.to_json(), rows=n,
                   mechanism=top_params(MECHANISM_NAME, eps, split_rec, per_column, clamp))
