"""Fixtures for contract tests: one embedded chain per module, rolled back after each test."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from web3 import Web3

from client.chain import Exchange, connect
from client.chain.exchange import deploy_contract

QUOTE_WINDOW = 3600
ACCEPT_WINDOW = 1800
REVEAL_WINDOW = 900
DISPUTE_WINDOW = 86400
DATASET = b"\x11" * 32
CAP_MILLI = 5000
ETHER = 10**18


@dataclass
class Actors:
    """Named accounts on the embedded chain."""

    deployer: str
    seller: str
    oracle: str
    buyer: str
    stranger: str
    buyer2: str


@dataclass
class Env:
    """A deployed exchange with a registered seller and dataset (cap 5 epsilon)."""

    w3: Web3
    ex: Exchange
    who: Actors

    def balance(self, token: str | None = None) -> int:
        """The exchange contract's balance in ETH (token None) or an ERC-20."""
        if token is None:
            return self.w3.eth.get_balance(self.ex.address)
        erc20 = self.w3.eth.contract(address=token, abi=[{
            "name": "balanceOf", "type": "function", "stateMutability": "view",
            "inputs": [{"name": "a", "type": "address"}], "outputs": [{"name": "", "type": "uint256"}]}])
        return erc20.functions.balanceOf(self.ex.address).call()


@pytest.fixture(scope="module")
def _module_env() -> Env:
    w3 = connect("embedded")
    a = w3.eth.accounts
    who = Actors(deployer=a[0], seller=a[1], oracle=a[2], buyer=a[3], stranger=a[4], buyer2=a[5])
    ex = Exchange.deploy(
        w3, sender=who.deployer, quote_window=QUOTE_WINDOW, accept_window=ACCEPT_WINDOW,
        reveal_window=REVEAL_WINDOW, dispute_window=DISPUTE_WINDOW,
    )
    ex.register_seller(who.oracle, sender=who.seller)
    ex.register_dataset(DATASET, CAP_MILLI, sender=who.seller)
    return Env(w3, ex, who)


@pytest.fixture()
def env(_module_env: Env) -> Env:
    """The module's chain, reverted to its state before the test when the test ends."""
    tester = _module_env.w3.provider.ethereum_tester
    snapshot = tester.take_snapshot()
    yield _module_env
    tester.revert_to_snapshot(snapshot)


@pytest.fixture()
def token(env: Env):
    """A plain ERC-20 with 1,000 tokens minted to the buyer and approved for the exchange."""
    t = deploy_contract(env.w3, "TestToken", sender=env.who.deployer)
    t.functions.mint(env.who.buyer, 1000 * ETHER).transact({"from": env.who.deployer})
    t.functions.approve(env.ex.address, 2**256 - 1).transact({"from": env.who.buyer})
    return t
