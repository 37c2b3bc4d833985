"""What a hostile buyer uploads is refused before anything is drawn or kept for long (the security
review's B1, B2 and B3, over HTTP): a group-influence spec whose eigenvectors are not orthonormal
and a distilled spec that would loop for ever are 422 at PUT /v1/specs, and a terms `nonce` over
128 characters is 400 at PUT /v1/terms."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from client.terms import MAX_NONCE_CHARS, InvalidTermsValue, validate_terms
from common.safetensors_bytes import write_safetensors
from pricing import make_spec, parse_spec
from pricing.spec import MANIFEST_KEY

OCTET = {"Content-Type": "application/octet-stream"}


def _put_spec(api, bundle: bytes):
    return api.client.put("/v1/specs", content=bundle, headers=OCTET)


def _put_terms(api, body: bytes):
    return api.client.put("/v1/terms", content=body, headers={"Content-Type": "application/json"})


def test_the_reviews_group_influence_spec_with_scaled_eigenvectors_is_422_before_any_draw(api) -> None:
    spec = parse_spec(api.hub.spec)
    tensors = {k: np.array(v) for k, v in spec.tensors.items()}
    tensors["group.eigvecs"] = tensors["group.eigvecs"] * 1e3
    tensors["group.eigvals"] = np.full_like(tensors["group.eigvals"], 1e-9)
    manifest = {"format": "spartacus-spec-v1", **spec.manifest}
    r = _put_spec(api, write_safetensors(tensors, {MANIFEST_KEY: json.dumps(manifest)}))
    assert r.status_code == 422, r.text
    detail = r.json()["detail"]
    assert "NonOrthonormalBasis" in detail and "group.eigvecs" in detail and "numpy.linalg.eigh" in detail


@pytest.fixture(scope="module")
def distilled_bundle() -> bytes:
    """A distilled spec for the fixture schema (a short distillation: only its hyper matters here)."""
    from pricing.builders import build_spec
    from tests.oracle.conftest import D, _buyer_model

    x, y, model = _buyer_model()
    return build_spec("distilled", model, x[:100], y[:100], x[100:], y[100:], classes=2, student_epochs=5,
                      tree_samples=50, feature_names=[f"x{i}" for i in range(D)], label_name="y")


def test_the_reviews_endless_distilled_spec_is_422_naming_the_bound(api, distilled_bundle) -> None:
    spec = parse_spec(distilled_bundle)
    manifest = {"format": "spartacus-spec-v1", **spec.manifest,
                "hyper": {**spec.manifest.get("hyper", {}), "epochs": 1e12, "max_steps": 1e12, "batch": 1.0}}
    r = _put_spec(api, write_safetensors(dict(spec.tensors), {MANIFEST_KEY: json.dumps(manifest)}))
    assert r.status_code == 422, r.text
    assert "HyperOutOfRange" in r.json()["detail"] and "an integer in [1, 10000]" in r.json()["detail"]
    assert _put_spec(api, make_spec(spec.manifest, spec.tensors)).status_code == 201  # the builder's own: fine


@pytest.mark.parametrize("length, status", [(MAX_NONCE_CHARS, 201), (MAX_NONCE_CHARS + 1, 400), (60_000, 400)])
def test_a_nonce_over_128_characters_is_400(api, length, status) -> None:
    body, _ = api.hub.terms("fixed-dp", nonce="n" * length)
    r = _put_terms(api, body)
    assert r.status_code == status, r.text
    if status == 400:
        assert r.json()["error"] == "bad_request" and "nonce" in r.json()["detail"]
        assert f"at most {MAX_NONCE_CHARS}" in r.json()["detail"] and "n" * 100 not in r.json()["detail"]


@settings(max_examples=80, deadline=None)
@given(nonce=st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=3 * MAX_NONCE_CHARS))
def test_validate_terms_takes_a_nonce_exactly_when_it_has_at_most_128_characters(nonce) -> None:
    doc = {"protocol": "spartacus-v1", "chainId": 31337, "contract": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
           "seller": "0x5FbDB2315678afecb367f032d93F642f64180aa3", "buyer": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
           "datasetId": "0x" + "11" * 32, "offerId": "o", "specHash": None,
           "pricing": {"method": "fixed", "price": "1"}, "release": {"epsilon": "1", "mechanism": {"name": "x"}},
           "token": "0x0000000000000000000000000000000000000000", "maxPrice": "2", "quoteFee": "1",
           "priceTolerance": "0", "nonce": nonce}
    if len(nonce) <= MAX_NONCE_CHARS:
        assert validate_terms(doc).nonce == nonce
    else:
        with pytest.raises(InvalidTermsValue, match=f"at most {MAX_NONCE_CHARS}"):
            validate_terms(doc)
