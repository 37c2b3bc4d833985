"""Sanitized offers at the hub (issue 31): `offer set` names sanitized(p=..., alpha=...), the
sanitizer is fitted once per offer and kept by the store, a deal draws with the kept sanitizer,
quotes EXACT alone (or ceil(1000 epsilon) with DP after it), is priced by MDE like any other, and
GET /v1/offers shows the buyer the accounting inside the release object."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from eth_hash.auto import keccak

from client.chain import State
from client.chain.exchange import ETH, EXACT
from oracle import sanitizers
from oracle.offers import OfferDraft, OfferRejected, build_offer, save_offer
from oracle.pipeline import QuotePipeline
from oracle.rawdata import dataset_id_for, encode_raw
from oracle.store import DatasetRecord
from privacy import Column, Schema
from privacy.mechanisms.sanitizer import SanitizerConfig
from privacy.release import Release
from tests.oracle.conftest import CAP_MILLI, D, ETHER, MDE_PRICING, ml_data, ml_schema

ROWS = 300
SMALL = SanitizerConfig(epochs=8, utility_epochs=5, hidden=16, batch_size=64)


def people_schema() -> Schema:
    """The fixture's ML schema plus a boolean private column `sex`."""
    base = ml_schema()
    return Schema(features=base.features, label=base.label, columns=(Column("sex", "boolean"),))


def people_data(seed: int = 0) -> dict[str, np.ndarray]:
    """The fixture's ML data with `sex` planted in feature x2 (x2 > 0.5 mostly means sex = 1)."""
    data = ml_data(ROWS, seed=seed)
    rng = np.random.default_rng(seed + 7)
    data["sex"] = ((data["features"][:, D - 1] > 0.5) ^ (rng.random(ROWS) < 0.05)).astype(np.int64)
    return data


@pytest.fixture()
def fits(monkeypatch) -> list[str]:
    """Small, fast sanitizer fits; the list records the private column of each fit that ran."""
    monkeypatch.setattr(sanitizers, "FIT_CONFIG", SMALL)
    ran: list[str] = []
    real = sanitizers.fit_sanitizer

    def counting(*args, **kw):
        ran.append(kw["private"])
        return real(*args, **kw)

    monkeypatch.setattr(sanitizers, "fit_sanitizer", counting)
    return ran


@pytest.fixture()
def people(hub) -> dict[str, DatasetRecord]:
    """Two datasets with the planted private column, registered on chain: EXACT cap and a 5.0 cap."""
    schema, raw = people_schema(), people_data()
    out = {}
    for name, cap in (("people-exact", EXACT), ("people", CAP_MILLI)):
        ds_id = dataset_id_for(hub.seller, name)
        hub.ex.register_dataset(bytes.fromhex(ds_id[2:]), cap, sender=hub.seller)
        rec = DatasetRecord(ds_id, name, schema.to_json(), ROWS, cap)
        hub.store.add_dataset(rec, encode_raw(raw, schema))
        hub.datasets[name] = ds_id
        out[name] = rec
    return out


def _offer(hub, ds: DatasetRecord, offer_id: str, *, epsilon: str = "exact", alpha: str = "0.9",
           private: str = "sex", variant: str = "deterministic", buyer: str | None = None,
           price: str | None = None, **kw):
    rule = {"price": price} if price is not None else {"mde_method": MDE_PRICING["method"],
                                                       "curve": json.dumps(MDE_PRICING["curve"])}
    draft = OfferDraft(offer_id, ds, epsilon, buyer=buyer, mechanism="sanitizer", private=private, alpha=alpha,
                       variant=variant, tokens=(ETH,), **rule, **kw)
    left = None if ds.epsilon_cap_milli == EXACT else ds.epsilon_cap_milli - hub.ex.epsilon_spent(
        hub.seller, bytes.fromhex(ds.dataset_id[2:]))
    offer = build_offer(draft, existing=hub.store.list_offers(), hub_tokens=[ETH], budget_left_milli=left)
    fitted = save_offer(hub.store, offer, ds)
    hub.offers[offer_id] = offer
    return offer, fitted


