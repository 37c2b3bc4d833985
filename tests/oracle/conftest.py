"""Shared fixtures for the hub's tests: `hub` is a HubContext on the embedded chain with a deployed
exchange, a registered seller and oracle, two datasets (an epsilon-capped one and an EXACT-capped
one), offers (default and per-buyer, fixed and MDE) and a buyer's spec bundle, plus helpers to build
terms, accept them and open deals. The chain is rolled back and the store is fresh for each test.

    def test_x(hub):
        canonical, th = hub.terms("fixed-dp", max_price=hub.ETHER)
        hub.accept_terms(canonical)            # what PUT /v1/terms does when it answers 201
        deal_id = hub.open_deal(th)            # the buyer's openDeal
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np
import pytest
from eth_hash.auto import keccak
from web3 import Web3

from client.chain import Exchange, connect
from client.chain.exchange import ETH, EXACT
from oracle.context import HubContext
from oracle.rawdata import dataset_id_for, encode_raw
from oracle.store import DatasetRecord, OfferRecord, Store, TermsRecord
from privacy import Column, Schema

ETHER = 10**18
CAP_MILLI = 5000
D = 3
ROWS = 300
QUOTE_WINDOW, ACCEPT_WINDOW, REVEAL_WINDOW, DISPUTE_WINDOW = 3600, 1800, 900, 86400


def ml_schema(d: int = D) -> Schema:
    """The fixture datasets' schema: d float features in [0, 1], a binary label `y`."""
    return Schema(features=tuple(Column(f"x{i}", "float", bounds=(0.0, 1.0)) for i in range(d)),
                  label=Column.categorical("y", 2))


def ml_data(rows: int, d: int = D, seed: int = 0) -> dict[str, np.ndarray]:
    """Seeded ML raw data fitting `ml_schema`: features uniform in [0, 1], a learnable label."""
    rng = np.random.default_rng(seed)
    x = rng.uniform(0.0, 1.0, size=(rows, d))
    w = np.linspace(1.0, -1.0, d)
    y = (x @ w + 0.1 * rng.normal(size=rows) > 0.0).astype(np.int64)
    return {"features": x, "label": y}


def canonical(doc: dict[str, Any]) -> bytes:
    """RFC 8785 bytes of a terms document (every value a string but chainId: sorted compact JSON)."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


@dataclass
class HubEnv:
    """A hub on the embedded chain: its context, the chain's actors, datasets, offers and a spec."""

    ctx: HubContext
    w3: Web3
    ex: Exchange
    store: Store
    deployer: str
    seller: str
    oracle: str
    buyer: str
    buyer2: str
    stranger: str
    datasets: dict[str, str]  # name -> dataset id: "census" (cap 5000), "census-exact" (cap EXACT)
    offers: dict[str, OfferRecord]
    spec: bytes
    spec_hash: str
    raw: dict[str, np.ndarray]
    ETHER: int = ETHER
    extra: dict[str, Any] = field(default_factory=dict)

    def terms_doc(self, offer_id: str, *, buyer: str | None = None, max_price: int = ETHER,
                  quote_fee: int | None = None, token: str = ETH, spec_hash: str | None = "auto",
                  nonce: str | None = None, **override: Any) -> dict[str, Any]:
        """A terms document taking up offer `offer_id` for `buyer` (default: `self.buyer`)."""
        off = self.offers[offer_id]
        if spec_hash == "auto":
            spec_hash = None if off.pricing.get("method") == "fixed" else self.spec_hash
        doc: dict[str, Any] = {
            "protocol": "spartacus-v1", "chainId": self.ctx.chain_id, "contract": self.ex.address,
            "seller": self.seller, "buyer": Web3.to_checksum_address(buyer or self.buyer),
            "datasetId": off.dataset_id, "offerId": off.offer_id, "specHash": spec_hash,
            "pricing": off.pricing, "release": off.release, "token": Web3.to_checksum_address(token),
            "maxPrice": str(max_price), "quoteFee": str(off.min_quote_fee if quote_fee is None else quote_fee),
            "priceTolerance": "0",
        }
        if nonce is not None:
            doc["nonce"] = nonce
        doc.update(override)
        return doc

    def terms(self, offer_id: str, **kw: Any) -> tuple[bytes, str]:
        """(canonical bytes, termsHash 0x-hex) of `terms_doc(offer_id, **kw)`."""
        body = canonical(self.terms_doc(offer_id, **kw))
        return body, "0x" + keccak(body).hex()

    def accept_terms(self, body: bytes) -> TermsRecord:
        """Store terms as accepted (what PUT /v1/terms does on 201), and their spec if they name it."""
        doc = json.loads(body)
        if doc.get("specHash"):
            self.store.put_spec(doc["specHash"], self.spec)
        rec = TermsRecord("0x" + keccak(body).hex(), body, doc["buyer"], doc["datasetId"], doc["offerId"],
                          doc.get("specHash"))
        self.store.put_terms(rec)
        return rec

    def open_deal(self, terms_hash: str, *, dataset: str | None = None, buyer: str | None = None,
                  max_price: int = ETHER, quote_fee: int | None = None, token: str = ETH) -> int:
        """The buyer's openDeal for `terms_hash` (dataset read from the stored terms unless given)."""
        rec = self.store.get_terms(terms_hash)
        ds = dataset or (rec.dataset_id if rec else self.datasets["census"])
        if quote_fee is None:
            quote_fee = json.loads(rec.canonical)["quoteFee"] if rec else 0
        deal_id, _ = self.ex.open_deal(self.seller, bytes.fromhex(ds[2:]), bytes.fromhex(terms_hash[2:]),
                                       max_price, int(quote_fee), sender=buyer or self.buyer, token=token)
        return deal_id

    def deal(self, offer_id: str, **kw: Any) -> int:
        """Terms for `offer_id`, accepted, and the deal opened with the same maxPrice/fee/token/buyer."""
        body, th = self.terms(offer_id, **kw)
        self.accept_terms(body)
        doc = json.loads(body)
        return self.open_deal(th, buyer=kw.get("buyer"), max_price=int(doc["maxPrice"]),
                              quote_fee=int(doc["quoteFee"]), token=doc["token"])


