"""GET /v1/info, /v1/datasets and /v1/offers: the shapes protocol.md pins, values from the chain."""

from __future__ import annotations

import pytest
from eth_hash.auto import keccak

from client.delivery import Commitment


def test_info_names_protocol_chain_contract_seller_oracle(api) -> None:
    r = api.client.get("/v1/info")
    assert r.status_code == 200
    assert r.json() == {"protocol": "spartacus-v1", "chainId": api.hub.ctx.chain_id, "contract": api.hub.ex.address,
                        "seller": api.hub.seller, "oracle": api.hub.oracle}
    assert isinstance(r.json()["chainId"], int)


def test_datasets_list_schema_rows_cap_and_spent_epsilon_from_the_chain(api) -> None:
    hub = api.hub
    census = hub.datasets["census"]
    before = {d["datasetId"]: d for d in api.client.get("/v1/datasets").json()}
    assert set(before) == set(hub.datasets.values())
    d = before[census]
    assert d["name"] == "census" and d["rows"] == 300 and d["epsilonCapMilli"] == 5000 and d["epsilonSpentMilli"] == 0
    assert d["schema"] == hub.store.get_dataset(census).schema
    # a quote spends 250 milli-epsilon on chain; the store knows nothing of it, the API must
    deal_id = hub.deal("fixed-dp")
    commitment = Commitment(keccak(b"d"), keccak(b"c"), keccak(b"\x00" + b"k" * 32), 10)
    hub.ex.post_quote(deal_id, 1, 250, commitment, sender=hub.oracle)
    after = {d["datasetId"]: d for d in api.client.get("/v1/datasets").json()}
    assert after[census]["epsilonSpentMilli"] == 250
    assert after[hub.datasets["census-exact"]]["epsilonSpentMilli"] == 0


def test_offers_for_the_buyer_include_its_own_and_the_defaults(api) -> None:
    hub = api.hub
    r = api.client.get("/v1/offers", params={"buyer": hub.buyer})
    assert r.status_code == 200
    body = r.json()
    assert body["buyer"] == hub.buyer
    assert {o["offerId"] for o in body["offers"]} == set(hub.offers)
    o = next(o for o in body["offers"] if o["offerId"] == "mde-dp")
    assert o == {"offerId": "mde-dp", "datasetId": hub.datasets["census"], "release": hub.offers["mde-dp"].release,
                 "pricing": hub.offers["mde-dp"].pricing, "tokens": ["0x" + "00" * 20],
                 "minQuoteFee": str(hub.offers["mde-dp"].min_quote_fee)}
    other = api.client.get("/v1/offers", params={"buyer": hub.buyer2.lower()}).json()
    assert other["buyer"] == hub.buyer2  # lower case accepted, answered checksummed
    assert {o["offerId"] for o in other["offers"]} == {"fixed-dp", "mde-dp", "fixed-dp-big"}


@pytest.mark.parametrize("buyer", ["", "0x12", "hello", "0x" + "g" * 40, "0x" + "aB" * 20])
def test_offers_refuse_a_malformed_or_miss_checksummed_buyer_with_400(api, buyer: str) -> None:
    r = api.client.get("/v1/offers", params={"buyer": buyer})
    assert r.status_code == 400
    assert r.json()["error"] == "bad_request" and "buyer" in r.json()["detail"]


def test_offers_without_a_buyer_are_400_in_the_protocol_shape(api) -> None:
    r = api.client.get("/v1/offers")
    assert r.status_code == 400
    assert set(r.json()) == {"error", "detail"} and "buyer" in r.json()["detail"]
