"""The hub's PrivacyLedger and the contract's epsilonSpent agree on every charge and refusal."""

from __future__ import annotations

import secrets

from hypothesis import given, settings
from hypothesis import strategies as st

from client.chain import Exchange, connect
from client.chain.errors import BudgetExceeded as ChainBudgetExceeded
from client.chain.errors import CapRaised, ExactReleaseNotAllowed
from client.chain.exchange import EXACT
from client.delivery import encode_bytes
from privacy import BudgetExceeded, PrivacyLedger
from privacy import CapRaised as LedgerCapRaised

COMMITMENT = encode_bytes(b"release", b"\x01" * 32)[2]

step = st.one_of(
    st.tuples(st.just("quote"), st.one_of(st.integers(1, 3000), st.just(EXACT))),
    st.tuples(st.just("cap"), st.one_of(st.integers(1, 6000), st.just(EXACT))),
)


@settings(max_examples=25, deadline=None)
@given(cap=st.one_of(st.integers(1, 6000), st.just(EXACT)), steps=st.lists(step, min_size=1, max_size=8))
def test_ledger_and_contract_agree_on_every_charge(cap, steps):
    w3 = connect("embedded")
    deployer, seller, oracle, buyer = w3.eth.accounts[:4]
    ex = Exchange.deploy(w3, sender=deployer, gas_limit=3_000_000)
    ex.register_seller(oracle, sender=seller)
    dataset = b"\x99" * 32
    ex.register_dataset(dataset, cap, sender=seller)
    ledger = PrivacyLedger(cap_milli=cap)
    for kind, value in steps:
        if kind == "cap":
            try:
                ex.register_dataset(dataset, value, sender=seller)
                chain_ok = True
            except CapRaised:
                chain_ok = False
            try:
                ledger.sync(ex.epsilon_spent(seller, dataset), chain_cap_milli=value)
                hub_ok = True
            except LedgerCapRaised:
                hub_ok = False
            assert chain_ok == hub_ok, f"cap {value}: chain {'took' if chain_ok else 'refused'} it, the ledger did not"
            continue
        deal, _ = ex.open_deal(seller, dataset, secrets.token_bytes(32), 10**18, 0, sender=buyer)
        try:
            ledger.charge(value)
            hub_ok = True
        except BudgetExceeded:
            hub_ok = False
        try:
            ex.post_quote(deal, 1, value, COMMITMENT, sender=oracle)
            chain_ok = True
        except (ChainBudgetExceeded, ExactReleaseNotAllowed):
            chain_ok = False
        assert hub_ok == chain_ok, f"quote of {value} milli: ledger {hub_ok}, contract {chain_ok}"
        assert ledger.spent_milli == ex.epsilon_spent(seller, dataset)
