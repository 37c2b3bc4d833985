"""The release format: safetensors bytes whose metadata is all the estimators need."""

import json
import struct

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from privacy import Column, InvalidRelease, Release, Schema, estimate_mean, release_ml
from privacy.release import FORMAT, canonical_json, read_metadata


@given(st.floats(0.01, 100), st.floats(-1e3, 1e3), st.floats(1e-2, 1e3), st.integers(0, 40))
def test_metadata_round_trips_through_safetensors(eps, lo, width, n):
    schema = Schema(features=(Column("x", "float", bounds=(lo, lo + width)),), label=Column.categorical("y", 3))
    rng = np.random.default_rng(0)
    r = release_ml(rng.uniform(lo, lo + width, (n, 1)), rng.integers(0, 3, n), schema, eps, rng=rng)
    back = Release.from_bytes(r.to_bytes())
    assert back.mechanism == json.loads(canonical_json(r.mechanism))
    assert back.schema == schema and back.rows == n and back.epsilon == eps
    assert np.array_equal(back.tensors["features"], r.tensors["features"])
    assert back.to_bytes() == r.to_bytes()


def test_metadata_is_canonical_json_under_one_key(ml_schema, ml_data, rng):
    data = ml_data(rng, 5)
    blob = release_ml(data["features"], data["label"], ml_schema, 1.0, rng=rng).to_bytes()
    (hlen,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + hlen])
    text = header["__metadata__"]["spartacus"]
    assert list(header["__metadata__"]) == ["spartacus"]
    assert text == canonical_json(json.loads(text))
    assert read_metadata(blob)["format"] == FORMAT


def test_estimate_from_bytes_equals_estimate_from_the_object(ml_schema, ml_data, rng):
    data = ml_data(rng, 100)
    r = release_ml(data["features"], data["label"], ml_schema, 1.0, rng=rng)
    assert estimate_mean(Release.from_bytes(r.to_bytes()), "age") == estimate_mean(r, "age")


@pytest.mark.parametrize("blob", [b"", b"\x00" * 7, struct.pack("<Q", 10**6) + b"{}",
                                  struct.pack("<Q", 2) + b"{}"])
def test_garbage_bytes_are_refused_as_invalid_release(blob):
    with pytest.raises(InvalidRelease):
        Release.from_bytes(blob)


def test_wrong_format_tag_is_refused():
    from safetensors.numpy import save
    blob = save({"features": np.zeros((1, 1))}, metadata={"spartacus": '{"format":"other"}'})
    with pytest.raises(InvalidRelease, match="other"):
        Release.from_bytes(blob)


def test_unknown_column_is_refused_with_the_known_names(ml_schema, ml_data, rng):
    data = ml_data(rng, 5)
    r = release_ml(data["features"], data["label"], ml_schema, 1.0, rng=rng)
    with pytest.raises(ValueError, match="age"):
        r.column("height")


def test_tensor_rows_disagreeing_with_metadata_are_refused():
    from safetensors.numpy import save
    meta = canonical_json({"format": FORMAT, "rows": 3, "schema": {"features": [{"name": "x", "bounds": [0, 1]}]},
                           "mechanism": {"name": "exact", "epsilon": "exact"}})
    blob = save({"features": np.zeros((2, 1))}, metadata={"spartacus": meta})
    with pytest.raises(InvalidRelease, match="3 rows"):
        Release.from_bytes(blob)
