"""PUT /v1/terms: 201 only for terms the hub will price; every refusal in the protocol's table, and
the order 400, 404, 422, 409 when a document breaks several rules."""

from __future__ import annotations

import itertools
import json
from typing import Any

import numpy as np
import pytest
from eth_hash.auto import keccak

from oracle.store import OfferRecord
from pricing import METHODS, make_spec, method_fits_release
from privacy import Offer

TOKEN = "0x5FbDB2315678afecb367f032d93F642f64180aa3"  # a checksummed address no offer lists


def _canonical(doc: dict[str, Any]) -> bytes:
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def _put(api, body: bytes):
    return api.client.put("/v1/terms", content=body, headers={"Content-Type": "application/json"})


def _upload_spec(api) -> None:
    r = api.client.put("/v1/specs", content=api.hub.spec, headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 201


def _refused(r, status: int, code: str, *words: str) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"error", "detail"} and body["error"] == code
    for w in words:
        assert w in body["detail"], (w, body["detail"])


def test_fixed_price_terms_are_201_with_their_keccak_and_stored(api) -> None:
    body, th = api.hub.terms("fixed-dp")
    r = _put(api, body)
    assert r.status_code == 201, r.text
    assert r.json() == {"termsHash": th} and th == "0x" + keccak(body).hex()
    rec = api.hub.store.get_terms(th)
    assert rec.canonical == body and rec.buyer == api.hub.buyer and rec.spec_hash is None
    assert _put(api, body).status_code == 201  # idempotent


def test_mde_terms_are_201_once_their_spec_is_uploaded(api) -> None:
    body, th = api.hub.terms("mde-dp")
    _refused(_put(api, body), 422, "unprocessable", "never uploaded", "PUT /v1/specs")
    _upload_spec(api)
    r = _put(api, body)
    assert r.status_code == 201 and r.json() == {"termsHash": th}
    assert api.hub.store.get_terms(th).spec_hash == api.hub.spec_hash


def test_buyer_only_offer_accepts_its_buyer(api) -> None:
    _upload_spec(api)
    body, _ = api.hub.terms("mde-exact")
    assert _put(api, body).status_code == 201


# ---------------------------------------------------------------- 400


@pytest.mark.parametrize("mutate, words", [
    (lambda d: _canonical(d).replace(b",", b", ", 1), ["canonical"]),
    (lambda d: json.dumps(d, separators=(",", ":")).encode(), ["canonical"]),  # keys not sorted
    (lambda d: _canonical({k: v for k, v in d.items() if k != "quoteFee"}), ["quoteFee"]),
    (lambda d: _canonical({**d, "extra": "1"}), ["extra"]),
    (lambda d: _canonical({**d, "chainId": str(d["chainId"])}), ["chainId"]),
    (lambda d: _canonical({**d, "maxPrice": int(d["maxPrice"])}), ["maxPrice"]),
    (lambda d: _canonical({**d, "release": {**d["release"], "epsilon": "0"}}), ["epsilon"]),
    (lambda d: _canonical({**d, "release": {**d["release"], "epsilon": "1e3"}}), ["epsilon"]),
    (lambda d: _canonical({**d, "release": {**d["release"], "epsilon": 1}}), ["epsilon"]),
    (lambda d: _canonical({**d, "buyer": d["buyer"].lower()}), ["buyer", "checksum"]),
    (lambda d: _canonical({**d, "datasetId": d["datasetId"].upper().replace("0X", "0x")}), ["datasetId"]),
    (lambda d: b"not json", ["JSON"]),
    (lambda d: b"\xff\xfe", ["UTF-8"]),
    (lambda d: _canonical([d]), []),
])
def test_malformed_terms_are_400_naming_the_field(api, mutate, words) -> None:
    doc = api.hub.terms_doc("fixed-dp")
    _refused(_put(api, mutate(doc)), 400, "bad_request", *words)