def _deal_through_pipeline(hub, offer_id: str):
    deal = hub.deal(offer_id, buyer=hub.buyer)
    (args,) = [a for n, a, _, _ in hub.ex.events() if n == "DealOpened" and a["dealId"] == deal]
    out = QuotePipeline(hub.ctx, signer=hub.oracle, tokens=[ETH]).handle_opened(deal, args, block=1)
    assert out.action == "quoted", out.reason
    (quoted,) = [a for n, a, _, _ in hub.ex.events() if n == "Quoted" and a["dealId"] == deal]
    return deal, out, quoted


def test_offer_set_stores_the_sanitized_precision_and_fits_once(hub, people, fits) -> None:
    offer, fitted = _offer(hub, people["people-exact"], "san", variant="stochastic")
    mech = offer.release["mechanism"]
    assert offer.release["epsilon"] == "exact" and mech["name"] == "sanitizer"
    assert (mech["private"], mech["alpha"], mech["variant"]) == ("sex", "0.9", "stochastic")
    assert "no epsilon guarantee" in mech["guarantee"] and "exact release" in mech["guarantee"]
    assert fitted and fits == ["sex"]
    kept = hub.store.get_sanitizer("san")
    assert kept.weights_hash == "0x" + keccak(kept.weights).hex()
    assert json.loads(kept.config_json)["training"]["seed"] == sanitizers.FIT_SEED
    # a price change keeps the sanitizer; the pipeline reuses it too
    _, again = _offer(hub, people["people-exact"], "san", variant="stochastic", quote_fee="5")
    assert not again and fits == ["sex"] and hub.store.get_sanitizer("san").weights == kept.weights
    # a new alpha is another precision: refit
    _, refit = _offer(hub, people["people-exact"], "san", alpha="0.5", variant="stochastic")
    assert refit and fits == ["sex", "sex"]
    assert hub.store.get_sanitizer("san").fit_key == sanitizers.fit_key(hub.store.get_offer("san"))
    # withdrawing the offer drops its sanitizer
    assert hub.store.delete_offer("san") and hub.store.get_sanitizer("san") is None


def test_offers_endpoint_shows_the_release_object_with_its_guarantee(hub, people, fits) -> None:
    from fastapi.testclient import TestClient

    from oracle.api import create_app

    offer, _ = _offer(hub, people["people-exact"], "san")
    client = TestClient(create_app(hub.ctx))
    r = client.get("/v1/offers", params={"buyer": hub.buyer})
    assert r.status_code == 200, r.text
    (listed,) = [o for o in r.json()["offers"] if o["offerId"] == "san"]
    assert set(listed) == {"offerId", "datasetId", "release", "pricing", "tokens", "minQuoteFee"}
    assert listed["release"] == offer.release and listed["release"]["epsilon"] == "exact"
    assert listed["release"]["mechanism"]["guarantee"].startswith("no epsilon guarantee")
    # the buyer's terms copy that object, and the hub accepts them (201)
    assert client.put("/v1/specs", content=hub.spec).status_code == 201
    canonical_terms, _ = hub.terms("san")
    put = client.put("/v1/terms", content=canonical_terms)
    assert put.status_code == 201, put.text


def test_a_deal_quotes_exact_and_the_release_names_the_stored_sanitizer(hub, people, fits) -> None:
    _offer(hub, people["people-exact"], "san")
    deal, out, quoted = _deal_through_pipeline(hub, "san")
    assert out.action == "quoted", out.reason
    assert quoted["epsilonMilli"] == EXACT and hub.ex.state(deal) == State.QUOTED
    assert fits == ["sex"]  # fitted at offer set, not again for the deal
    release = Release.from_bytes(hub.store.get_deal(deal).cipher_path.parent.joinpath("release.safetensors")
                                 .read_bytes())
    kept = hub.store.get_sanitizer("san")
    assert release.mechanism["name"] == "sanitizer" and release.mechanism["epsilon"] == "exact"
    assert release.mechanism["weightsHash"] == kept.weights_hash == "0x" + keccak(kept.weights).hex()
    assert "sex" not in release.column_names and release.features.shape == (ROWS, D)
    assert 0 < out.price <= ETHER  # priced by the buyer's MDE spec like any other release


