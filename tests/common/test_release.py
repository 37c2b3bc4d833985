"""The release format (common/release.py): safetensors bytes whose metadata is all the estimators need."""

import json
import struct

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from safetensors.numpy import save

from common.release import FORMAT, MalformedRelease, Release, UnknownColumn, column_tensor_name
from privacy import Column, Schema, release_ml

EXACT = {"name": "exact", "epsilon": "exact"}
SCHEMA = {"features": [{"name": "x", "bounds": [0, 1]}], "label": {"name": "y", "kind": "categorical", "classes": 2}}


def _blob(tensors: dict, **meta) -> bytes:
    info = {"format": FORMAT, "rows": 3, "schema": SCHEMA, "mechanism": EXACT, **meta}
    return save(tensors, metadata={"spartacus": json.dumps(info)})


def _ml_tensors(n: int = 3) -> dict:
    return {"features": np.zeros((n, 1)), "label": np.zeros(n, np.int64)}


@given(st.floats(0.01, 100), st.floats(-1e3, 1e3), st.floats(1e-2, 1e3), st.integers(0, 40))
def test_release_round_trips_through_bytes(eps, lo, width, n):
    schema = Schema(features=(Column("x", "float", bounds=(lo, lo + width)),), label=Column.categorical("y", 3))
    rng = np.random.default_rng(0)
    r = release_ml(rng.uniform(lo, lo + width, (n, 1)), rng.integers(0, 3, n), schema, eps, rng=rng)
    back = Release.from_bytes(r.to_bytes())
    assert back.mechanism == json.loads(json.dumps(r.mechanism))
    assert back.schema == schema.to_json() and back.rows == n and back.epsilon == eps
    assert np.array_equal(back.features, r.features) and np.array_equal(back.label, r.label)
    assert back.to_bytes() == r.to_bytes()


def test_metadata_is_one_key_of_sorted_compact_json():
    r = Release(tensors=_ml_tensors(), schema=SCHEMA, rows=3, mechanism={"name": "exact", "epsilon": "exact"})
    blob = r.to_bytes()
    (hlen,) = struct.unpack("<Q", blob[:8])
    meta = json.loads(blob[8:8 + hlen])["__metadata__"]
    assert list(meta) == ["spartacus"]
    assert meta["spartacus"] == (
        '{"format":"spartacus-release-v1","mechanism":{"epsilon":"exact","name":"exact"},"rows":3,'
        '"schema":{"features":[{"bounds":[0,1],"name":"x"}],"label":{"classes":2,"kind":"categorical","name":"y"}}}')


def test_equal_content_gives_equal_bytes_whatever_the_tensor_order():
    a = Release(tensors={"label": np.zeros(3, np.int64), "features": np.ones((3, 1))}, schema=SCHEMA, rows=3,
                mechanism=EXACT)
    b = Release(tensors={"features": np.ones((3, 1)), "label": np.zeros(3, np.int64)}, schema=SCHEMA, rows=3,
                mechanism=EXACT)
    assert a.to_bytes() == b.to_bytes()


@pytest.mark.parametrize("blob, match", [
    (b"", "header too small"),
    (b"\x00" * 7, "header too small"),
    (struct.pack("<Q", 10**6) + b"{}", "not a valid safetensors"),
    (struct.pack("<Q", 2) + b"{}", "no 'spartacus' key"),
])
def test_garbage_bytes_are_refused_naming_the_defect(blob, match):
    with pytest.raises(MalformedRelease, match=match):
        Release.from_bytes(blob)


def test_wrong_format_tag_is_refused_naming_both_tags():
    with pytest.raises(MalformedRelease, match="'other', expected 'spartacus-release-v1'"):
        Release.from_bytes(_blob(_ml_tensors(), format="other"))


def test_metadata_without_the_mechanism_is_refused():
    info = {"format": FORMAT, "rows": 3, "schema": SCHEMA}
    with pytest.raises(MalformedRelease, match="exactly format, mechanism, rows and schema"):
        Release.from_bytes(save(_ml_tensors(), metadata={"spartacus": json.dumps(info)}))


@pytest.mark.parametrize("mechanism", [{"name": "laplace"}, {"epsilon": 1.0}, "exact"])
def test_mechanism_without_name_and_epsilon_is_refused(mechanism):
    with pytest.raises(MalformedRelease, match="needs at least a name and the epsilon"):
        Release(tensors=_ml_tensors(), schema=SCHEMA, rows=3, mechanism=mechanism)


