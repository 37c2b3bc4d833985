"""A general table released column by column: each column kind gets its mechanism.

boolean -> randomized response; categorical -> k-ary randomized response; float ->
Laplace on clamped values; integer -> discrete Laplace on clamped values; string ->
Apple's private count-min sketch. Tensors are ``col:<name>`` (int64 codes for
boolean/categorical, float64 / int64 values, a float64 ``[depth, width]`` sketch).

Privacy: replace-one neighbouring over whole records (tables of the same, public size
differing in one record). One record touches every column, so the column releases
compose sequentially: the per-column epsilons (an equal split, or the caller's weights,
recorded as ``split``) sum to the whole ``epsilon`` (Dwork & Roth 2014, Thm 3.16).
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from ..budget import validate_epsilon
from ..errors import InvalidSchema
from ..release import Release, column_tensor_name
from ..schema import Schema
from ._columns import check_rows, release_columns, resolve_split, top_params

__all__ = ["MECHANISM_NAME", "release_table"]

MECHANISM_NAME = "table"


def release_table(columns: Mapping[str, Any], schema: Schema, epsilon: float, *, split=None,
                  clamp: bool = False, cms: Mapping[str, Any] | None = None,
                  rng: np.random.Generator | None = None, workers: int | None = None) -> Release:
    """Draw an epsilon-DP release of the table ``columns`` (name -> values) per ``schema.columns``.

    ``workers`` caps the threads drawing OpenDP columns (default one per CPU; ignored with
    a seeded ``rng``).
    """
    eps = validate_epsilon(epsilon)
    if not schema.columns:
        raise InvalidSchema("schema has no general columns; use release_ml for features + label")
    names = [c.name for c in schema.columns]
    rows = check_rows(columns, names)
    shares, split_rec = resolve_split(names, eps, split)
    drawn = release_columns(schema.columns, [columns[n] for n in names], shares, clamp=clamp, rng=rng,
                            cms=cms, workers=workers)
    tensors = {column_tensor_name(col.name): out for col, (out, _) in zip(schema.columns, drawn)}
    per_column = {col.name: params for col, (_, params) in zip(schema.columns, drawn)}
    return Release(tensors=tensors, schema=schema.to_json(), rows=rows,
                   mechanism=top_params(MECHANISM_NAME, eps, split_rec, per_column, clamp))