@pytest.fixture(autouse=True)
def _cheap_scrypt(monkeypatch):
    """Keystores made in tests use scrypt n = 2**10 (production: 2**18), so unlocking takes ms, not s."""
    monkeypatch.setattr("oracle.keystore.SCRYPT_N", 2**10)


def _buyer_model() -> tuple[np.ndarray, np.ndarray, Any]:
    """(inputs, labels, a small sklearn MLP fitted on the first 100) for the fixture schema, seeded: the
    buyer model the test specs are built from."""
    from sklearn.neural_network import MLPClassifier

    data = ml_data(200, seed=1)
    x, y = data["features"], data["label"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MLPClassifier((4,), max_iter=300, random_state=0).fit(x[:100], y[:100])
    return x, y, model


@pytest.fixture(scope="session")
def buyer_spec() -> tuple[bytes, str]:
    """A group-influence spec bundle for the fixture schema, built from a small sklearn MLP (seeded): a
    method the hub offers for DP releases too (first-order influence is refused there, issue 29)."""
    from pricing import parse_spec
    from pricing.builders import build_spec

    x, y, model = _buyer_model()
    spec = build_spec("group-influence", model, x[:100], y[:100], x[100:], y[100:], classes=2,
                      feature_names=[f"x{i}" for i in range(D)], label_name="y", l2=1e-2)
    return spec, parse_spec(spec).hash


@pytest.fixture(scope="session")
def network_spec() -> Callable[[float], tuple[bytes, str]]:
    """(bundle, hash) of a network-newton spec for the fixture schema, anchored on its training inputs,
    with `hyper.support` as given (0: none, which a DP offer refuses), built once per support."""
    from pricing import parse_spec
    from pricing.builders import build_spec

    built: dict[float, tuple[bytes, str]] = {}

    def make(support: float) -> tuple[bytes, str]:
        if support not in built:
            x, y, model = _buyer_model()
            spec = build_spec("network-newton", model, x[:100], y[:100], x[100:], y[100:], classes=2,
                              feature_names=[f"x{i}" for i in range(D)], label_name="y", anchor=x[:100],
                              hyper={"support": support} if support else {})
            built[support] = (spec, parse_spec(spec).hash)
        return built[support]
    return make


@pytest.fixture(scope="session")
def retrain_spec() -> tuple[bytes, str]:
    """(bundle, hash) of a network-retrain spec for the fixture schema: the test buyer's network
    retrained on its training inputs (a short retraining: 60 steps, 2 starts)."""
    from pricing import parse_spec
    from pricing.builders import build_spec

    x, y, model = _buyer_model()
    spec = build_spec("network-retrain", model, x[:100], y[:100], x[100:], y[100:], classes=2,
                      feature_names=[f"x{i}" for i in range(D)], label_name="y", anchor=x[:100],
                      hyper={"steps": 60, "inits": 2})
    return spec, parse_spec(spec).hash


MDE_PRICING = {"method": "group-influence", "curve": {"kind": "linear", "slope": str(10 * ETHER)}}
FIXED_PRICING = {"method": "fixed", "price": str(ETHER // 10)}


def _dp_release(epsilon: str) -> dict[str, Any]:
    return {"epsilon": epsilon, "mechanism": {"name": "ml-laplace-rr", "bounds": {}, "clamp": False,
                                              "split": "equal", "neighbouring": "replace-one"}}


EXACT_RELEASE = {"epsilon": "exact", "mechanism": {"name": "exact"}}


def fixture_offers(census: str, exact: str, buyer: str) -> dict[str, OfferRecord]:
    """The fixture's offers: default DP ones on `census`, buyer-only exact ones on `census-exact`."""
    fee = ETHER // 1000
    return {o.offer_id: o for o in [
        OfferRecord("fixed-dp", census, None, _dp_release("1"), FIXED_PRICING, (ETH,), fee),
        OfferRecord("mde-dp", census, None, _dp_release("1"), MDE_PRICING, (ETH,), fee),
        OfferRecord("fixed-dp-big", census, None, _dp_release("4.5"), FIXED_PRICING, (ETH,), fee),
        OfferRecord("mde-exact", exact, buyer, EXACT_RELEASE, MDE_PRICING, (ETH,), fee),
        OfferRecord("fixed-exact", exact, buyer, EXACT_RELEASE, FIXED_PRICING, (ETH,), fee),
    ]}


@pytest.fixture(scope="module")
def _hub_chain() -> dict[str, Any]:
    w3 = connect("embedded")
    a = w3.eth.accounts
    deployer, seller, oracle, buyer, buyer2, stranger = a[:6]
    ex = Exchange.deploy(w3, sender=deployer, quote_window=QUOTE_WINDOW, accept_window=ACCEPT_WINDOW,
                         reveal_window=REVEAL_WINDOW, dispute_window=DISPUTE_WINDOW)
    ex.register_seller(oracle, sender=seller)
    census, exact = dataset_id_for(seller, "census"), dataset_id_for(seller, "census-exact")
    ex.register_dataset(bytes.fromhex(census[2:]), CAP_MILLI, sender=seller)
    ex.register_dataset(bytes.fromhex(exact[2:]), EXACT, sender=seller)
    return {"w3": w3, "ex": ex, "actors": (deployer, seller, oracle, buyer, buyer2, stranger),
            "datasets": {"census": census, "census-exact": exact}}


@pytest.fixture()
def hub(_hub_chain: dict[str, Any], buyer_spec: tuple[bytes, str], tmp_path: Path) -> HubEnv:
    """A fresh hub (store under tmp_path) on the module's chain, rolled back after the test."""
    w3, ex = _hub_chain["w3"], _hub_chain["ex"]
    tester = w3.provider.ethereum_tester
    snapshot = tester.take_snapshot()
    deployer, seller, oracle, buyer, buyer2, stranger = _hub_chain["actors"]
    store = Store(tmp_path / "data" / "hub.sqlite")
    schema = ml_schema()
    raw = ml_data(ROWS)
    ds = _hub_chain["datasets"]
    store.add_dataset(DatasetRecord(ds["census"], "census", schema.to_json(), ROWS, CAP_MILLI), encode_raw(raw, schema))
    store.add_dataset(DatasetRecord(ds["census-exact"], "census-exact", schema.to_json(), ROWS, EXACT),
                      encode_raw(raw, schema))
    offers = fixture_offers(ds["census"], ds["census-exact"], buyer)
    for o in offers.values():
        store.put_offer(o)
    ctx = HubContext(store=store, exchange=ex, chain_id=int(w3.eth.chain_id), seller=seller, oracle=oracle)
    spec, spec_hash = buyer_spec
    yield HubEnv(ctx=ctx, w3=w3, ex=ex, store=store, deployer=deployer, seller=seller, oracle=oracle, buyer=buyer,
                 buyer2=buyer2, stranger=stranger, datasets=dict(ds), offers=offers, spec=spec, spec_hash=spec_hash,
                 raw=raw)
    store.close()
    tester.revert_to_snapshot(snapshot)
