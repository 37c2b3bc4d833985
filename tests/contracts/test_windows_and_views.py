"""Windows are bounded (0 < w <= 2**32) and readable; `deadline()` and `oracleOf()` tell a
wallet what it would otherwise rebuild from events (protocol change 2)."""

from __future__ import annotations

import pytest

from client.chain import Exchange, State, Windows, advance_time, chain_time
from client.chain.errors import WindowOutOfRange
from client.chain.exchange import ETH, MAX_WINDOW
from tests.contracts.conftest import ACCEPT_WINDOW, DISPUTE_WINDOW, QUOTE_WINDOW, REVEAL_WINDOW
from tests.contracts.helpers import open_deal, quoted_deal, release, revealed_deal

PHASES = ("quote_window", "accept_window", "reveal_window", "dispute_window")


@pytest.mark.parametrize("window", [0, MAX_WINDOW + 1, 2**40, 2**64 - 1])
@pytest.mark.parametrize("which", range(4))
def test_constructor_refuses_a_window_out_of_range(env, which, window):
    windows = dict.fromkeys(PHASES, 3600) | {PHASES[which]: window}
    with pytest.raises(WindowOutOfRange) as err:
        Exchange.deploy(env.w3, sender=env.who.deployer, **windows)
    assert (err.value.which, err.value.window, err.value.maxWindow) == (which, window, MAX_WINDOW)


@pytest.mark.parametrize("window", [1, MAX_WINDOW])
def test_windows_at_the_bounds_deploy_and_announce_deadlines_storage_keeps(env, window):
    """The longest window still gives deadlines that the 40-bit storage holds: the deadline an
    event announces is the one the contract enforces (a dispute window of 2**40 broke that)."""
    ex = Exchange.deploy(env.w3, sender=env.who.deployer, quote_window=window, accept_window=window,
                         reveal_window=window, dispute_window=window)
    assert ex.windows() == Windows(window, window, window, window)
    ex.register_seller(env.who.oracle, sender=env.who.seller)
    ex.register_dataset(b"\x55" * 32, 5000, sender=env.who.seller)
    deal_id, opened = ex.open_deal(env.who.seller, b"\x55" * 32, b"\x01" * 32, 1000, 10, sender=env.who.buyer)
    assert opened.event("DealOpened")["quoteDeadline"] == ex.deadline(deal_id) == chain_time(env.w3) + window
    if window == 1:
        return  # the next block is already past a one-second quote window
    _, key, _, _, commitment = release()
    ex.post_quote(deal_id, 500, 1000, commitment, sender=env.who.oracle)
    ex.accept(deal_id, sender=env.who.buyer)
    revealed = ex.reveal_key(deal_id, key, sender=env.who.oracle).event("KeyRevealed")
    assert revealed["disputeDeadline"] == ex.deadline(deal_id) == chain_time(env.w3) + window
    assert ex.state(deal_id) == State.REVEALED


def test_windows_view_returns_the_constructor_arguments(env):
    assert env.ex.windows() == Windows(QUOTE_WINDOW, ACCEPT_WINDOW, REVEAL_WINDOW, DISPUTE_WINDOW)
    assert env.ex.windows().dispute == DISPUTE_WINDOW


def test_deadline_follows_the_phase_and_is_zero_once_ended(env):
    assert env.ex.deadline(1) == 0  # never opened
    deal, *_ = revealed_deal(env)
    events = {name: args for name, args, _, _ in env.ex.events() if args.get("dealId") == deal}
    assert env.ex.deadline(deal) == events["KeyRevealed"]["disputeDeadline"]
    env.ex.confirm(deal, sender=env.who.buyer)
    assert env.ex.deadline(deal) == 0
    declined = open_deal(env, label="declined")
    env.ex.decline(declined, sender=env.who.seller)
    assert env.ex.deadline(declined) == 0


def test_deadline_view_matches_every_announced_deadline(env):
    deal = open_deal(env)
    assert env.ex.deadline(deal) == env.ex.events()[-1][1]["quoteDeadline"]
    commitment = release()[4]
    quoted = env.ex.post_quote(deal, 1, 1000, commitment, sender=env.who.oracle)
    assert env.ex.deadline(deal) == quoted.event("Quoted")["acceptDeadline"]
    accepted = env.ex.accept(deal, sender=env.who.buyer)
    assert env.ex.deadline(deal) == accepted.event("Accepted")["revealDeadline"]
    advance_time(env.w3, REVEAL_WINDOW)
    env.ex.refund(deal, sender=env.who.stranger)
    assert env.ex.deadline(deal) == 0


def test_deadline_is_zero_after_a_lapsed_quote_is_refunded(env):
    deal = quoted_deal(env)
    assert env.ex.deadline(deal) > chain_time(env.w3)
    advance_time(env.w3, ACCEPT_WINDOW)
    env.ex.refund(deal, sender=env.who.stranger)
    assert env.ex.deadline(deal) == 0


def test_oracle_of_names_the_current_oracle(env):
    assert env.ex.oracle_of(env.who.seller) == env.who.oracle
    assert env.ex.oracle_of(env.who.stranger) == ETH  # never registered
    env.ex.register_seller(env.who.stranger, sender=env.who.seller)  # rotate
    assert env.ex.oracle_of(env.who.seller) == env.who.stranger
    deal = open_deal(env)
    env.ex.post_quote(deal, 1, 1000, release()[4], sender=env.ex.oracle_of(env.who.seller))
    assert env.ex.state(deal) == State.QUOTED
