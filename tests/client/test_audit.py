"""client/audit.py: the events alone rebuild every deal, credit, ledger and used pair the contract
holds (rule 9), every announced deadline is block time + the contract's window, and a doctored
event list is refused with the rule it breaks named."""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any, Callable

import pytest

from client.audit import AuditError, check_against_chain, replay, replay_chain
from client.chain import State, Windows, advance_time
from client.chain.exchange import EXACT
from client.delivery import build_complaint
from tests.contracts.conftest import _module_env, env, token  # noqa: F401 - the chain fixtures
from tests.contracts.conftest import ACCEPT_WINDOW, DATASET, QUOTE_WINDOW, Env
from tests.contracts.helpers import MAX_PRICE, PRICE, QUOTE_FEE, open_deal, quote, revealed_deal, terms
from tests.contracts.test_complaints import cheating_encoding, deal_on

ETH = "0x" + "0" * 40


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
    live = open_deal(env, label="live")
    advance_time(env.w3, QUOTE_WINDOW)
    env.ex.refund(lapsed, sender=env.who.stranger)
    env.ex.withdraw(sender=env.who.seller)

    report = replay_chain(env.ex)
    check_against_chain(report, env.ex)
    assert report.windows == env.ex.windows()
    states = {d: report.deals[d].state for d in (settled, declined, rejected, lapsed, cheated, live)}
    assert states == {settled: State.SETTLED, declined: State.REFUNDED, rejected: State.REFUNDED,
                      lapsed: State.REFUNDED, cheated: State.REFUNDED, live: State.OPEN}
    assert report.deals[live].deadline == env.ex.deadline(live) > 0
    assert report.deals[settled].key == key and report.deals[settled].price == PRICE
    assert report.deals[cheated].complaint_index == 1
    assert report.spent[(env.who.seller, DATASET)] == 1000 + 700 + 1000
    assert report.credits[(env.who.seller, token.address)] == QUOTE_FEE
    # the pairs become used at their quote; declined, lapsed and live deals never were
    assert report.used == {report.deals[d].pair: d for d in (settled, rejected, cheated)}
    assert all(v == 0 for d, v in report.locked.items() if d != ETH) and report.locked[ETH] == MAX_PRICE
    assert env.balance() == MAX_PRICE + sum(v for (acct, tok), v in report.credits.items() if tok == ETH)


def test_replay_knows_a_pair_is_used_from_its_quote_not_its_open(env):
    copy, _ = env.ex.open_deal(env.who.seller, DATASET, terms("pair"), 1, 0, sender=env.who.stranger)
    env.ex.decline(copy, sender=env.who.oracle)
    assert replay_chain(env.ex).used == {}
    mine = open_deal(env, label="pair")  # re-opening an unquoted pair is fine
    quote(env, mine)
    report = replay_chain(env.ex)
    check_against_chain(report, env.ex)
    assert report.used == {(env.who.seller, DATASET, terms("pair")): mine}


def test_replay_follows_the_exact_ledger_as_it_saturates_just_below_exact(env):
    """On an EXACT dataset epsilon quotes add up but stop at EXACT - 1 (EXACT itself marks an
    exact release): the replay's saturation branch against the contract's ledger."""
    exact = b"\x66" * 32
    env.ex.register_dataset(exact, EXACT, sender=env.who.seller)
    for label, epsilon in (("big", EXACT - 2), ("tips", 5), ("more", 1)):
        quote(env, open_deal(env, label=label, dataset=exact), epsilon_milli=epsilon)
        report = replay_chain(env.ex)
        check_against_chain(report, env.ex)
        assert report.spent[(env.who.seller, exact)] == env.ex.epsilon_spent(env.who.seller, exact) == EXACT - 1 - (
            epsilon == EXACT - 2)
    quote(env, open_deal(env, label="exact", dataset=exact), epsilon_milli=EXACT)
    report = replay_chain(env.ex)
    check_against_chain(report, env.ex)
    assert report.spent[(env.who.seller, exact)] == EXACT


def test_replay_without_windows_checks_no_deadline_but_everything_else(env):
    deal = open_deal(env)
    events = env.ex.events()
    events[-1][1]["quoteDeadline"] += 1
    assert replay(events).deals[deal].deadline == events[-1][1]["quoteDeadline"]  # nothing to compare with
    with pytest.raises(AuditError) as err:
        replay_chain(env.ex, events)
    assert err.value.rule == "windows"


def test_check_against_chain_notices_a_missing_event(env):
    deal = open_deal(env)
    quote(env, deal)
    events = [e for e in env.ex.events() if e[0] != "Quoted"]
    with pytest.raises(AuditError, match="events say OPEN, the contract says QUOTED") as err:
        check_against_chain(replay(events), env.ex)
    assert err.value.rule == "chain"


