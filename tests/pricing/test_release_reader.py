"""Release reader: spartacus-release-v1 features and label, defects named."""

from __future__ import annotations

import json

import numpy as np
import pytest

from pricing import ReleaseError, read_release, write_release
from common.safetensors_bytes import write_safetensors


def test_release_round_trips(schema):
    x = np.arange(6, dtype=np.float64).reshape(3, 2)
    rel = read_release(write_release(x, np.array([0, 1, 0]), schema(2, 2)))
    assert np.array_equal(rel.features, x) and rel.label.dtype == np.int64 and rel.schema == schema(2, 2)


def _meta(schema, **over):
    return {"spartacus": json.dumps({"format": "spartacus-release-v1", "schema": schema(2, 2), "rows": 3,
                                     "mechanism": {"name": "exact", "epsilon": "exact"}, **over})}


@pytest.mark.parametrize("tensors, match", [
    ({"features": np.zeros((3, 2), np.float32), "label": np.zeros(3, np.int64)}, "float64"),
    ({"features": np.zeros((3, 2))}, "no 'label'"),
    ({"features": np.zeros((3, 2)), "label": np.zeros(4, np.int64)}, r"shape \[3\]"),
    ({"features": np.full((3, 2), np.nan), "label": np.zeros(3, np.int64)}, "NaN"),
])
def test_release_rejects_defects(schema, tensors, match):
    with pytest.raises(ReleaseError, match=match):
        read_release(write_safetensors(tensors, _meta(schema)))


def test_release_rejects_row_count_mismatch(schema):
    with pytest.raises(ReleaseError, match="3 rows.*2"):
        read_release(write_safetensors({"features": np.zeros((2, 2)), "label": np.zeros(2, np.int64)}, _meta(schema)))


def test_release_rejects_wrong_format(schema):
    with pytest.raises(ReleaseError, match="spartacus-release-v1"):
        read_release(write_safetensors({"features": np.zeros((3, 2)), "label": np.zeros(3, np.int64)},
                                       _meta(schema, format="csv")))
