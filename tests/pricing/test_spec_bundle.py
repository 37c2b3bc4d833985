"""Spec bundle: round trip, hash, and one specific error per violation."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest
from eth_hash.auto import keccak
from hypothesis import HealthCheck, given, settings, strategies as st

from pricing import (
    BadDtype, BadShape, BundleTooLarge, MalformedBundle, MissingTensor, NonFiniteValue, SpecError,
    UnknownLayer, UnknownMethod, make_spec, parse_spec, spec_hash,
)
from common.safetensors_bytes import write_safetensors
from pricing.spec import MANIFEST_KEY, canonical_json


def _raw(manifest: dict, tensors: dict) -> bytes:
    """Bundle bytes without make_spec's validation, to smuggle in a defect."""
    m = {"format": "spartacus-spec-v1", **manifest}
    return write_safetensors(tensors, {MANIFEST_KEY: json.dumps(m)})


def _parts(bundle: bytes) -> tuple[dict, dict]:
    spec = parse_spec(bundle)
    return dict(spec.manifest), {k: v.copy() for k, v in spec.tensors.items()}


def test_spec_round_trips_and_hash_is_keccak_of_bytes(ridge_spec):
    bundle = ridge_spec("influence")
    spec = parse_spec(bundle)
    assert spec.hash == "0x" + keccak(bundle).hex() == spec_hash(bundle)
    assert spec.method == "influence" and spec.n_features == 3 and not spec.classification
    manifest, tensors = _parts(bundle)
    assert make_spec(manifest, tensors) == bundle  # canonical: same content, same bytes, same hash


def test_spec_rejects_unknown_method(ridge_spec):
    manifest, tensors = _parts(ridge_spec("influence"))
    manifest["method"] = "astrology"
    with pytest.raises(UnknownMethod, match="'astrology'.*influence"):
        parse_spec(_raw(manifest, tensors))


def test_spec_rejects_unknown_layer(ridge_spec):
    manifest, tensors = _parts(ridge_spec("influence"))
    manifest["proxy"] = {"layers": [{"type": "conv2d", "out": 3}]}
    with pytest.raises(UnknownLayer, match="'conv2d'.*allow-list"):
        parse_spec(_raw(manifest, tensors))


def test_spec_rejects_layer_shape_that_contradicts_the_schema(ridge_spec):
    manifest, tensors = _parts(ridge_spec("influence"))
    manifest["proxy"] = {"layers": [{"type": "linear", "out": 2}, {"type": "relu"}]}
    tensors["proxy.0.weight"] = np.zeros((2, 4))  # the schema has 3 features
    tensors["proxy.0.bias"] = np.zeros(2)
    tensors["head.weight"] = np.zeros((1, 3))
    tensors["influence.ihvp"] = np.zeros(3)
    with pytest.raises(BadShape, match=r"proxy.0.weight.*\[2, 4\].*\[2, 3\]"):
        parse_spec(_raw(manifest, tensors))


def test_spec_rejects_head_of_wrong_shape(ridge_spec):
    manifest, tensors = _parts(ridge_spec("influence"))
    tensors["head.weight"] = np.zeros((1, 7))
    with pytest.raises(BadShape, match="head.weight"):
        parse_spec(_raw(manifest, tensors))


def test_spec_rejects_float32_tensor(ridge_spec):
    manifest, tensors = _parts(ridge_spec("influence"))
    tensors["influence.ihvp"] = tensors["influence.ihvp"].astype(np.float32)
    with pytest.raises(BadDtype, match="influence.ihvp.*float32.*float64"):
        parse_spec(_raw(manifest, tensors))


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_spec_rejects_non_finite_tensor(ridge_spec, bad):
    manifest, tensors = _parts(ridge_spec("influence"))
    tensors["influence.ihvp"][1] = bad
    with pytest.raises(NonFiniteValue, match="influence.ihvp"):
        parse_spec(_raw(manifest, tensors))


def test_spec_rejects_non_finite_hyper_parameter(ridge_spec):
    manifest, tensors = _parts(ridge_spec("feature-newton"))
    text = canonical_json({"format": "spartacus-spec-v1", **manifest}).replace('"steps":3', '"steps":NaN')
    if '"steps":NaN' not in text:
        text = text.replace('"hyper":{', '"hyper":{"steps":NaN,')
    with pytest.raises(NonFiniteValue):
        parse_spec(write_safetensors(tensors, {MANIFEST_KEY: text}))


def test_spec_rejects_missing_tensor(ridge_spec):
    manifest, tensors = _parts(ridge_spec("influence"))
    del tensors["influence.ihvp"]
    with pytest.raises(MissingTensor, match="influence.ihvp"):
        parse_spec(_raw(manifest, tensors))


def test_spec_rejects_unexpected_tensor(ridge_spec):
    manifest, tensors = _parts(ridge_spec("influence"))
    tensors["secret.payload"] = np.zeros(3)
    with pytest.raises(SpecError, match="secret.payload"):
        parse_spec(_raw(manifest, tensors))