def test_views_are_compared_at_the_block_replayed_to_not_after_others_moved_on(env):
    """Events read up to block N, then someone withdraws in block N+1: the views at N agree with the
    replay, the latest views do not (an audit on a busy chain reported a broken credit)."""
    deal = open_deal(env)
    env.ex.decline(deal, sender=env.who.seller)
    last = int(env.w3.eth.block_number)
    report = replay(env.ex.events(0, last), windows=env.ex.windows())
    env.ex.withdraw(sender=env.who.buyer)  # another party, after the audit read its events
    check_against_chain(report, env.ex.at_block(last))
    with pytest.raises(AuditError, match="credit of"):
        check_against_chain(report, env.ex)


# ---------------------------------------------------------------- doctored event lists


@dataclass
class History:
    """An honest history of every ending, its events, block timestamps, windows and deal ids."""

    events: list[tuple[str, dict[str, Any], int, int]]
    timestamps: dict[int, int]
    windows: Windows
    deals: dict[str, int]
    seller: str

    def copy(self) -> tuple[list, dict[int, int]]:
        return [(n, dict(a), b, i) for n, a, b, i in self.events], dict(self.timestamps)


@pytest.fixture(scope="module")
def history(_module_env: Env) -> History:
    env = _module_env
    tester = env.w3.provider.ethereum_tester
    snapshot = tester.take_snapshot()
    try:
        deals = {}
        deals["settled"], *_ = revealed_deal(env, label="settled")
        env.ex.confirm(deals["settled"], sender=env.who.buyer)
        deals["copy"], _ = env.ex.open_deal(env.who.seller, DATASET, terms("pair"), 1, 0, sender=env.who.stranger)
        env.ex.decline(deals["copy"], sender=env.who.oracle)
        deals["victim"] = open_deal(env, label="pair")
        quote(env, deals["victim"], epsilon_milli=500)
        env.ex.reject(deals["victim"], sender=env.who.buyer)
        ckey, cipher, leaves, commitment = cheating_encoding(3000, 1)
        deals["cheated"] = deal_on(env, ckey, commitment, label="cheated")
        env.ex.complain(deals["cheated"], build_complaint(io.BytesIO(cipher), io.BytesIO(leaves), 1, commitment),
                        sender=env.who.buyer)
        deals["lapsed"] = open_deal(env, label="lapsed")
        quote(env, deals["lapsed"], epsilon_milli=100)
        advance_time(env.w3, ACCEPT_WINDOW)
        env.ex.refund(deals["lapsed"], sender=env.who.stranger)
        env.ex.withdraw(sender=env.who.seller)
        events = env.ex.events()
        timestamps = {b: int(env.w3.eth.get_block(b)["timestamp"]) for b in {e[2] for e in events}}
        history = History(events, timestamps, env.ex.windows(), deals, env.who.seller)
    finally:
        tester.revert_to_snapshot(snapshot)
    return history


def _at(events: list, name: str, deal: int | None = None) -> int:
    """Index of the first event `name` (of deal `deal`)."""
    return next(i for i, (n, a, _, _) in enumerate(events) if n == name and (deal is None or a.get("dealId") == deal))


def _set(events: list, name: str, deal: int | None, **changes: Any) -> None:
    events[_at(events, name, deal)][1].update(changes)


def _retime(events: list, timestamps: dict, name: str, deal: int, at: Callable[[dict], int]) -> None:
    """Move the block of event `name` of `deal` to time `at(args)`."""
    i = _at(events, name, deal)
    timestamps[events[i][2]] = at(events[i][1])


def _deadline(events: list, name: str, deal: int, arg: str) -> int:
    return events[_at(events, name, deal)][1][arg]


# Each doctoring breaks one rule of an honest history; the replay must name that rule.
def _open_fee_over_max(h, ev, ts):
    _set(ev, "DealOpened", h.deals["settled"], quoteFee=MAX_PRICE + 1)


def _open_unregistered_dataset(h, ev, ts):
    _set(ev, "DealOpened", h.deals["settled"], datasetId=b"\x99" * 32)


def _reopen_quoted_pair(h, ev, ts):
    victim = ev[_at(ev, "DealOpened", h.deals["victim"])]
    block = max(ts) + 1
    ts[block] = max(ts.values()) + 10
    next_id = sum(1 for e in ev if e[0] == "DealOpened") + 1
    ev.append(("DealOpened", dict(victim[1], dealId=next_id, quoteDeadline=ts[block] + h.windows.quote), block, 0))


def _quote_pair_twice(h, ev, ts):
    # the copy is quoted right after the victim's quote: it should have been TermsAlreadyQuoted
    copy, victim = h.deals["copy"], h.deals["victim"]
    declined = _at(ev, "Declined", copy)
    del ev[declined:declined + 2]  # the copy stays open
    quoted = ev[_at(ev, "Quoted", victim)]
    at = _at(ev, "Quoted", victim) + 1
    ev.insert(at, ("Quoted", dict(quoted[1], dealId=copy, price=1), quoted[2], quoted[3] + 1))


def _quote_price_over_max(h, ev, ts):
    _set(ev, "Quoted", h.deals["settled"], price=MAX_PRICE + 1)


