"""The same contract and client against a real node: anvil from node_modules, on 127.0.0.1."""

from __future__ import annotations

import io
import json

import pytest

from client.chain import Exchange, State, advance_time, connect
from client.chain.errors import DealWrongState, KeyMismatch
from client.delivery import decrypt_and_check, encode_bytes, verify_download
from tests.anvil import running_anvil

pytestmark = pytest.mark.anvil


@pytest.fixture(scope="module")
def anvil_url():
    with running_anvil() as url:
        yield url


def test_honest_deal_settles_on_anvil_and_reverts_decode(anvil_url):
    w3 = connect(url=anvil_url)
    deployer, seller, oracle, buyer = w3.eth.accounts[:4]
    ex = Exchange.deploy(w3, sender=deployer, dispute_window=600)
    ex.register_seller(oracle, sender=seller)
    dataset = b"\x55" * 32
    ex.register_dataset(dataset, 3000, sender=seller)
    data = bytes(range(256)) * 20
    key = b"\x07" * 32
    cipher, leaves, commitment = encode_bytes(data, key)
    deal, _ = ex.open_deal(seller, dataset, b"\x66" * 32, 10**18, 10**16, sender=buyer)
    ex.post_quote(deal, 5 * 10**17, 1500, commitment, sender=oracle)
    verify_download(io.BytesIO(cipher), io.BytesIO(leaves), commitment)
    ex.accept(deal, sender=buyer)
    with pytest.raises(KeyMismatch):
        ex.reveal_key(deal, b"\x08" * 32, sender=oracle)
    ex.reveal_key(deal, key, sender=oracle)
    out = io.BytesIO()
    assert decrypt_and_check(io.BytesIO(cipher), io.BytesIO(leaves), key, commitment, out).ok
    assert out.getvalue() == data
    with pytest.raises(DealWrongState):
        ex.accept(deal, sender=buyer)
    advance_time(w3, 600)
    ex.finalize(deal, sender=deployer)
    assert ex.state(deal) == State.SETTLED
    assert ex.credit(seller) == 5 * 10**17 and ex.epsilon_spent(seller, dataset) == 1500
    before = w3.eth.get_balance(ex.address)
    ex.withdraw(sender=seller)
    assert before - w3.eth.get_balance(ex.address) == 5 * 10**17


def test_cli_audit_replays_a_deal_on_anvil(anvil_url, tmp_path):
    from typer.testing import CliRunner

    from client.cli import app

    w3 = connect(url=anvil_url)
    deployer, seller, oracle, buyer = w3.eth.accounts[4:8]
    ex = Exchange.deploy(w3, sender=deployer)
    ex.register_seller(oracle, sender=seller)
    ex.register_dataset(b"\x77" * 32, 3000, sender=seller)
    deal, _ = ex.open_deal(seller, b"\x77" * 32, b"\x88" * 32, 10**18, 0, sender=buyer)
    ex.decline(deal, sender=seller)
    out = tmp_path / "audit"  # never the default, ~/.spartacus/audit: a test writes under tmp only
    result = CliRunner().invoke(app, ["audit", "--address", ex.address, "--url", anvil_url, "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads((out / "audit.json").read_text())["deals"][0]["deal"] == deal
    assert "1 deals from" in result.output and "REFUNDED" in result.output
    assert "matches the chain" in result.output


def test_wallet_commands_take_a_node_url_as_network(anvil_url, tmp_path, monkeypatch):
    """`--network http://…` reaches a node on any port, not only the ones brownie-config.yaml names:
    a buyer's `deals` and `withdraw` read and pay out on anvil at a free port."""
    from eth_account import Account
    from typer.testing import CliRunner

    from client.cli import app

    monkeypatch.setenv("SPARTACUS_ACCOUNTS_DIR", str(tmp_path / "accounts"))
    monkeypatch.setenv("SPARTACUS_PASSPHRASE", "pw")
    monkeypatch.setattr("client.accounts.SCRYPT_N", 2**10)
    w3 = connect(url=anvil_url)
    deployer, seller, oracle = w3.eth.accounts[7:10]
    buyer = Account.create()
    w3.eth.send_transaction({"from": deployer, "to": buyer.address, "value": 10**18})
    ex = Exchange.deploy(w3, sender=deployer)
    ex.register_seller(oracle, sender=seller)
    ex.register_dataset(b"\x99" * 32, 3000, sender=seller)
    runner = CliRunner()
    assert runner.invoke(app, ["accounts", "import", "b"], input=buyer.key.hex() + "\n").exit_code == 0
    deal, _ = ex.open_deal(seller, b"\x99" * 32, b"\xaa" * 32, 10**17, 0, sender=buyer)
    ex.decline(deal, sender=seller)
    common = ["--account", "b", "--network", anvil_url, "--contract", ex.address]
    result = runner.invoke(app, ["deals", *common])
    assert result.exit_code == 0, result.output
    assert "REFUNDED" in result.output and f"credit {10**17} wei" in result.output
    result = runner.invoke(app, ["withdraw", *common])
    assert result.exit_code == 0, result.output
    assert ex.credit(buyer.address) == 0
