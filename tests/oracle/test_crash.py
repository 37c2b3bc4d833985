"""The hub SIGKILLed at the worst moments, on anvil, in its own process: right after it posts a
quote, right after the buyer accepts, and in the middle of drawing a release. Restarted, it serves
the same committed ciphertext, reveals in time and the buyer is paid out as the contract says; a
hub killed mid-draw posted nothing and spent no epsilon."""

from __future__ import annotations

import io

import pytest

from client.chain import State
from client.delivery import Commitment, decrypt_and_check, verify_download
from oracle.pipeline import TEST_HOOK_DRAW_SLEEP
from tests.oracle.conftest import FIXED_PRICING, ml_data, ml_schema
from tests.oracle.hubproc import Buyer, anvil_url, setup_hub, wait_for  # noqa: F401 - anvil_url is a fixture

pytestmark = pytest.mark.anvil

ETHER = 10**18
FEE = ETHER // 1000
RELEASE = {"epsilon": "1", "mechanism": {"name": "ml-laplace-rr", "bounds": {}, "clamp": False, "split": "equal",
                                         "neighbouring": "replace-one"}}


@pytest.fixture()
def hub(anvil_url, tmp_path):
    h = setup_hub(anvil_url, tmp_path / "hub", data=ml_data(300), schema=ml_schema(), cap_milli=5000,
                  offers=[dict(offer_id="fixed", buyer=None, release=RELEASE, pricing=FIXED_PRICING,
                               tokens=("0x" + "00" * 20,), min_quote_fee=FEE)])
    yield h
    h.kill()


def _commitment(q: dict) -> Commitment:
    return Commitment(q["dataRoot"], q["cipherRoot"], q["keyCommit"], q["size"])


def _open(hub, buyer: Buyer) -> tuple[int, str]:
    offer = buyer.offer("fixed")
    terms = buyer.terms(offer, offer["datasetId"], spec_hash=None, max_price=ETHER, quote_fee=FEE)
    return buyer.open(terms, offer["datasetId"], ETHER, FEE), offer["datasetId"]


def test_killed_after_quote_and_after_accept_still_delivers_and_is_paid(hub) -> None:
    hub.start()
    buyer = Buyer(hub)
    deal, _ = _open(hub, buyer)
    q = wait_for("the hub's quote", lambda: buyer.quote(deal))
    hub.kill()  # right after it posted the quote
    hub.start()
    cipher, leaves = buyer.download(deal, "ciphertext"), buyer.download(deal, "leaves")
    verify_download(io.BytesIO(cipher), io.BytesIO(leaves), _commitment(q))  # the committed ciphertext
    assert len(_events_named(buyer, "Quoted")) == 1  # the restart did not post again
    hub.kill()  # dead when the buyer accepts
    buyer.ex.accept(deal, sender=buyer.acct)
    accepted = buyer.event("Accepted", deal)
    hub.start()
    revealed = wait_for("the key's reveal", lambda: buyer.event("KeyRevealed", deal))
    block = buyer.ex.w3.eth.get_block(_block_of(buyer, "KeyRevealed", deal))
    assert block["timestamp"] < accepted["revealDeadline"] - 60
    out = io.BytesIO()
    report = decrypt_and_check(io.BytesIO(cipher), io.BytesIO(leaves), revealed["key"], _commitment(q), out)
    assert report.ok and out.getvalue()[:8] != b"\x00" * 8
    buyer.ex.confirm(deal, sender=buyer.acct)
    settled = buyer.event("Settled", deal)
    assert settled["price"] == q["price"] == int(FIXED_PRICING["price"])
    assert buyer.ex.credit(hub.seller) == q["price"]
    assert buyer.ex.credit(buyer.address) == ETHER - q["price"]
    assert buyer.ex.state(deal) == State.SETTLED
    wait_for("the hub to see the settlement", lambda: hub.store().get_deal(deal).phase == "Settled")


def test_killed_while_drawing_posts_nothing_and_spends_nothing(hub) -> None:
    hub.start(**{TEST_HOOK_DRAW_SLEEP: "60"})
    buyer = Buyer(hub)
    deal, ds = _open(hub, buyer)
    wait_for("the hub to start drawing", lambda: f"deal {deal}: drawing the release" in hub.logs())
    hub.kill()
    assert buyer.ex.state(deal) == State.OPEN and buyer.quote(deal) is None
    assert buyer.ex.epsilon_spent(hub.seller, bytes.fromhex(ds[2:])) == 0
    store = hub.store()
    assert store.prepared_quote(deal) is None
    store.close()
    hub.start()  # without the hook: it quotes the deal once, spending epsilon once
    q = wait_for("the quote after the restart", lambda: buyer.quote(deal))
    assert q["epsilonMilli"] == 1000
    assert buyer.ex.epsilon_spent(hub.seller, bytes.fromhex(ds[2:])) == 1000


def _events_named(buyer: Buyer, name: str) -> list[dict]:
    return [a for n, a, _, _ in buyer.ex.events() if n == name]


def _block_of(buyer: Buyer, name: str, deal: int) -> int:
    (b,) = [blk for n, a, blk, _ in buyer.ex.events() if n == name and a["dealId"] == deal]
    return b
