"""A whole deal against a real node: anvil, the hub in its own process, a protocol-only buyer over
HTTP; and an `anvil_reorg` that removes a DealOpened the hub had seen but not confirmed."""

from __future__ import annotations

import io
import json
import time

from typing import Callable

import httpx
import pytest
from typer.testing import CliRunner

from client.chain import State
from client.chain.exchange import ETH, EXACT
from client.delivery import Commitment, decrypt_and_check, verify_download
from tests.oracle.conftest import FIXED_PRICING, MDE_PRICING, ml_data, ml_schema
from tests.oracle.hubproc import PASSPHRASE, Buyer, anvil_url, setup_hub, wait_for  # noqa: F401 - fixture

pytestmark = pytest.mark.anvil

ETHER = 10**18
FEE = ETHER // 1000
EXACT_RELEASE = {"epsilon": "exact", "mechanism": {"name": "exact"}}
DP_RELEASE = {"epsilon": "1", "mechanism": {"name": "ml-laplace-rr", "bounds": {}, "clamp": False,
                                            "split": "equal", "neighbouring": "replace-one"}}


def test_whole_mde_deal_on_anvil_over_http(anvil_url, tmp_path, buyer_spec, monkeypatch) -> None:
    spec, spec_hash = buyer_spec
    hub = setup_hub(anvil_url, tmp_path / "hub", data=ml_data(300), schema=ml_schema(), cap_milli=EXACT,
                    offers=[dict(offer_id="mde", buyer=None, release=EXACT_RELEASE, pricing=MDE_PRICING,
                                 tokens=(ETH,), min_quote_fee=FEE),
                            # kept from before the rule that influence may not price a DP release
                            dict(offer_id="noisy-influence", buyer=None, release=DP_RELEASE,
                                 pricing={**MDE_PRICING, "method": "influence"}, tokens=(ETH,), min_quote_fee=FEE)])
    hub.start()
    try:
        buyer = Buyer(hub)
        r = buyer.put("/v1/specs", spec, "application/octet-stream")
        assert r.status_code == 201 and r.json()["specHash"] == spec_hash, r.text
        noisy = buyer.offer("noisy-influence")
        refused = buyer.put("/v1/terms", buyer.terms(noisy, noisy["datasetId"], spec_hash=spec_hash, max_price=ETHER,
                                                     quote_fee=FEE), "application/json")
        assert refused.status_code == 422 and refused.json()["error"] == "unprocessable", refused.text
        assert "feature-newton or group-influence" in refused.json()["detail"]  # the fix, named
        offer = buyer.offer("mde")
        terms = buyer.terms(offer, offer["datasetId"], spec_hash=spec_hash, max_price=ETHER, quote_fee=FEE)
        deal = buyer.open(terms, offer["datasetId"], ETHER, FEE)
        q = wait_for("the quote", lambda: buyer.quote(deal))
        commitment = Commitment(q["dataRoot"], q["cipherRoot"], q["keyCommit"], q["size"])
        cipher, leaves = buyer.download(deal, "ciphertext"), buyer.download(deal, "leaves")
        verify_download(io.BytesIO(cipher), io.BytesIO(leaves), commitment)
        assert q["epsilonMilli"] == EXACT and 0 < q["price"] <= ETHER
        buyer.ex.accept(deal, sender=buyer.acct)
        revealed = wait_for("the reveal", lambda: buyer.event("KeyRevealed", deal))
        out = io.BytesIO()
        assert decrypt_and_check(io.BytesIO(cipher), io.BytesIO(leaves), revealed["key"], commitment, out).ok
        from pricing import price

        assert price(spec, out.getvalue(), json.loads(terms)).price == q["price"]  # the buyer's replay
        raw = ml_data(300)
        assert out.getvalue().count(raw["features"][0].tobytes()) == 1  # exact: the data themselves
        buyer.ex.confirm(deal, sender=buyer.acct)
        assert buyer.ex.state(deal) == State.SETTLED
        wait_for("the hub's Settled phase", lambda: httpx.get(f"{hub.api}/v1/deals/{deal}").json()["phase"] == "Settled")
    finally:
        hub.kill()
    from oracle import cli

    monkeypatch.setenv("SPARTACUS_CONFIG_DIR", str(hub.config_dir))
    monkeypatch.setenv("SPARTACUS_PASSPHRASE", PASSPHRASE)
    status = CliRunner().invoke(cli.owner_app, ["hub", "status"], catch_exceptions=False)
    assert status.exit_code == 0 and "Settled 1" in " ".join(status.output.split())
    before = buyer.ex.w3.eth.get_balance(hub.seller)
    out = CliRunner().invoke(cli.owner_app, ["hub", "withdraw"], catch_exceptions=False)
    assert out.exit_code == 0, out.output
    assert buyer.ex.credit(hub.seller) == 0 and buyer.ex.w3.eth.get_balance(hub.seller) > before


