"""The shared `hub` fixture itself: what hub-api's and hub-core's tests rely on."""

from __future__ import annotations

import json

from client.chain import State


def test_hub_fixture_opens_a_deal_under_accepted_terms(hub) -> None:
    body, th = hub.terms("fixed-dp")
    doc = json.loads(body)
    assert doc["buyer"] == hub.buyer and doc["specHash"] is None and doc["chainId"] == hub.ctx.chain_id
    rec = hub.accept_terms(body)
    assert hub.store.get_terms(th) == rec
    deal_id = hub.deal("mde-dp")
    assert hub.ex.state(deal_id) == State.OPEN
    assert hub.store.get_spec(hub.spec_hash) == hub.spec
    assert {o.offer_id for o in hub.store.offers_for(hub.buyer2)} == {"fixed-dp", "mde-dp", "fixed-dp-big"}
    assert len(hub.store.offers_for(hub.buyer)) == 5


def test_hub_fixture_rolls_the_chain_back(hub) -> None:
    assert hub.ex.deal_count() == 0