def test_tensor_rows_disagreeing_with_metadata_are_refused():
    with pytest.raises(MalformedRelease, match=r"metadata says 3 rows, but tensor 'features' has 2 rows"):
        Release.from_bytes(_blob({"features": np.zeros((2, 1)), "label": np.zeros(3, np.int64)}))


@pytest.mark.parametrize("tensors, match", [
    ({"features": np.zeros((3, 1), np.float32), "label": np.zeros(3, np.int64)}, "float32.*must be float64"),
    ({"features": np.zeros((3, 2)), "label": np.zeros(3, np.int64)}, r"float64 \[n, 1\]"),
    ({"features": np.zeros((3, 1)), "label": np.zeros(3, np.int32)}, "int64 or float64"),
    ({"features": np.zeros((3, 1))}, "no 'label' tensor though its schema declares label 'y'"),
    ({**_ml_tensors(), "secret": np.zeros(3)}, "'secret' is not in the schema"),
])
def test_tensors_that_contradict_the_schema_are_refused(tensors, match):
    with pytest.raises(MalformedRelease, match=match):
        Release.from_bytes(_blob(tensors))


def test_a_sketch_is_exempt_from_the_row_count_but_a_column_is_not():
    schema = {"columns": [{"name": "q", "kind": "string"}, {"name": "b", "kind": "boolean"}]}
    ok = Release(tensors={column_tensor_name("q"): np.zeros((4, 16)), column_tensor_name("b"): np.zeros(3, np.int64)},
                 schema=schema, rows=3, mechanism={"name": "table", "epsilon": 1.0})
    assert Release.from_bytes(ok.to_bytes()).column("q").shape == (4, 16)
    with pytest.raises(MalformedRelease, match="'col:b' has 2 rows"):
        Release(tensors={column_tensor_name("b"): np.zeros(2, np.int64)}, schema=schema, rows=3,
                mechanism={"name": "table", "epsilon": 1.0})


def test_unknown_column_is_refused_with_the_known_names():
    r = Release(tensors=_ml_tensors(), schema=SCHEMA, rows=3, mechanism=EXACT)
    with pytest.raises(UnknownColumn, match=r"no column 'height'; its columns are \['x', 'y'\]"):
        r.column("height")
    with pytest.raises(UnknownColumn, match="'height'"):
        r.column_mechanism("height")


def test_a_table_has_no_features_and_says_so():
    r = Release(tensors={"col:b": np.zeros(3, np.int64)}, schema={"columns": [{"name": "b", "kind": "boolean"}]},
                rows=3, mechanism=EXACT)
    with pytest.raises(UnknownColumn, match="'features'.*columns are \\['b'\\]"):
        _ = r.features


def test_non_finite_metadata_is_refused_when_written():
    r = Release(tensors=_ml_tensors(), schema=SCHEMA, rows=3, mechanism={"name": "laplace", "epsilon": float("nan")})
    with pytest.raises(MalformedRelease, match="NaN"):
        r.to_bytes()


def test_the_documented_example_is_a_release_and_its_canonical_text():
    from pathlib import Path

    doc = (Path(__file__).resolve().parents[2] / "docs" / "release-format.md").read_text(encoding="utf-8")
    text = [line for line in doc.splitlines() if line.startswith('{"format":"spartacus-release-v1"')][-1]
    info = json.loads(text)
    r = Release(tensors={"features": np.zeros((info["rows"], 1)), "label": np.zeros(info["rows"], np.int64)},
                schema=info["schema"], rows=info["rows"], mechanism=info["mechanism"])
    blob = r.to_bytes()
    (hlen,) = struct.unpack("<Q", blob[:8])
    assert json.loads(blob[8:8 + hlen])["__metadata__"]["spartacus"] == text
    assert r.column_mechanism("income")["name"] == "randomized-response"


def test_a_parsed_release_holds_read_only_views_into_its_bytes_not_copies():
    blob = _blob(_ml_tensors())
    release = Release.from_bytes(blob)
    raw = np.frombuffer(blob, np.uint8)
    for t in (release.features, release.label):
        assert np.shares_memory(t, raw) and not t.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        release.features[0, 0] = 1.0
