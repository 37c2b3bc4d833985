"""The watcher on the embedded chain: quotes confirmed deals once, reveals at once on Accepted,
refuses a reveal inside the margin (loudly), survives restarts and never acts on a reorged-out deal."""

from __future__ import annotations

import logging

from client.chain import State, advance_time
from client.delivery import key_commit
from oracle.pipeline import QuotePipeline
from oracle.watcher import Watcher
from tests.oracle.conftest import ETH, REVEAL_WINDOW


def _watcher(hub, **kw) -> Watcher:
    pipe = QuotePipeline(hub.ctx, signer=hub.oracle, tokens=[ETH])
    kw.setdefault("start_block", 0)
    return Watcher(hub.ctx, pipe, **kw)


def _events(hub, name: str) -> list[dict]:
    return [a for n, a, _, _ in hub.ex.events() if n == name]


def test_step_quotes_once_and_a_restart_does_nothing_again(hub) -> None:
    deal = hub.deal("fixed-dp")
    w = _watcher(hub)
    report = w.step()
    assert [o.action for o in report.outcomes] == ["quoted"]
    assert hub.ex.state(deal) == State.QUOTED
    assert w.step().outcomes == []
    again = _watcher(hub).step()  # a restarted hub, same store
    assert again.outcomes == [] and len(_events(hub, "Quoted")) == 1
    assert hub.store.watcher_position()[0] == hub.w3.eth.block_number


def test_accepted_deal_is_revealed_at_once_and_phases_follow_the_chain(hub) -> None:
    deal = hub.deal("fixed-dp")
    w = _watcher(hub)
    w.step()
    hub.ex.accept(deal, sender=hub.buyer)
    report = w.step()
    assert report.revealed == [deal] and hub.ex.state(deal) == State.REVEALED
    (ev,) = _events(hub, "KeyRevealed")
    assert key_commit(ev["key"]) == _events(hub, "Quoted")[0]["keyCommit"]
    hub.ex.confirm(deal, sender=hub.buyer)
    w.step()
    assert hub.store.get_deal(deal).phase == "Settled"
    assert hub.ex.credit(hub.seller) == ETHER_10


ETHER_10 = 10**17


def test_reveal_inside_the_margin_is_not_sent_and_logged_loudly(hub, caplog) -> None:
    deal = hub.deal("fixed-dp")
    w = _watcher(hub, reveal_margin_seconds=REVEAL_WINDOW - 10)
    w.step()
    hub.ex.accept(deal, sender=hub.buyer)
    advance_time(hub.w3, 30)  # now + margin >= revealDeadline
    with caplog.at_level(logging.ERROR, logger="oracle.watcher"):
        report = w.step()
    assert report.lost == [deal] and report.revealed == []
    assert hub.ex.state(deal) == State.ACCEPTED and not _events(hub, "KeyRevealed")
    assert any("LOST" in r.getMessage() and r.levelno == logging.ERROR for r in caplog.records)
    rec = hub.store.get_deal(deal)
    assert rec.lost and rec.reason.startswith("lost:")
    assert _watcher(hub, reveal_margin_seconds=60).step().revealed == []  # never retried once lost


def test_restart_after_accept_reveals_from_the_sweep(hub) -> None:
    deal = hub.deal("fixed-dp")
    w = _watcher(hub)
    w.step()
    hub.ex.accept(deal, sender=hub.buyer)
    # the hub died after the watcher stored a position past the Accepted block, before revealing
    hub.store.set_watcher_position(hub.w3.eth.block_number, hub.w3.eth.get_block("latest")["hash"].to_0x_hex())
    report = _watcher(hub).step()
    assert report.revealed == [deal] and hub.ex.state(deal) == State.REVEALED


def test_confirmations_hold_the_quote_until_enough_blocks(hub) -> None:
    deal = hub.deal("fixed-dp")
    w = _watcher(hub, confirmations=2)
    assert w.step().outcomes == [] and hub.ex.state(deal) == State.OPEN
    advance_time(hub.w3, 1)
    assert w.step().outcomes == []
    advance_time(hub.w3, 1)
    assert [o.action for o in w.step().outcomes] == ["quoted"]


def test_a_reorged_out_deal_is_never_quoted(hub) -> None:
    tester = hub.w3.provider.ethereum_tester
    w = _watcher(hub, confirmations=2)
    advance_time(hub.w3, 1)
    advance_time(hub.w3, 1)
    w.step()
    snap = tester.take_snapshot()
    deal = hub.deal("fixed-dp")  # seen on chain, not yet confirmed
    assert w.step().outcomes == []
    tester.revert_to_snapshot(snap)  # the fork without the DealOpened
    for _ in range(4):
        advance_time(hub.w3, 3)
    report = w.step()
    assert report.outcomes == [] and hub.ex.deal_count() == 0
    assert hub.store.get_deal(deal) is None and not _events(hub, "Quoted")


def test_a_reorg_under_the_position_walks_back_and_reprocesses(hub) -> None:
    tester = hub.w3.provider.ethereum_tester
    w = _watcher(hub)
    advance_time(hub.w3, 1)
    w.step()
    base = hub.store.watcher_position()[0]
    snap = tester.take_snapshot()
    advance_time(hub.w3, 1)
    advance_time(hub.w3, 1)
    w.step()  # position now on blocks the reorg will replace
    tester.revert_to_snapshot(snap)
    deal = hub.deal("fixed-dp")  # the new fork carries a deal
    advance_time(hub.w3, 7)
    report = w.step()
    assert report.reorg_from == base + 1
    assert [o.deal_id for o in report.outcomes] == [deal] and hub.ex.state(deal) == State.QUOTED


def test_a_deal_that_always_fails_is_declined_and_does_not_stall_the_next(hub, monkeypatch) -> None:
    from oracle import pipeline as pipeline_module

    bad = hub.deal("fixed-dp")
    w = _watcher(hub)
    real_draw = QuotePipeline._draw
    calls: list[int] = []

    def flaky_draw(self, plan):  # the first deal's draw always crashes; later deals draw as usual
        calls.append(1)
        if len(calls) <= pipeline_module.MAX_ATTEMPTS:
            raise RuntimeError("kernel crashed")
        return real_draw(self, plan)

    monkeypatch.setattr(QuotePipeline, "_draw", flaky_draw)
    for _ in range(pipeline_module.MAX_ATTEMPTS - 1):
        try:
            w.step()
        except RuntimeError:
            pass
        else:
            raise AssertionError("an unexpected failure must be retried, not swallowed, before the limit")
        assert hub.ex.state(bad) == State.OPEN
    report = w.step()
    assert [o.action for o in report.outcomes] == ["declined"]
    assert hub.ex.state(bad) == State.REFUNDED
    assert "failed to price" in hub.store.get_deal(bad).reason and "RuntimeError" in hub.store.get_deal(bad).reason
    good = hub.deal("fixed-dp", nonce="2")
    assert [o.action for o in w.step().outcomes] == ["quoted"]
    assert hub.ex.state(good) == State.QUOTED
