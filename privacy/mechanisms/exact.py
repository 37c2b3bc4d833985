"""The exact release: the data themselves, for an offer whose epsilon is ``"exact"``.

Allowed only when the dataset's cap is EXACT (the contract's rule 3); no noise, so the
estimators return the plain statistic with zero noise variance.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..errors import InvalidSchema
from ..release import Release, column_tensor_name
from ..schema import Schema
from ._columns import check_rows, encode_categorical

__all__ = ["MECHANISM_NAME", "release_exact"]

MECHANISM_NAME = "exact"


def release_exact(data: Mapping[str, Any], schema: Schema) -> Release:
    """An exact release: ``data`` holds ``features``/``label`` for ML schemas, else one entry per column."""
    tensors: dict[str, np.ndarray] = {}
    rows = 0
    if schema.features:
        X = np.asarray(data["features"], dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != len(schema.features):
            raise InvalidSchema(f"features have shape {X.shape}; expected [n, {len(schema.features)}]")
        tensors["features"] = X
        rows = X.shape[0]
        if schema.label is not None:
            lab = data["label"]
            tensors["label"] = (encode_categorical(schema.label, lab) if schema.label.kind == "categorical"
                                else np.asarray(lab, dtype=np.int64 if schema.label.kind == "boolean"
                                                else np.float64))
    if schema.columns:
        rows = check_rows(data, [c.name for c in schema.columns])
        for c in schema.columns:
            if c.kind == "string":
                raise InvalidSchema(f"column {c.name!r} is a string column; an exact release carries numbers only")
            v = data[c.name]
            arr = (encode_categorical(c, v) if c.kind == "categorical" else
                   np.asarray(v, dtype=np.int64 if c.kind in ("boolean", "integer") else np.float64))
            tensors[column_tensor_name(c.name)] = arr
    return Release(tensors=tensors, schema=schema.to_json(), rows=rows, mechanism={"name": "exact", "epsilon": "exact"})
