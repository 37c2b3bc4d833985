"""Rule 9: the events alone rebuild every deal, credit and ledger the contract holds."""

from __future__ import annotations

import io

import pytest

from client.audit import AuditError, check_against_chain, replay
from client.chain import State, advance_time
from client.delivery import build_complaint
from tests.contracts.conftest import DATASET, QUOTE_WINDOW
from tests.contracts.helpers import MAX_PRICE, PRICE, QUOTE_FEE, open_deal, quote, revealed_deal
from tests.contracts.test_complaints import cheating_encoding, deal_on


def test_events_rebuild_every_ending_and_match_the_chain(env, token):
    settled, key, *_ = revealed_deal(env, label="settled")
    env.ex.confirm(settled, sender=env.who.buyer)
    declined = open_deal(env, label="declined")
    env.ex.decline(declined, sender=env.who.seller)
    rejected = open_deal(env, label="rejected", token=token.address)
    quote(env, rejected, epsilon_milli=700)
    env.ex.reject(rejected, sender=env.who.buyer)
    lapsed = open_deal(env, label="lapsed")
    ckey, cipher, leaves, commitment = cheating_encoding(3000, 1)
    cheated = deal_on(env, ckey, commitment, label="cheated")
    env.ex.complain(cheated, build_complaint(io.BytesIO(cipher), io.BytesIO(leaves), 1, commitment), sender=env.who.buyer)
    advance_time(env.w3, QUOTE_WINDOW)
    env.ex.refund(lapsed, sender=env.who.stranger)
    env.ex.withdraw(sender=env.who.seller)

    report = replay(env.ex.events())
    check_against_chain(report, env.ex)
    states = {d: report.deals[d].state for d in (settled, declined, rejected, lapsed, cheated)}
    assert states == {settled: State.SETTLED, declined: State.REFUNDED, rejected: State.REFUNDED,
                      lapsed: State.REFUNDED, cheated: State.REFUNDED}
    assert report.deals[settled].key == key and report.deals[settled].price == PRICE
    assert report.deals[cheated].complaint_index == 1
    assert report.spent[(env.who.seller, DATASET)] == 1000 + 700 + 1000
    assert report.credits[(env.who.seller, token.address)] == QUOTE_FEE
    assert all(v == 0 for v in report.locked.values())
    assert env.balance() == sum(v for (acct, tok), v in report.credits.items() if tok == "0x" + "0" * 40)


def test_replay_rejects_an_impossible_sequence(env):
    deal = open_deal(env)
    events = env.ex.events()
    forged = events + [("Settled", {"dealId": deal, "price": 1, "refund": MAX_PRICE - 1}, 0, 0)]
    with pytest.raises(AuditError, match="Settled on deal 1 in state OPEN"):
        replay(forged)


def test_check_against_chain_notices_a_missing_event(env):
    deal = open_deal(env)
    quote(env, deal)
    events = [e for e in env.ex.events() if e[0] != "Quoted"]
    with pytest.raises(AuditError, match="events say OPEN, the contract says QUOTED"):
        check_against_chain(replay(events), env.ex)
