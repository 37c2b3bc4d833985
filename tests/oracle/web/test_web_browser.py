"""The owner's page in a real browser: headless Chromium (Debian's `chromium` and `chromium-driver`)
driven by Selenium against the hub served by uvicorn on loopback, its watcher stepped by the test.
Log in, add an offer and find it at GET /v1/offers?buyer=, see an arbitrage-breaking one refused (and
an influence-priced DP one, and a sanitized one without a column to hide; then one that has it),
watch a deal go Quoted -> Revealed -> Settled as the chain advances, withdraw. Each page is saved
under docs/screenshots/ so a reader sees the product: with SPARTACUS_UPDATE_SCREENSHOTS=1 they
replace the committed ones, otherwise they go to the test's tmp_path (a test run leaves the tree clean)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import httpx
import pytest

from client.chain.exchange import ETH
from oracle.api import create_app
from oracle.pipeline import QuotePipeline
from oracle.watcher import Watcher
from tests.oracle.test_http_deal import served

from .conftest import SECRET

DOCS_SHOTS = Path(__file__).resolve().parents[3] / "docs" / "screenshots"
MISSING = ("headless Chromium is missing: run `make test` (as root it installs Debian's chromium and "
           "chromium-driver) or `apt-get install -y chromium chromium-driver`")

pytestmark = pytest.mark.slow


@pytest.fixture()
def browser(tmp_path):
    """A headless Chromium under Selenium; fails (never skips) naming the fix when it is not installed."""
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if chromium is None or driver is None:
        pytest.fail(MISSING)
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.fail("selenium is missing: install the dev extras (`pip install -e '.[dev]'`, which `make` does)")
    opts = Options()
    opts.binary_location = chromium
    for arg in ("--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run",
                "--disable-dev-shm-usage", f"--user-data-dir={tmp_path / 'chromium'}", "--window-size=1440,1100"):
        opts.add_argument(arg)
    drv = webdriver.Chrome(options=opts, service=Service(executable_path=driver))
    drv.implicitly_wait(5)  # a click that submits a form returns before the next page is loaded
    try:
        yield drv
    finally:
        drv.quit()


@pytest.fixture()
def shots(tmp_path) -> Path:
    """Where screenshots go: docs/screenshots/ when SPARTACUS_UPDATE_SCREENSHOTS=1, else tmp_path."""
    return DOCS_SHOTS if os.environ.get("SPARTACUS_UPDATE_SCREENSHOTS") == "1" else tmp_path / "screenshots"


def _shot(drv, shots: Path, name: str) -> None:
    shots.mkdir(parents=True, exist_ok=True)
    height = drv.execute_script("return document.documentElement.scrollHeight")
    drv.set_window_size(1440, max(700, min(int(height) + 40, 3000)))
    path = shots / f"{name}.png"
    assert drv.save_screenshot(str(path)) and path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path


def _phase(drv, url: str, deal_id: int) -> str:
    from selenium.webdriver.common.by import By

    drv.get(f"{url}/owner/deals")
    return drv.find_element(By.CSS_SELECTOR, f"#deal-{deal_id} td.phase").text


def _fill(drv, row: str, **fields: str) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    for name, value in fields.items():
        el = drv.find_element(By.CSS_SELECTOR, f'#offer-{row} [name="{name}"]')
        if el.tag_name == "select":
            Select(el).select_by_value(value)
        else:
            el.clear()
            el.send_keys(value)


def test_the_owner_runs_the_hub_from_the_browser(people_hub, browser, shots) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.expected_conditions import url_to_be
    from selenium.webdriver.support.ui import WebDriverWait

    hub, drv = people_hub, browser
    watcher = Watcher(hub.ctx, QuotePipeline(hub.ctx, signer=hub.oracle, tokens=[ETH]), start_block=0)
    with served(create_app(hub.ctx)) as url, httpx.Client(base_url=url, timeout=30) as http:
        # without the login, the page sends the browser to the login form
        drv.get(f"{url}/owner/deals")
        assert drv.current_url == f"{url}/owner/login"
        _shot(drv, shots, "login")
        drv.find_element(By.ID, "secret").send_keys("a wrong secret")
        drv.find_element(By.ID, "login").click()
        assert "Wrong secret" in drv.find_element(By.ID, "login-error").text
        drv.find_element(By.ID, "secret").send_keys(SECRET)
        drv.find_element(By.ID, "login").click()
        WebDriverWait(drv, 10).until(url_to_be(f"{url}/owner/datasets"))

        # add a per-buyer offer: "Tesla, slightly noisy, for a price"
        drv.find_element(By.LINK_TEXT, "Offers").click()
        _fill(drv, "new", offer_id="tesla", buyer=hub.buyer2, epsilon="2", price=str(hub.ETHER // 200),
              dataset=hub.datasets["census"])
        drv.find_element(By.ID, "add-offer").click()
        assert "Offer tesla saved" in drv.find_element(By.ID, "flash").text
        seen = http.get("/v1/offers", params={"buyer": hub.buyer2}).json()["offers"]
        (tesla,) = [o for o in seen if o["offerId"] == "tesla"]
        assert tesla["pricing"]["price"] == str(hub.ETHER // 200) and tesla["release"]["epsilon"] == "2"
        assert "tesla" not in {o["offerId"] for o in http.get("/v1/offers", params={"buyer": hub.stranger}).json()["offers"]}

        # a less noisy release for less money to the same buyer breaks arbitrage-freeness: refused beside the price
        _fill(drv, "new", offer_id="tesla-cheap", buyer=hub.buyer2, epsilon="4", price=str(hub.ETHER // 1000),
              dataset=hub.datasets["census"])
        drv.find_element(By.ID, "add-offer").click()
        reason = drv.find_element(By.CSS_SELECTOR, '#offer-new .field-error[data-field="price"]').text
        assert "arbitrage" in reason and "not monotone" in reason
        assert hub.store.get_offer("tesla-cheap") is None
        _shot(drv, shots, "offers-refused")

        # influence on a DP release prices noise dearest: refused beside the method, with the fix
        drv.get(f"{url}/owner/offers")
        _fill(drv, "new", offer_id="noisy-influence", epsilon="2", rule="mde", mde_method="influence",
              curve='{"kind":"linear","slope":"1000"}', dataset=hub.datasets["census"])
        drv.find_element(By.ID, "add-offer").click()
        reason = drv.find_element(By.CSS_SELECTOR, '#offer-new .field-error[data-field="mde_method"]').text
        assert "feature-newton or group-influence" in reason
        assert "network-newton (its spec setting hyper.support > 0)" in reason
        assert "network-retrain" in reason  # the method that retrains the buyer's network is a fix too
        assert hub.store.get_offer("noisy-influence") is None

        # network-retrain is offered for DP releases as it is, and network-newton fits one when the buyer's
        # spec filters by support: each picked from the owner's list and kept
        for offer_id, method in (("noisy-retrain", "network-retrain"), ("noisy-net", "network-newton")):
            drv.get(f"{url}/owner/offers")
            _fill(drv, "new", offer_id=offer_id, epsilon="2", rule="mde", mde_method=method,
                  curve='{"kind":"linear","slope":"1000"}', dataset=hub.datasets["census"])
            drv.find_element(By.ID, "add-offer").click()
            assert f"Offer {offer_id} saved" in drv.find_element(By.ID, "flash").text
            assert hub.store.get_offer(offer_id).pricing["method"] == method

        # a sanitized offer must hide a boolean or categorical column: census has none, refused beside it
        drv.get(f"{url}/owner/offers")
        _fill(drv, "new", offer_id="hidden", epsilon="2", mechanism="sanitizer", private="x0", alpha="0.9",
              variant="stochastic", price="10", dataset=hub.datasets["census"])
        drv.find_element(By.ID, "add-offer").click()
        reason = drv.find_element(By.CSS_SELECTOR, '#offer-new .field-error[data-field="private"]').text
        assert "'x0' is not one of dataset census's" in reason
        assert drv.find_element(By.CSS_SELECTOR, '#offer-new [name="alpha"]').get_attribute("value") == "0.9"
        assert hub.store.get_offer("hidden") is None
        drv.get(f"{url}/owner/offers")
        _shot(drv, shots, "offers")

        # on a dataset with a boolean column to hide, the sanitized offer is fitted, served and shown
        _fill(drv, "new", offer_id="hidden", epsilon="exact", mechanism="sanitizer", private="sex", alpha="0.9",
              variant="stochastic", price="10", dataset=hub.datasets["people-exact"])
        drv.find_element(By.ID, "add-offer").click()
        assert "Offer hidden saved" in drv.find_element(By.ID, "flash").text
        assert hub.store.get_sanitizer("hidden") is not None
        (hidden,) = [o for o in http.get("/v1/offers", params={"buyer": hub.stranger}).json()["offers"]
                     if o["offerId"] == "hidden"]
        assert hidden["release"]["mechanism"]["private"] == "sex" and hidden["release"]["epsilon"] == "exact"
        assert drv.find_element(By.CSS_SELECTOR, '#offer-hidden [name="mechanism"]').get_attribute("value") == \
            "sanitizer"

        # a deal moves through its phases as the chain advances
        deal_id = hub.deal("fixed-dp")
        drv.get(f"{url}/owner/deals")
        assert drv.find_elements(By.ID, f"deal-{deal_id}") == []  # the hub has not seen it yet
        watcher.step()
        assert _phase(drv, url, deal_id) == "Quoted"
        assert drv.find_element(By.CSS_SELECTOR, f"#deal-{deal_id} td.deadline").text.endswith("UTC")
        _shot(drv, shots, "deals-quoted")
        hub.ex.accept(deal_id, sender=hub.buyer)
        watcher.step()
        assert _phase(drv, url, deal_id) == "Revealed"
        hub.ex.confirm(deal_id, sender=hub.buyer)
        watcher.step()
        assert _phase(drv, url, deal_id) == "Settled"
        price = int(hub.offers["fixed-dp"].pricing["price"])
        credit = hub.ex.credit(hub.seller)
        assert credit >= price
        assert drv.find_element(By.CSS_SELECTOR, "#earn-ETH td.credit .wei").text == str(credit)
        # a deal the hub declines shows why (the spec finds no efficacy at epsilon 1: price 0)
        declined = hub.deal("mde-dp")
        watcher.step()
        assert _phase(drv, url, declined) == "Refunded"
        assert drv.find_element(By.CSS_SELECTOR, f"#deal-{declined} td.reason").text
        _shot(drv, shots, "deals")

        # withdraw: the seller's credit leaves the contract
        drv.find_element(By.CSS_SELECTOR, "#earn-ETH button.withdraw").click()
        assert f"Withdrew {credit} of ETH" in drv.find_element(By.ID, "flash").text
        assert hub.ex.credit(hub.seller) == 0
        assert drv.find_element(By.CSS_SELECTOR, "#earn-ETH td.withdrawn .wei").text == str(credit)
        assert not drv.find_element(By.CSS_SELECTOR, "#earn-ETH button.withdraw").is_enabled()
        _shot(drv, shots, "deals-withdrawn")

        # the budget: epsilon 1 of 5 spent by that one quote and 1 by the declined draw (its price-0
        # decline disclosed a bit of it), and what the 3 left still buy; the plot shows the chain's quote
        drv.get(f"{url}/owner/datasets")
        census = drv.find_element(By.ID, "ds-census")
        assert census.find_element(By.CSS_SELECTOR, ".spent").text == "2"
        assert census.find_element(By.CSS_SELECTOR, ".left").text == "3"
        assert len(census.find_elements(By.CSS_SELECTOR, "svg.plot circle")) == 1
        lefts = {r.find_element(By.CSS_SELECTOR, "td").text: r.find_element(By.CSS_SELECTOR, "td.n-left").text
                 for r in census.find_elements(By.CSS_SELECTOR, "table.buys tbody tr")}
        assert lefts["fixed-dp"] == "3" and lefts["tesla"] == "1" and lefts["fixed-dp-big"] == "0"
        _shot(drv, shots, "datasets")