def test_terms_over_the_limit_are_413(api) -> None:
    api.hub.ctx.max_terms_bytes = 200
    body, _ = api.hub.terms("fixed-dp")
    _refused(_put(api, body), 413, "too_large")


# ---------------------------------------------------------------- 404


def test_unknown_dataset_is_404(api) -> None:
    body, _ = api.hub.terms("fixed-dp", datasetId="0x" + "77" * 32)
    _refused(_put(api, body), 404, "not_found", "datasetId", "/v1/datasets")


def test_unknown_offer_id_is_404(api) -> None:
    body, _ = api.hub.terms("fixed-dp", offerId="no-such-offer")
    _refused(_put(api, body), 404, "not_found", "offerId", "/v1/offers")


# ---------------------------------------------------------------- 422


def _other_schema_spec() -> bytes:
    """A valid group-influence spec (the fixture's MDE method) for a regression on x0..x2: the census
    label is categorical."""
    manifest = {"method": "group-influence", "proxy": {"layers": []}, "hyper": {"n_train": 10.0},
                "schema": {"features": [{"name": f"x{i}"} for i in range(3)], "label": {"name": "y", "kind": "continuous"}}}
    return make_spec(manifest, {"head.weight": np.ones((1, 4)), "group.grad_val": np.ones(4),
                                "group.eigvals": np.ones(1), "group.eigvecs": np.full((4, 1), 0.5)})


@pytest.mark.parametrize("offer, override, words", [
    ("fixed-exact", {"buyer": "BUYER2"}, ["not made to buyer"]),
    ("fixed-dp", {"datasetId": "EXACT"}, ["is for dataset"]),
    ("fixed-dp", {"release": {"epsilon": "2", "mechanism": {"name": "ml-laplace-rr"}}}, ["release"]),
    ("fixed-dp", {"pricing": {"method": "fixed", "price": "1"}}, ["pricing"]),
    ("fixed-dp", {"token": TOKEN}, ["token", "lists"]),
    ("fixed-dp", {"quoteFee": "1"}, ["quoteFee", "minQuoteFee"]),
    ("fixed-dp", {"chainId": 1}, ["chainId"]),
    ("fixed-dp", {"contract": TOKEN}, ["contract"]),
    ("fixed-dp", {"seller": TOKEN}, ["seller"]),
    ("mde-dp", {"specHash": "0x" + "99" * 32}, ["never uploaded"]),
])
def test_terms_the_hub_will_not_price_are_422_naming_the_rule(api, offer, override, words) -> None:
    hub = api.hub
    _upload_spec(api)
    subst = {"BUYER2": hub.buyer2, "EXACT": hub.datasets["census-exact"]}
    override = {k: subst.get(v, v) if isinstance(v, str) else v for k, v in override.items()}
    body, _ = hub.terms(offer, **override)
    _refused(_put(api, body), 422, "unprocessable", *words)