def test_spec_rejects_unknown_hyper_parameter(ridge_spec):
    manifest, tensors = _parts(ridge_spec("influence"))
    manifest["hyper"] = {**manifest["hyper"], "temperature": 2.0}
    with pytest.raises(SpecError, match="temperature"):
        parse_spec(_raw(manifest, tensors))


def test_spec_rejects_bundle_over_size_cap(ridge_spec):
    bundle = ridge_spec("influence")
    with pytest.raises(BundleTooLarge, match=f"{len(bundle)} bytes.*cap of 100.*fewer probe or anchor rows"):
        parse_spec(bundle, max_bytes=100)
    assert parse_spec(bundle, max_bytes=len(bundle)).size == len(bundle)


def test_spec_default_cap_is_64_mib(ridge_spec):
    manifest, tensors = _parts(ridge_spec("influence"))
    big = _raw(manifest, {**tensors, "pad": np.zeros(64 * 1024 * 1024 // 8 + 1)})
    with pytest.raises(BundleTooLarge):
        parse_spec(big)


def test_spec_rejects_missing_manifest(ridge_spec):
    _, tensors = _parts(ridge_spec("influence"))
    with pytest.raises(MalformedBundle, match=MANIFEST_KEY):
        parse_spec(write_safetensors(tensors, {}))


def test_spec_rejects_pickle_bytes():
    import pickle  # only to produce the bytes an attacker would send; never loaded

    with pytest.raises(MalformedBundle):
        parse_spec(pickle.dumps({"a": 1}))


def test_spec_rejects_offsets_past_the_end(ridge_spec):
    bundle = bytearray(ridge_spec("influence"))
    (hlen,) = struct.unpack("<Q", bundle[:8])
    with pytest.raises(MalformedBundle):
        parse_spec(bytes(bundle[: 8 + hlen + 5]))


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_spec_parser_raises_only_spec_errors_on_corrupted_bytes(ridge_spec, data):
    bundle = bytearray(ridge_spec("influence"))
    for _ in range(data.draw(st.integers(1, 4))):
        i = data.draw(st.integers(0, len(bundle) - 1))
        bundle[i] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(bundle)))
    try:
        spec = parse_spec(bytes(bundle[:cut]) if data.draw(st.booleans()) else bytes(bundle))
    except SpecError:
        return
    # a corruption that still parses must still satisfy every invariant
    for arr in spec.tensors.values():
        assert np.isfinite(arr).all()


@pytest.mark.parametrize("key", ["seeds", "dedup"])
def test_spec_rejects_seeds_or_dedup_that_are_not_objects(ridge_spec, key):
    manifest, tensors = _parts(ridge_spec("influence"))
    manifest[key] = [1, 2]
    with pytest.raises(SpecError, match=f"manifest {key} must be an object"):
        parse_spec(_raw(manifest, tensors))


@pytest.mark.parametrize("dedup, match", [({"copies": "keep"}, "dedup.copies 'keep' is not one of"),
                                          ({"copies": 1}, "dedup.copies 1 is not one of"),
                                          ({"tol": 0.0, "copis": "drop"}, r"unknown dedup keys \['copis'\]")])
def test_spec_rejects_unknown_copies_rules(ridge_spec, dedup, match):
    manifest, tensors = _parts(ridge_spec("influence"))
    manifest["dedup"] = dedup
    with pytest.raises(SpecError, match=match):
        parse_spec(_raw(manifest, tensors))


def test_spec_without_a_copies_rule_prices_copies_at_the_lower_value(ridge_spec):
    manifest, tensors = _parts(ridge_spec("influence"))
    manifest["dedup"] = {}
    assert parse_spec(_raw(manifest, tensors)).copies == "lower"
    manifest["dedup"] = {"copies": "drop"}
    assert parse_spec(_raw(manifest, tensors)).copies == "drop"


def test_spec_rejects_negative_seed(ridge_spec):
    manifest, tensors = _parts(ridge_spec("influence"))
    manifest["seeds"] = {"finetune": -1}
    with pytest.raises(SpecError, match="seeds.finetune"):
        parse_spec(_raw(manifest, tensors))


@pytest.mark.parametrize("bad", [0.0, -1e-300, -2.0])
def test_spec_rejects_a_standardize_scale_that_is_not_positive(ridge_spec, bad):
    """A standardize layer divides by its scale: a zero or negative entry is refused at upload, named."""
    from pricing import NonPositiveScale

    manifest, tensors = _parts(ridge_spec("feature-newton"))
    d = tensors["probe.features"].shape[1]
    manifest["proxy"] = {"layers": [{"type": "standardize"}]}
    tensors["proxy.0.mean"], tensors["proxy.0.scale"] = np.zeros(d), np.ones(d)
    parse_spec(_raw(manifest, tensors))  # positive scales parse
    tensors["proxy.0.scale"][d // 2] = bad
    with pytest.raises(NonPositiveScale, match=r"proxy\.0\.scale.*> 0"):
        parse_spec(_raw(manifest, tensors))