def test_a_deal_removed_by_a_reorg_before_confirmation_is_never_quoted(anvil_url, tmp_path) -> None:
    hub = setup_hub(anvil_url, tmp_path / "hub", data=ml_data(300), schema=ml_schema(), cap_milli=5000,
                    confirmations=2, offers=[dict(offer_id="fixed", buyer=None, release=DP_RELEASE,
                                                  pricing=FIXED_PRICING, tokens=(ETH,), min_quote_fee=FEE)])
    hub.start()
    try:
        buyer = Buyer(hub)
        w3 = buyer.ex.w3
        offer = buyer.offer("fixed")
        terms = buyer.terms(offer, offer["datasetId"], spec_hash=None, max_price=ETHER, quote_fee=FEE, nonce="a")
        deal = buyer.open(terms, offer["datasetId"], ETHER, FEE)
        opened_block = w3.eth.block_number
        store = hub.store()
        wait_for("the hub to process up to the block before the deal",
                 lambda: (store.watcher_position() or (-1, ""))[0] >= opened_block - 2)
        time.sleep(1.0)  # several polls with the DealOpened on chain, unconfirmed
        assert buyer.quote(deal) is None and store.get_deal(deal) is None
        w3.provider.make_request("anvil_reorg", [1, []])  # the block holding DealOpened is replaced
        assert buyer.ex.deal_count() == 0
        for _ in range(4):
            w3.provider.make_request("evm_mine", [])
        wait_for("the hub to pass the reorged height", lambda: store.watcher_position()[0] >= opened_block + 1)
        time.sleep(1.0)
        assert buyer.ex.state(deal) == State.NONE and buyer.quote(deal) is None
        assert store.get_deal(deal) is None
        assert httpx.get(f"{hub.api}/v1/deals/{deal}").status_code == 404
        # the hub is alive and quotes a deal that stays on the chain once it has 2 confirmations
        terms2 = buyer.terms(offer, offer["datasetId"], spec_hash=None, max_price=ETHER, quote_fee=FEE, nonce="b")
        deal2 = buyer.open(terms2, offer["datasetId"], ETHER, FEE)
        time.sleep(1.0)
        assert buyer.quote(deal2) is None  # not yet confirmed
        for _ in range(2):
            w3.provider.make_request("evm_mine", [])
        assert wait_for("the confirmed deal's quote", lambda: buyer.quote(deal2))["dealId"] == deal2
    finally:
        hub.kill()


