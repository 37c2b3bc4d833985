"""The same contract and client against a real node: anvil from node_modules, on 127.0.0.1."""

from __future__ import annotations

import io
import socket
import subprocess
import time
from pathlib import Path

import pytest

from client.chain import Exchange, State, advance_time, connect
from client.chain.errors import DealWrongState, KeyMismatch
from client.delivery import decrypt_and_check, encode_bytes, verify_download

ANVIL = Path(__file__).resolve().parents[2] / "node_modules" / ".bin" / "anvil"

pytestmark = pytest.mark.anvil


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def anvil_url():
    if not ANVIL.exists():
        pytest.fail(f"anvil not installed at {ANVIL}: run `make build` (npm install) first")
    port = _free_port()
    proc = subprocess.Popen([str(ANVIL), "--host", "127.0.0.1", "--port", str(port), "--hardfork", "prague", "--silent"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"anvil did not start: {proc.stderr.read().decode() if proc.stderr else ''}")
                time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


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


def test_cli_audit_replays_a_deal_on_anvil(anvil_url):
    from typer.testing import CliRunner

    from client.cli import app

    w3 = connect(url=anvil_url)
    deployer, seller, oracle, buyer = w3.eth.accounts[4:8]
    ex = Exchange.deploy(w3, sender=deployer)
    ex.register_seller(oracle, sender=seller)
    ex.register_dataset(b"\x77" * 32, 3000, sender=seller)
    deal, _ = ex.open_deal(seller, b"\x77" * 32, b"\x88" * 32, 10**18, 0, sender=buyer)
    ex.decline(deal, sender=seller)
    result = CliRunner().invoke(app, ["audit", "--address", ex.address, "--url", anvil_url])
    assert result.exit_code == 0, result.output
    assert "1 deals from" in result.output and "REFUNDED" in result.output
    assert "matches the chain" in result.output