def test_sanitizer_then_dp_spends_ceil_1000_epsilon_on_chain(hub, people, fits) -> None:
    ds = people["people"]
    offer, _ = _offer(hub, ds, "san-dp", epsilon="0.2505", price=str(ETHER // 100))  # DP noise: MDE would price 0
    assert offer.release["mechanism"]["then"] == "ml-laplace-rr"
    assert "DP" in offer.release["mechanism"]["guarantee"]
    deal, out, quoted = _deal_through_pipeline(hub, "san-dp")
    assert out.action == "quoted", out.reason
    assert quoted["epsilonMilli"] == 251 and out.price == ETHER // 100
    assert hub.ex.epsilon_spent(hub.seller, bytes.fromhex(ds.dataset_id[2:])) == 251
    release = Release.from_bytes((hub.store.get_deal(deal).cipher_path.parent / "release.safetensors").read_bytes())
    assert release.mechanism["dp"]["name"] == "ml-laplace-rr"
    assert release.mechanism["weightsHash"] == hub.store.get_sanitizer("san-dp").weights_hash


def test_a_sanitizer_alone_on_a_capped_dataset_is_refused_with_a_clear_reason(hub, people, fits) -> None:
    with pytest.raises(OfferRejected) as err:
        _offer(hub, people["people"], "san-capped")
    assert err.value.field == "epsilon"
    assert "no epsilon guarantee" in err.value.reason and "EXACT" in err.value.reason
    assert hub.store.get_offer("san-capped") is None and fits == []


@pytest.mark.parametrize(("kw", "field", "words"), [
    ({"private": "age"}, "private", "not one of"),
    ({"private": "y"}, "private", "not one of"),
    ({"alpha": "1.5"}, "alpha", "alpha"),
    ({"epsilon": "-1"}, "epsilon", "positive decimal"),
    ({"bounds": ("x0=0:1",)}, "bounds", "no bounds"),
])
def test_a_malformed_sanitized_offer_is_refused_before_any_fit(hub, people, fits, kw, field, words) -> None:
    with pytest.raises(OfferRejected) as err:
        _offer(hub, people["people-exact"], "bad", **kw)
    assert err.value.field == field and words in err.value.reason
    assert fits == [] and hub.store.get_offer("bad") is None


@given(price=st.integers(1, 10**24), fee=st.integers(0, 10**18), alpha=st.sampled_from(["0", "0.5", "0.9", "1"]),
       variant=st.sampled_from(["deterministic", "stochastic"]))
def test_fit_key_changes_with_the_precision_or_dataset_never_with_the_price(price, fee, alpha, variant) -> None:
    from oracle.store import OfferRecord
    from privacy import SanitizedOffer

    release = SanitizedOffer(private="sex", alpha=alpha, variant=variant).terms_release()
    base = OfferRecord("o", "0x" + "11" * 32, None, release, {"method": "fixed", "price": "1"}, (ETH,), 0)
    repriced = OfferRecord("o", base.dataset_id.upper().replace("0X", "0x"), None, release,
                           {"method": "fixed", "price": str(price)}, (ETH,), fee)
    assert sanitizers.fit_key(repriced) == sanitizers.fit_key(base)
    other_alpha = "0.25" if alpha != "0.25" else "0.75"
    moved = SanitizedOffer(private="sex", alpha=other_alpha, variant=variant).terms_release()
    assert sanitizers.fit_key(OfferRecord("o", base.dataset_id, None, moved, base.pricing, (ETH,), 0)) \
        != sanitizers.fit_key(base)
    assert sanitizers.fit_key(OfferRecord("o", "0x" + "22" * 32, None, release, base.pricing, (ETH,), 0)) \
        != sanitizers.fit_key(base)
