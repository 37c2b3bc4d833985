"""End to end across the packages, in the protocol's string form (protocol.md, "Terms document").

An owner's `privacy.Offer` becomes the `release` of a buyer's terms (`client.terms.build_terms`),
travels as canonical bytes (`common.canonical_json`), is read by the hub (`parse_terms`) and back
by privacy (`Offer.from_terms_release`) as the same offer with the same milli-epsilon; and a terms
document with each curve kind prices through `pricing.price` with string parameters exactly as
the number form did. A number anywhere in the release, or the curve, fails here.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from client.terms import ETH, WrongTermsType, build_terms, parse_terms, validate_terms
from common.canonical_json import canonical_json_bytes
from pricing import price
from pricing.spec import spec_hash
from privacy import Column, Offer, PrivacyLedger, Schema, draw_release

from .test_release_prices import FEATURES, _influence_spec

PARTIES = dict(chain_id=31337, contract="0x5FbDB2315678afecb367f032d93F642f64180aa3",
               seller="0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266", buyer="0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
               token=ETH)
DATASET = "0x" + "ab" * 32
SPEC_HASH = "0x" + "cd" * 32
FIXED = {"method": "fixed", "price": "5000"}
CURVED = {"method": "influence", "curve": {"kind": "log", "scale": "1000000", "e0": "0.05"}}


def _offer_entry(offer: Offer, offer_id: str = "o-1") -> dict:
    """What GET /v1/offers lists for this offer: the hub writes its release and pricing."""
    return {"offerId": offer_id, "datasetId": DATASET, "release": offer.terms_release(), "pricing": dict(offer.price_rule),
            "tokens": [ETH], "minQuoteFee": "10"}


def _terms_for(offer: Offer, spec_hash: str = SPEC_HASH):
    fixed = offer.price_rule["method"] == "fixed"
    return build_terms(_offer_entry(offer), **PARTIES, max_price="10000000", quote_fee="10", price_tolerance="0",
                       spec_hash=None if fixed else spec_hash)


reals = st.floats(-1e6, 1e6, allow_nan=False) | st.integers(-10**6, 10**6)
names = st.text(min_size=1, max_size=6)
offers = st.one_of(
    st.builds(
        lambda eps, mech, bounds, split, clamp, cms, rule: Offer(
            price_rule=rule, epsilon=eps, mechanism=mech, bounds=bounds, split=split, clamp=clamp,
            cms=cms if mech == "table" else None),
        st.floats(min_value=1e-3, max_value=4e6, allow_nan=False) | st.integers(1, 4_000_000),
        st.sampled_from(["ml-laplace-rr", "table"]),
        st.dictionaries(names, st.tuples(reals, reals), max_size=3),
        st.none() | st.dictionaries(names, st.floats(1e-3, 1e3) | st.integers(1, 100), min_size=1, max_size=3),
        st.booleans(),
        st.none() | st.fixed_dictionaries({"depth": st.integers(1, 64), "width": st.integers(2, 4096)}),
        st.sampled_from([FIXED, CURVED]),
    ),
    st.builds(lambda rule: Offer(price_rule=rule, epsilon="exact", mechanism="exact"), st.sampled_from([FIXED, CURVED])),
)


@settings(max_examples=200)
@given(offers)
def test_an_offer_survives_terms_bytes_and_the_hubs_parse_as_the_same_offer(offer):
    terms = _terms_for(offer)
    wire = terms.canonical
    assert wire == canonical_json_bytes(terms.to_document())  # the project's one serializer wrote these bytes
    hub = parse_terms(wire)  # what PUT /v1/terms does: strict, canonical, no numbers but chainId
    assert hub == terms and hub.terms_hash == terms.terms_hash
    back = Offer.from_terms_release(hub.release, price_rule=hub.pricing)
    assert back == offer
    assert hub.epsilon_milli == offer.epsilon_milli == back.epsilon_milli  # the quote's epsilonMilli, both ways


def test_the_release_of_an_exact_and_of_a_noisy_offer_reads_as_the_docs_show():
    noisy = Offer(price_rule=FIXED, epsilon=0.25, bounds={"pixel": (0, 255)})
    hub = parse_terms(_terms_for(noisy).canonical)
    assert hub.release == {"epsilon": "0.25", "mechanism": {"name": "ml-laplace-rr", "bounds": {"pixel": ["0", "255"]},
                                                            "clamp": False, "split": "equal",
                                                            "neighbouring": "replace-one"}}
    assert hub.epsilon_milli == 250 and not hub.is_exact
    exact = parse_terms(_terms_for(Offer(price_rule=FIXED, epsilon="exact", mechanism="exact")).canonical)
    assert exact.is_exact and Offer.from_terms_release(exact.release, price_rule=FIXED).epsilon == "exact"


def test_a_release_with_a_json_number_is_what_the_hub_refuses():
    # the form terms_release wrote before: the hub answers 400 for it, so the strings above matter
    old = {"epsilon": 0.25, "mechanism": {"name": "ml-laplace-rr", "bounds": {"pixel": [0, 255]}}}
    entry = {**_offer_entry(Offer(price_rule=FIXED, epsilon=0.25)), "release": old}
    with pytest.raises(WrongTermsType, match="release.epsilon"):
        build_terms(entry, **PARTIES, max_price="10000000", quote_fee="10")


# ---------------------------------------------------------------- every curve kind, strings == numbers


@pytest.fixture(scope="module")
def spec_and_release() -> tuple[bytes, bytes, float]:
    spec = _influence_spec(2)
    rng = np.random.default_rng(11)
    n = 30
    data = {"features": np.column_stack([rng.uniform(0, 100, n), rng.integers(0, 11, n)]),
            "label": (rng.random(n) < 0.4).astype(np.int64)}
    schema = Schema(features=FEATURES, label=Column.categorical("churn", 2))
    release = draw_release(Offer(price_rule={}, epsilon=1.5), schema, data, ledger=PrivacyLedger(cap_milli=2000),
                           rng=np.random.default_rng(4)).to_bytes()
    probe = {"pricing": {"method": "influence", "curve": {"kind": "linear", "slope": "1"}}, "maxPrice": "1"}
    efficacy = price(spec, release, probe).efficacy
    assert efficacy > 0  # a real deal, so the curves below have something to price
    return spec, release, efficacy


def _curves(efficacy: float) -> list[tuple[dict, dict]]:
    """(number form, string form) of each curve kind; the step thresholds sit at the efficacy's float."""
    below = math.nextafter(efficacy, 0.0)
    return [
        ({"kind": "linear", "slope": 10000}, {"kind": "linear", "slope": "10000"}),
        ({"kind": "linear", "slope": 10**9, "cap": 4_000_000}, {"kind": "linear", "slope": "1e9", "cap": "4000000"}),
        ({"kind": "log", "scale": 1_000_000, "e0": 0.05}, {"kind": "log", "scale": "1000000", "e0": "0.05"}),
        ({"kind": "log", "scale": 1_000_000}, {"kind": "log", "scale": "1e6"}),
        ({"kind": "step", "price": 700, "threshold": below}, {"kind": "step", "price": "700", "threshold": repr(below)}),
        ({"kind": "step", "price": 700, "threshold": efficacy}, {"kind": "step", "price": "700", "threshold": repr(efficacy)}),
        ({"kind": "step", "price": 700}, {"kind": "step", "price": "7e2"}),
    ]


def test_each_curve_kind_prices_the_same_from_string_terms_as_from_numbers(spec_and_release):
    spec, release, efficacy = spec_and_release
    prices = []
    for numbers, strings in _curves(efficacy):
        offer = Offer(price_rule={"method": "influence", "curve": strings}, epsilon=1.5)
        terms = parse_terms(_terms_for(offer, spec_hash(spec)).canonical)  # the string form passes the hub's reader
        got = price(spec, release, terms.to_document())
        want = price(spec, release, {"pricing": {"method": "influence", "curve": numbers}, "maxPrice": "10000000"})
        assert got.price == want.price and got.efficacy == want.efficacy == efficacy, strings
        with pytest.raises(WrongTermsType, match="pricing.curve"):  # and the number form does not
            validate_terms({**terms.to_document(), "pricing": {"method": "influence", "curve": numbers}})
        prices.append(got.price)
    assert prices[0] == math.floor(10000 * efficacy) and prices[1] == 4_000_000
    assert prices[4:] == [700, 0, 700]  # just below the efficacy pays, at it does not
    assert all(p > 0 for p in prices[:4])