def test_a_spec_for_another_schema_is_422(api) -> None:
    spec = _other_schema_spec()
    r = api.client.put("/v1/specs", content=spec, headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 201
    body, _ = api.hub.terms("mde-dp", spec_hash=r.json()["specHash"])
    _refused(_put(api, body), 422, "unprocessable", "SchemaMismatch")


def test_fixed_price_terms_naming_a_spec_are_422(api) -> None:
    # well-formed (specHash may be a hash or null) but never quotable: 422, not 400 (client.terms.check_quotable)
    body, _ = api.hub.terms("fixed-dp", spec_hash=api.hub.spec_hash)
    _refused(_put(api, body), 422, "unprocessable", "specHash", "null")


@pytest.mark.parametrize("kw, field", [({"max_price": 10, "quote_fee": 0}, "pricing.price"),
                                       ({"quote_fee": 2 * 10**18}, "quoteFee")])
def test_amounts_no_quote_could_satisfy_are_422(api, kw, field) -> None:
    body, _ = api.hub.terms("fixed-dp", **kw)
    _refused(_put(api, body), 422, "unprocessable", field, "maxPrice")


def test_an_unknown_offer_with_a_price_over_max_price_is_404_not_400(api) -> None:
    # protocol.md's order 400, 404, 422: an amount rule is a 422 rule, so the unknown offerId answers
    doc = api.hub.terms_doc("fixed-dp", max_price=10)
    _refused(_put(api, _canonical({**doc, "offerId": "no-such-offer"})), 404, "not_found", "offerId")


# ---------------------------------------------------------------- 422: a pricing method that does not fit the release


def _influence_spec() -> bytes:
    """A valid influence spec for the fixture schema (x0..x2, binary y): a softmax head, seeded."""
    rng = np.random.default_rng(7)
    manifest = {"method": "influence", "proxy": {"layers": []}, "hyper": {"n_train": 100.0},
                "schema": {"features": [{"name": f"x{i}"} for i in range(3)],
                           "label": {"name": "y", "kind": "categorical", "classes": 2}}}
    return make_spec(manifest, {"head.weight": 0.3 * rng.normal(size=(2, 4)), "influence.ihvp": rng.normal(size=8)})


def _kept_offer(api, offer_id: str, dataset: str, release: dict[str, Any], method: str) -> None:
    """An offer put straight into the store, as one kept before the hub refused unfit pricings."""
    pricing = ({"method": "fixed", "price": "1000"} if method == "fixed"
               else {"method": method, "curve": {"kind": "linear", "slope": "1000"}})
    offer = OfferRecord(offer_id, api.hub.datasets[dataset], None, release, pricing, ("0x" + "00" * 20,), 0)
    api.hub.store.put_offer(offer)
    api.hub.offers[offer_id] = offer


def _release(mechanism: str) -> dict[str, Any]:
    if mechanism == "exact":
        return {"epsilon": "exact", "mechanism": {"name": "exact"}}
    return Offer(price_rule={}, epsilon="1", mechanism=mechanism).terms_release()


def test_terms_pairing_a_dp_release_with_a_method_that_misprices_it_are_422_with_the_measured_reason(api):
    _upload_spec(api)
    _kept_offer(api, "old-noisy", "census", _release("ml-laplace-rr"), "influence")
    body, th = api.hub.terms("old-noisy")
    r = _put(api, body)
    _refused(r, 422, "unprocessable", "old-noisy",
             "pricing method 'influence' does not fit this release (ml-laplace-rr)",
             "influence misprices ml-laplace-rr releases",
             "use feature-newton or group-influence or network-newton (its spec setting hyper.support > 0) "
             "or network-retrain for DP releases")
    assert api.hub.store.get_terms(th) is None


@pytest.mark.parametrize("support", [0.0, 1.0])
def test_network_newton_prices_a_dp_release_only_with_a_spec_that_drops_rows_outside_its_support(api, network_spec,
                                                                                                support):
    """The offer passes (some network-newton spec fits DP releases); the spec named in the terms is
    refused unless it sets hyper.support > 0, with the measured reason and the fix."""
    spec, _ = network_spec(support)
    r = api.client.put("/v1/specs", content=spec, headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 201, r.text
    _kept_offer(api, "net-noisy", "census", _release("ml-laplace-rr"), "network-newton")
    body, th = api.hub.terms("net-noisy", spec_hash=r.json()["specHash"])
    r = _put(api, body)
    if support:
        assert r.status_code == 201, r.text
        assert api.hub.store.get_terms(th).spec_hash is not None
    else:
        _refused(r, 422, "unprocessable", "net-noisy", "network-newton misprices ml-laplace-rr releases unless its "
                 "spec sets hyper.support > 0", "hyper={'support': 1.0}")
        assert api.hub.store.get_terms(th) is None


def test_the_same_method_on_an_exact_release_is_201_and_a_fixed_price_on_a_dp_one_too(api) -> None:
    r = api.client.put("/v1/specs", content=_influence_spec(), headers={"Content-Type": "application/octet-stream"})
    assert r.status_code == 201
    _kept_offer(api, "whole", "census-exact", _release("exact"), "influence")
    body, th = api.hub.terms("whole", spec_hash=r.json()["specHash"])
    assert _put(api, body).status_code == 201 and api.hub.store.get_terms(th) is not None
    _kept_offer(api, "noisy-fixed", "census", _release("table"), "fixed")
    body, _ = api.hub.terms("noisy-fixed")
    assert _put(api, body).status_code == 201


def test_the_hub_refuses_terms_exactly_for_the_pairs_method_fits_release_refuses(api) -> None:
    """Every (method, mechanism) pair, as offers kept before the rule: terms are refused for the
    fit exactly when `pricing.method_fits_release` says no (the others fail later rules or pass)."""
    _upload_spec(api)
    for method in ["fixed", *sorted(METHODS)]:
        for mechanism in ("exact", "ml-laplace-rr", "table"):
            oid = f"{method}-{mechanism}"
            _kept_offer(api, oid, "census-exact" if mechanism == "exact" else "census", _release(mechanism), method)
            r = _put(api, api.hub.terms(oid)[0])
            fits = method == "fixed" or method_fits_release(method, mechanism)[0]
            refused_for_fit = r.status_code == 422 and "does not fit this release" in r.json()["detail"]
            assert refused_for_fit == (not fits), (oid, r.text)
            if not fits:
                assert method_fits_release(method, mechanism)[1] in r.json()["detail"]


# ---------------------------------------------------------------- 409 and the order of rules


def test_a_spec_already_evaluated_against_the_dataset_is_409(api) -> None:
    _upload_spec(api)
    body, _ = api.hub.terms("mde-dp")
    assert _put(api, body).status_code == 201
    api.put_deal(7, spec_hash=api.hub.spec_hash)  # the hub quoted deal 7 with this spec on census
    _refused(_put(api, body), 409, "conflict", "already evaluated")
    reworded, _ = api.hub.terms("mde-dp", nonce="again")  # a reworded document does not help
    _refused(_put(api, reworded), 409, "conflict")
    _, _ = api.hub.terms("mde-exact")
    other_dataset, _ = api.hub.terms("mde-exact")  # the same spec on another dataset is still priceable
    assert _put(api, other_dataset).status_code == 201


def test_terms_already_quoted_are_409_and_a_nonce_makes_them_new(api) -> None:
    # the contract never reopens quoted terms (rule 2): 201 would send the buyer to an openDeal that reverts
    body, th = api.hub.terms("fixed-dp")
    assert _put(api, body).status_code == 201
    api.put_deal(9, terms_hash=th)  # the hub quoted deal 9 on these terms
    _refused(_put(api, body), 409, "conflict", "deal 9", "nonce")
    again, _ = api.hub.terms("fixed-dp", nonce="second purchase")
    assert _put(api, again).status_code == 201


def test_a_document_breaking_several_rules_is_answered_by_the_first_of_400_404_422_409(api) -> None:
    _upload_spec(api)
    api.put_deal(7, spec_hash=api.hub.spec_hash)  # every mde-dp terms now break the 409 rule
    breaks = {
        400: lambda d: {**d, "priceTolerance": 0},
        404: lambda d: {**d, "offerId": "no-such-offer"},
        422: lambda d: {**d, "token": TOKEN},
    }
    seen = set()
    for chosen in itertools.chain.from_iterable(itertools.combinations(breaks, k) for k in range(4)):
        doc = api.hub.terms_doc("mde-dp")
        for status in chosen:
            doc = breaks[status](doc)
        expected = min(chosen, default=409)
        r = _put(api, _canonical(doc))
        assert r.status_code == expected, (chosen, r.text)
        seen.add(r.status_code)
    assert seen == {400, 404, 422, 409}
