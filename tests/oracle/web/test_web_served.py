"""`spartacus hub serve` (its own process, on anvil) serves the owner's page with the secret `hub init`
stored hashed in the config: locked without it, open with it, and an offer saved there is served."""

from __future__ import annotations

import httpx
import pytest

from client.chain.exchange import ETH
from oracle.settings import write_config
from oracle.web import hash_secret
from tests.oracle.conftest import FIXED_PRICING, ml_data, ml_schema
from tests.oracle.hubproc import anvil_url, setup_hub  # noqa: F401 - fixture

from .conftest import SECRET, csrf_of

pytestmark = pytest.mark.anvil

DP_RELEASE = {"epsilon": "1", "mechanism": {"name": "ml-laplace-rr", "bounds": {}, "clamp": False,
                                            "split": "equal", "neighbouring": "replace-one"}}


def test_hub_serve_opens_the_owners_page_with_the_configured_secret(anvil_url, tmp_path) -> None:
    hub = setup_hub(anvil_url, tmp_path / "hub", data=ml_data(50), schema=ml_schema(), cap_milli=3000,
                    offers=[dict(offer_id="d1", buyer=None, release=DP_RELEASE, pricing=FIXED_PRICING,
                                 tokens=(ETH,), min_quote_fee=0)])
    write_config(hub.config_dir, {"owner_secret_hash": hash_secret(SECRET, n=2**10)})
    hub.start()
    try:
        with httpx.Client(base_url=hub.api, timeout=30) as http:
            r = http.get("/owner/datasets")
            assert r.status_code == 303 and r.headers["location"] == "/owner/login"
            form = http.get("/owner/login")
            r = http.post("/owner/login", data={"csrf": csrf_of(form.text), "secret": SECRET})
            assert r.status_code == 303, r.text
            page = http.get("/owner/datasets")
            assert page.status_code == 200 and "census" in page.text and "0 of 3" in page.text
            buyer = "0x" + "42" * 20
            r = http.post("/owner/offers", data={"csrf": csrf_of(page.text), "row": "new", "offer_id": "mine",
                                                 "dataset": hub.store().list_datasets()[0].dataset_id,
                                                 "buyer": buyer, "epsilon": "4", "rule": "fixed", "price": "5",
                                                 "mechanism": "ml-laplace-rr", "quote_fee": "0"})
            assert r.status_code == 400 and "more than the 3 left" in r.text  # the budget read from anvil
            r = http.post("/owner/offers", data={"csrf": csrf_of(page.text), "row": "new", "offer_id": "mine",
                                                 "dataset": hub.store().list_datasets()[0].dataset_id,
                                                 "buyer": buyer, "epsilon": "2", "rule": "fixed", "price": "5",
                                                 "mechanism": "ml-laplace-rr", "quote_fee": "0"})
            assert r.status_code == 303, r.text
            offers = http.get("/v1/offers", params={"buyer": buyer}).json()["offers"]
            assert {o["offerId"] for o in offers} == {"d1", "mine"}
    finally:
        hub.kill()