def _quote_zero_epsilon(h, ev, ts):
    _set(ev, "Quoted", h.deals["settled"], epsilonMilli=0)


def _quote_over_budget(h, ev, ts):
    _set(ev, "Quoted", h.deals["victim"], epsilonMilli=5000)


def _quote_exact_on_capped(h, ev, ts):
    _set(ev, "Quoted", h.deals["settled"], epsilonMilli=EXACT)


def _quote_late(h, ev, ts):
    _retime(ev, ts, "Quoted", h.deals["settled"], lambda a: _deadline(ev, "DealOpened", h.deals["settled"], "quoteDeadline"))


def _accept_late(h, ev, ts):
    _retime(ev, ts, "Accepted", h.deals["settled"], lambda a: _deadline(ev, "Quoted", h.deals["settled"], "acceptDeadline"))


def _reject_split_wrong(h, ev, ts):
    _set(ev, "Refunded", h.deals["victim"], toBuyer=MAX_PRICE, toSeller=0)


def _reveal_wrong_key(h, ev, ts):
    _set(ev, "KeyRevealed", h.deals["settled"], key=b"\x00" * 32)


def _reveal_late(h, ev, ts):
    _retime(ev, ts, "KeyRevealed", h.deals["settled"],
            lambda a: _deadline(ev, "Accepted", h.deals["settled"], "revealDeadline") + 5)


def _complain_late(h, ev, ts):
    _retime(ev, ts, "Complained", h.deals["cheated"],
            lambda a: _deadline(ev, "KeyRevealed", h.deals["cheated"], "disputeDeadline"))


def _complaint_refund_partial(h, ev, ts):
    _set(ev, "Refunded", h.deals["cheated"], toBuyer=MAX_PRICE - QUOTE_FEE, toSeller=QUOTE_FEE)


def _settle_other_price(h, ev, ts):
    _set(ev, "Settled", h.deals["settled"], price=PRICE + 1, refund=MAX_PRICE - PRICE - 1)


def _refund_before_deadline(h, ev, ts):
    _retime(ev, ts, "Refunded", h.deals["lapsed"], lambda a: _deadline(ev, "Quoted", h.deals["lapsed"], "acceptDeadline") - 1)


def _withdraw_more(h, ev, ts):
    ev[_at(ev, "Withdrawn")][1]["amount"] += 1


def _decline_without_refund(h, ev, ts):
    del ev[_at(ev, "Refunded", h.deals["copy"])]


def _announce_other_deadline(h, ev, ts):
    _set(ev, "KeyRevealed", h.deals["settled"], disputeDeadline=_deadline(ev, "KeyRevealed", h.deals["settled"],
                                                                            "disputeDeadline") + 2**40)


def _settle_while_open(h, ev, ts):
    quoted = _at(ev, "Quoted", h.deals["settled"])
    ev.insert(quoted, ("Settled", {"dealId": h.deals["settled"], "price": 1, "refund": MAX_PRICE - 1}, ev[quoted][2], 0))


def _raise_cap(h, ev, ts):
    first = ev[_at(ev, "DatasetRegistered")]
    ev.insert(_at(ev, "DealOpened"), ("DatasetRegistered", dict(first[1], epsilonCapMilli=first[1]["epsilonCapMilli"] + 1),
                                      first[2], first[3] + 1))


DOCTORED = {
    "rule 1": [_open_fee_over_max, _open_unregistered_dataset],
    "rule 2": [_reopen_quoted_pair, _quote_pair_twice],
    "rule 3": [_quote_price_over_max, _quote_zero_epsilon, _quote_over_budget, _quote_exact_on_capped, _quote_late],
    "rule 4": [_accept_late, _reject_split_wrong],
    "rule 5": [_reveal_wrong_key, _reveal_late],
    "rule 6": [_complain_late, _complaint_refund_partial],
    "rule 7": [_settle_other_price, _refund_before_deadline],
    "rule 8": [_withdraw_more],
    "rule 9": [_decline_without_refund],
    "windows": [_announce_other_deadline],
    "transition": [_settle_while_open],
    "datasets": [_raise_cap],
}
CASES = [(rule, fn) for rule, fns in DOCTORED.items() for fn in fns]


def test_the_honest_history_replays_cleanly(history):
    events, timestamps = history.copy()
    report = replay(events, windows=history.windows, timestamps=timestamps)
    assert len(report.deals) == 5 and set(report.used.values()) == {history.deals[d] for d in ("settled", "victim", "cheated",
                                                                                                  "lapsed")}


@pytest.mark.parametrize(("rule", "doctor"), CASES, ids=[f"{r}-{fn.__name__.strip('_')}" for r, fn in CASES])
def test_a_doctored_history_is_refused_naming_the_broken_rule(history, rule, doctor):
    events, timestamps = history.copy()
    doctor(history, events, timestamps)
    with pytest.raises(AuditError) as err:
        replay(events, windows=history.windows, timestamps=timestamps)
    assert err.value.rule == rule, str(err.value)
    assert str(err.value).startswith(f"{rule}: ")