def _dp_deal_replays(anvil_url, tmp_path, method: str, spec: bytes | Callable[[str, str], bytes],
                     spec_hash: str | None = None, refused: tuple[bytes, str, str] | None = None) -> None:
    """A DP offer priced by `method`, the hub in its own process on anvil: the buyer uploads `spec`
    (made by `spec(hub API url, buyer address)` once the hub runs, when a callable), and `refused`'s
    bundle, whose terms must be 422 naming its text; it opens a deal, gets a quote above 0, accepts,
    decrypts the delivery, and its replay of the price equals the quote."""
    near_exact = {**DP_RELEASE, "epsilon": "400"}  # 100 per column: noisy, still worth something
    hub = setup_hub(anvil_url, tmp_path / "hub", data=ml_data(300), schema=ml_schema(), cap_milli=EXACT,
                    offers=[dict(offer_id="dp-net", buyer=None, release=near_exact,
                                 pricing={**MDE_PRICING, "method": method}, tokens=(ETH,), min_quote_fee=FEE)])
    hub.start()
    try:
        buyer = Buyer(hub)
        offer = buyer.offer("dp-net")
        if callable(spec):
            from pricing import parse_spec

            spec = spec(hub.api, buyer.address)
            spec_hash = parse_spec(spec).hash
        for bundle, h in ((spec, spec_hash), *([refused[:2]] if refused else [])):
            r = buyer.put("/v1/specs", bundle, "application/octet-stream")
            assert r.status_code == 201 and r.json()["specHash"] == h, r.text
        if refused:
            r = buyer.put("/v1/terms", buyer.terms(offer, offer["datasetId"], spec_hash=refused[1], max_price=ETHER,
                                                   quote_fee=FEE), "application/json")
            assert r.status_code == 422 and refused[2] in r.json()["detail"], r.text
        terms = buyer.terms(offer, offer["datasetId"], spec_hash=spec_hash, max_price=ETHER, quote_fee=FEE)
        deal = buyer.open(terms, offer["datasetId"], ETHER, FEE)
        q = wait_for("the quote", lambda: buyer.quote(deal))
        assert q["epsilonMilli"] == 400_000 and 0 < q["price"] <= ETHER, q
        commitment = Commitment(q["dataRoot"], q["cipherRoot"], q["keyCommit"], q["size"])
        cipher, leaves = buyer.download(deal, "ciphertext"), buyer.download(deal, "leaves")
        buyer.ex.accept(deal, sender=buyer.acct)
        revealed = wait_for("the reveal", lambda: buyer.event("KeyRevealed", deal))
        out = io.BytesIO()
        assert decrypt_and_check(io.BytesIO(cipher), io.BytesIO(leaves), revealed["key"], commitment, out).ok
        from pricing import price

        assert price(spec, out.getvalue(), json.loads(terms)).price == q["price"]  # the buyer's replay
        assert out.getvalue().count(ml_data(300)["features"][0].tobytes()) == 0  # noisy: not the data themselves
    finally:
        hub.kill()


def test_a_dp_deal_priced_by_network_newton_needs_its_support_filter_on_anvil_over_http(anvil_url, tmp_path,
                                                                                       network_spec) -> None:
    """A DP offer priced by network-newton: terms naming a spec without hyper.support are 422 with the
    fix; with it, the hub draws the DP release, prices it, and the buyer's replay of the delivered
    release gives the same price."""
    _dp_deal_replays(anvil_url, tmp_path, "network-newton", *network_spec(1.0),
                     refused=(*network_spec(0.0), "hyper={'support': 1.0}"))


def test_a_dp_deal_priced_by_network_retrain_replays_on_anvil_over_http(anvil_url, tmp_path, retrain_spec) -> None:
    """network-retrain retrains the buyer's network from scratch in the hub's own process; the buyer's
    replay in this one gives the same price (a fixed-step full-batch retraining, seeded)."""
    _dp_deal_replays(anvil_url, tmp_path, "network-retrain", *retrain_spec)


def test_a_spec_calibrated_for_a_dp_offer_on_anvil_is_priced_and_replays(anvil_url, tmp_path) -> None:
    """`spartacus spec calibrate --hub` reads the offer from a hub in its own process on anvil (its
    mechanism, epsilon and method), ships a network-retrain spec, and a deal priced with it replays."""
    import csv
    import warnings

    from client.cli import app
    from pricing import parse_spec

    own = ml_data(160, seed=7)
    with (tmp_path / "own.csv").open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["x0", "x1", "x2", "y"])
        w.writerows([[*map(float, r), int(v)] for r, v in zip(own["features"], own["label"])])
    (tmp_path / "buyer.py").write_text(
        "import warnings\nfrom sklearn.neural_network import MLPClassifier\n"
        "def make(x, y, seed=0):\n    with warnings.catch_warnings():\n        warnings.simplefilter('ignore')\n"
        "        return MLPClassifier((4,), max_iter=300, random_state=seed).fit(x, y)\n")

    def calibrated(api: str, buyer: str) -> bytes:
        out = tmp_path / "spec.bundle"
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = CliRunner().invoke(app, ["spec", "calibrate", "--train", str(tmp_path / "own.csv"), "--factory",
                                           f"{tmp_path / 'buyer.py'}:make", "--folds", "3", "--hub", api,
                                           "--offer", "dp-net", "--buyer", buyer, "--out", str(out)])
        assert res.exit_code == 0, res.output
        assert parse_spec(out.read_bytes()).method == "network-retrain"  # the offer's method
        return out.read_bytes()

    _dp_deal_replays(anvil_url, tmp_path, "network-retrain", calibrated)
