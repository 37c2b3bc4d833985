"""`spartacus buy`, `deals` and `withdraw` against a real hub over HTTP (uvicorn in a thread, its
watcher stepped whenever the buyer waits): a settled deal writes its release, a quote over the limit
ends rejected with exit 1, a buyer killed after the download carries on with `buy --resume`."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from client.accounts import AccountStore
from client.chain import State
from client.cli import app
from pricing import read_release
from tests.client.hubkit import Killed, account_of, live_hub
from tests.oracle.conftest import _cheap_scrypt, _hub_chain, buyer_spec, hub  # noqa: F401 - fixtures

PRICE = 10**17  # the fixture's fixed price


@pytest.fixture()
def wallet(hub, monkeypatch, accounts_dir: Path):
    """The fixture buyer's key in an encrypted keyfile `me`, the commands pointed at the hub's chain."""
    AccountStore(accounts_dir).import_key("me", account_of(hub, hub.buyer).key, "pw")
    monkeypatch.setenv("SPARTACUS_PASSPHRASE", "pw")
    monkeypatch.setattr("client.commands.connect_chain", lambda network: hub.w3)
    return hub


def _hook(monkeypatch, live, **kw) -> None:
    monkeypatch.setattr("client.commands.buyer.PROGRESS_HOOKS", [live.drive(**kw)])


def _deal_ids(hub) -> list[int]:
    return [a["dealId"] for n, a, _, _ in hub.ex.events() if n == "DealOpened" and a["buyer"] == hub.buyer]


def test_buy_settles_writes_the_release_then_deals_and_withdraw(wallet, tmp_path: Path, monkeypatch) -> None:
    hub = wallet
    state = tmp_path / "state"
    with live_hub(hub) as live:
        _hook(monkeypatch, live)
        res = CliRunner().invoke(app, ["buy", "--hub", live.url, "--dataset", "census", "--offer", "fixed-dp",
                                       "--budget", str(hub.ETHER), "--poll", "0", "--state-dir", str(state),
                                       "--release", str(tmp_path / "r.safetensors"), "--account", "me"])
    assert res.exit_code == 0, res.output
    (deal,) = _deal_ids(hub)
    assert hub.ex.state(deal) == State.SETTLED and f"settled at {PRICE}" in res.output
    assert read_release((tmp_path / "r.safetensors").read_bytes()).features.shape == hub.raw["features"].shape
    res = CliRunner().invoke(app, ["deals", "--account", "me", "--contract", hub.ex.address, "--state-dir", str(state)])
    assert res.exit_code == 0, res.output
    assert "SETTLED" in res.output and "ended / settled" in res.output and "0 still open" in res.output
    refund = hub.ex.credit(hub.buyer)
    assert refund == hub.ETHER - PRICE
    res = CliRunner().invoke(app, ["withdraw", "--account", "me", "--contract", hub.ex.address])
    assert res.exit_code == 0 and f"withdrew {refund}" in res.output, res.output
    assert hub.ex.credit(hub.buyer) == 0
    res = CliRunner().invoke(app, ["withdraw", "--account", "me", "--contract", hub.ex.address])
    assert res.exit_code == 1 and "no credit" in res.output


def test_buy_over_the_limit_ends_rejected_with_exit_1(wallet, tmp_path: Path, monkeypatch) -> None:
    hub = wallet
    with live_hub(hub) as live:
        _hook(monkeypatch, live)
        res = CliRunner().invoke(app, ["buy", "--hub", live.url, "--offer", "fixed-dp", "--budget", str(hub.ETHER),
                                       "--limit", str(PRICE - 1), "--poll", "0", "--state-dir", str(tmp_path / "s"),
                                       "--account", "me"])
    assert res.exit_code == 1 and "rejected" in res.output and "Traceback" not in res.output, res.output
    (deal,) = _deal_ids(hub)
    assert hub.ex.state(deal) == State.REFUNDED


def test_buy_killed_after_the_download_resumes_to_settled(wallet, tmp_path: Path, monkeypatch) -> None:
    hub = wallet
    state = tmp_path / "s"
    with live_hub(hub) as live:
        _hook(monkeypatch, live, kill_at="downloaded")
        with pytest.raises(Killed):
            CliRunner().invoke(app, ["buy", "--hub", live.url, "--dataset", "census", "--offer", "fixed-dp",
                                     "--budget", str(hub.ETHER), "--poll", "0", "--state-dir", str(state),
                                     "--account", "me"], catch_exceptions=False)
        (deal,) = _deal_ids(hub)
        assert hub.ex.state(deal) == State.QUOTED
        _hook(monkeypatch, live)
        res = CliRunner().invoke(app, ["buy", "--resume", "--contract", hub.ex.address, "--poll", "0",
                                       "--state-dir", str(state), "--account", "me"])
    assert res.exit_code == 0, res.output
    assert hub.ex.state(deal) == State.SETTLED and f"deal {deal}: settled" in res.output


def test_buy_without_a_budget_or_with_a_wrong_passphrase_is_one_line(wallet, monkeypatch) -> None:
    res = CliRunner().invoke(app, ["buy", "--hub", "http://127.0.0.1:9", "--account", "me"])
    assert res.exit_code == 1 and "--budget" in res.output
    monkeypatch.setenv("SPARTACUS_PASSPHRASE", "nope")
    res = CliRunner().invoke(app, ["buy", "--hub", "http://127.0.0.1:9", "--budget", "5", "--account", "me"])
    assert res.exit_code == 1 and "does not unlock account 'me'" in res.output and "Traceback" not in res.output


def test_buy_without_an_offer_lists_the_datasets_offers_and_opens_nothing(wallet, tmp_path: Path, monkeypatch) -> None:
    hub = wallet
    with live_hub(hub) as live:
        _hook(monkeypatch, live)
        res = CliRunner().invoke(app, ["buy", "--hub", live.url, "--dataset", "census", "--budget", str(hub.ETHER),
                                       "--poll", "0", "--state-dir", str(tmp_path / "s"), "--account", "me"])
        assert res.exit_code == 1 and "pick one with --offer" in res.output, res.output
        assert all(o in res.output for o in ("fixed-dp", "mde-dp", "fixed-dp-big"))
        assert _deal_ids(hub) == []  # nothing opened, nothing locked
        res = CliRunner().invoke(app, ["buy", "--hub", live.url, "--dataset", "census-exact", "--budget", str(hub.ETHER),
                                       "--poll", "0", "--state-dir", str(tmp_path / "s"), "--account", "me"])
    # census-exact has two buyer-only offers (MDE and fixed): still a choice to make
    assert res.exit_code == 1 and "mde-exact" in res.output and "fixed-exact" in res.output, res.output


def test_an_mde_offer_without_a_spec_names_the_option_and_opens_nothing(wallet, tmp_path: Path) -> None:
    hub = wallet
    with live_hub(hub) as live:
        res = CliRunner().invoke(app, ["buy", "--hub", live.url, "--dataset", "census", "--offer", "mde-dp",
                                       "--budget", str(hub.ETHER), "--state-dir", str(tmp_path / "s"), "--account", "me"])
    said = " ".join(res.output.split())
    assert res.exit_code == 1 and "pass it (--spec FILE, or spec= in Python)" in said and "spec calibrate" in said
    assert _deal_ids(hub) == []


def test_buy_pays_a_token_only_offer_in_its_token_and_deals_shows_that_credit(wallet, tmp_path: Path,
                                                                              monkeypatch) -> None:
    """An offer listing one ERC-20 and not ETH: `buy` had no way to name a token, so its terms said ETH
    and the hub refused them (422). It now pays in the offer's only token (or `--token`), approving it."""
    from client.chain.exchange import deploy_contract, send_call
    from oracle.pipeline import QuotePipeline
    from oracle.store import OfferRecord
    from oracle.watcher import Watcher

    hub = wallet
    token = deploy_contract(hub.w3, "TestToken", sender=hub.deployer)
    send_call(hub.w3, token.functions.mint(hub.buyer, hub.ETHER), hub.deployer)
    dp = hub.offers["fixed-dp"]
    hub.store.put_offer(OfferRecord("dp-token", dp.dataset_id, None, dp.release, dp.pricing, (token.address,), 0))
    state = tmp_path / "state"
    base = ["buy", "--hub", None, "--offer", "dp-token", "--budget", str(hub.ETHER // 2), "--poll", "0",
            "--state-dir", str(state), "--account", "me"]
    with live_hub(hub) as live:
        live.watcher = Watcher(hub.ctx, QuotePipeline(hub.ctx, signer=hub.oracle, tokens=[token.address]),
                               start_block=0)
        _hook(monkeypatch, live)
        base[2] = live.url
        wrong = CliRunner().invoke(app, [*base, "--token", "ETH"])
        res = CliRunner().invoke(app, base)
    assert wrong.exit_code == 1 and f"takes {token.address}, not ETH" in wrong.output
    assert res.exit_code == 0, res.output
    (deal,) = _deal_ids(hub)
    assert hub.ex.state(deal) == State.SETTLED and hub.ex.credit(hub.seller, token.address) == PRICE
    res = CliRunner().invoke(app, ["deals", "--account", "me", "--contract", hub.ex.address, "--state-dir", str(state)])
    assert res.exit_code == 0 and f"{hub.ETHER // 2 - PRICE} of {token.address}" in res.output, res.output


def test_deals_and_withdraw_find_the_exchange_in_the_buyers_records(wallet, tmp_path: Path, monkeypatch) -> None:
    """`buy` learns the contract from the hub; `deals` and `withdraw` asked for --contract every time. They
    now take the one exchange this account's records name (and still refuse to guess without records)."""
    hub = wallet
    state = tmp_path / "state"
    with live_hub(hub) as live:
        _hook(monkeypatch, live)
        res = CliRunner().invoke(app, ["buy", "--hub", live.url, "--offer", "fixed-dp", "--budget", str(hub.ETHER),
                                       "--poll", "0", "--state-dir", str(state), "--account", "me"])
    assert res.exit_code == 0, res.output
    monkeypatch.delenv("SPARTACUS_CONTRACT", raising=False)
    res = CliRunner().invoke(app, ["deals", "--account", "me", "--state-dir", str(state)])
    assert res.exit_code == 0 and "SETTLED" in res.output, res.output
    res = CliRunner().invoke(app, ["withdraw", "--account", "me", "--state-dir", str(state), "--token", "ETH"])
    assert res.exit_code == 0 and f"withdrew {hub.ETHER - PRICE}" in res.output, res.output
    res = CliRunner().invoke(app, ["withdraw", "--account", "me", "--state-dir", str(tmp_path / "empty")])
    assert res.exit_code == 1 and "--contract" in res.output and "browse" in res.output


def test_buy_refuses_an_exchange_a_hub_names_that_is_not_this_builds_code(wallet, tmp_path: Path, monkeypatch) -> None:
    """A hostile hub's /v1/info named a contract of its own (same ABI, other code: its openDeal forwarded
    the deposit) and `buy` without --contract locked the budget there. It now checks the code first."""
    import dataclasses

    from client.chain.exchange import deploy_contract
    from client.hub_client import HubClient

    hub = wallet
    fake = deploy_contract(hub.w3, "StraightforwardExchange", 60, 60, 60, 60, sender=hub.deployer)
    real_info = HubClient.info

    def lying_info(self, *, refresh: bool = False):
        return dataclasses.replace(real_info(self, refresh=refresh), contract=fake.address)

    monkeypatch.setattr(HubClient, "info", lying_info)
    before = hub.w3.eth.get_balance(hub.buyer)
    with live_hub(hub) as live:
        res = CliRunner().invoke(app, ["buy", "--hub", live.url, "--offer", "fixed-dp", "--budget", str(hub.ETHER),
                                       "--poll", "0", "--state-dir", str(tmp_path / "s"), "--account", "me"])
    assert res.exit_code == 1 and "is not a DataExchange this wallet can trust" in res.output, res.output
    assert hub.w3.eth.get_balance(hub.buyer) == before and hub.w3.eth.get_balance(fake.address) == 0
