"""The chain watcher: reads the exchange's events from the last processed block, acts only on
blocks with N confirmations, remembers each processed block's number AND hash, walks back when
the chain under it changed (a reorg), and never acts on an event the new chain lacks.

Acting is idempotent: before every action it reads the contract's `state(dealId)`, so a watcher
restarted at any point (even mid-range, which it reprocesses) neither posts twice nor skips a
deal. On `DealOpened` for this seller it runs the quote pipeline; on `Accepted` it reveals the key
at once, unless the reveal could be mined at or after the reveal deadline minus the margin (a
reverted reveal still publishes the key): then it logs an error and marks the deal lost. After the
events it prunes the specs and terms no deal references once they are past the retention period
(`Store.prune_uploads`): they are uploaded without authentication and must not fill the disk."""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from web3 import Web3

from client.chain import State
from client.chain.errors import ContractRevert

from .context import HubContext
from .pipeline import PHASE_OF_STATE, Outcome, QuotePipeline

__all__ = ["Watcher", "StepReport", "DEFAULT_RETENTION_SECONDS", "PRUNE_EVERY_SECONDS"]

log = logging.getLogger("oracle.watcher")

#: Phase each later event moves a known deal to (DealOpened and Accepted have their own handlers).
_PHASE_AFTER = {"Quoted": "Quoted", "KeyRevealed": "Revealed", "Settled": "Settled", "Refunded": "Refunded",
                "Declined": "Refunded"}
#: How long an upload no deal references is kept (HubSettings.spec_retention_hours's default, 24 h).
DEFAULT_RETENTION_SECONDS = 24 * 3600.0
#: Seconds between two prunings: each is one indexed DELETE per table, so a poll need not run one.
PRUNE_EVERY_SECONDS = 600.0


@dataclass
class StepReport:
    """What one `step` did: the block range processed, the pipeline's outcomes, reveals, lost deals
    and whether it walked back from a reorg."""

    from_block: int | None = None
    to_block: int | None = None
    outcomes: list[Outcome] = field(default_factory=list)
    revealed: list[int] = field(default_factory=list)
    lost: list[int] = field(default_factory=list)
    reorg_from: int | None = None
    pruned: tuple[int, int] | None = None


class Watcher:
    """Polls `ctx.exchange` for this seller's deals and drives them (see the module docstring).

    `confirmations`: blocks on top of an event's block before acting (0 on the embedded chain);
    the reveal margin is the larger of `reveal_margin_seconds` and `reveal_margin_blocks` times
    `block_time`; `start_block` is where a fresh hub starts reading. Specs and terms no deal
    references are pruned `retention_seconds` after their last upload, checked at most every
    `prune_every` seconds of `clock` (the store's time.time)."""

    def __init__(self, ctx: HubContext, pipeline: QuotePipeline, *, confirmations: int = 0,
                 reveal_margin_seconds: int = 120, reveal_margin_blocks: int = 5, block_time: float = 12.0,
                 start_block: int = 0, max_range: int = 2000, retention_seconds: float = DEFAULT_RETENTION_SECONDS,
                 prune_every: float = PRUNE_EVERY_SECONDS, clock: Callable[[], float] = time.time) -> None:
        self.ctx = ctx
        self.pipeline = pipeline
        self.confirmations = int(confirmations)
        self.margin = max(float(reveal_margin_seconds), reveal_margin_blocks * float(block_time))
        self.start_block = int(start_block)
        self.max_range = int(max_range)
        self.retention_seconds = float(retention_seconds)
        self.prune_every = float(prune_every)
        self.clock = clock
        self._pruned_at: float | None = None
        self._swept = False

    @property
    def w3(self) -> Web3:
        return self.ctx.exchange.w3

    def _hash(self, number: int) -> str:
        return self.w3.eth.get_block(number)["hash"].to_0x_hex()

    # -- one step -------------------------------------------------------------------

    def step(self) -> StepReport:
        """Process every block now confirmed since the last step; return what was done."""
        report = StepReport()
        if not self._swept:
            self._sweep(report)
            self._swept = True
        head = self.w3.eth.block_number
        target = head - self.confirmations
        pos = self.ctx.store.watcher_position()
        last = self.start_block - 1 if pos is None else self._check_reorg(pos, report)
        while last < target:
            to = min(target, last + self.max_range)
            frm = last + 1
            report.from_block = frm if report.from_block is None else report.from_block
            for name, args, block, _ in self.ctx.exchange.events(frm, to):
                self._handle(name, args, block, report)
            to_hash = self._hash(to)
            self.ctx.store.set_watcher_position(to, to_hash)
            report.to_block = last = to
        self._prune(report)
        return report

    def _prune(self, report: StepReport) -> None:
        """Delete unreferenced specs and terms last uploaded over `retention_seconds` ago, at most once
        every `prune_every` seconds: after the step's events, so a deal just recorded keeps its terms."""
        now = self.clock()
        if self._pruned_at is not None and now - self._pruned_at < self.prune_every:
            return
        self._pruned_at = now
        specs, terms = self.ctx.store.prune_uploads(now - self.retention_seconds)
        report.pruned = (specs, terms)
        if specs or terms:
            log.info("pruned %d specs and %d terms no deal references, uploaded over %.0f h ago", specs, terms,
                     self.retention_seconds / 3600)

    def _check_reorg(self, pos: tuple[int, str], report: StepReport) -> int:
        """The last processed block still on the chain: `pos` unless the chain changed under it."""
        number, stored = pos
        if number < 0 or self._hash_or_none(number) == stored:
            return number
        n = self.start_block - 1
        for kept_n, kept in self.ctx.store.block_hashes_below(number):
            if self._hash_or_none(kept_n) == kept:
                n = kept_n
                break
        log.warning("reorg: block %d changed under the watcher; reprocessing from block %d", number, n + 1)
        report.reorg_from = n + 1
        if n >= self.start_block:
            self.ctx.store.set_watcher_position(n, self._hash(n))
        return max(n, self.start_block - 1)

    def _hash_or_none(self, number: int) -> str | None:
        try:
            return self._hash(number)
        except Exception:  # noqa: BLE001 - a block the new chain does not have (yet)
            return None

    # -- events ---------------------------------------------------------------------

    def _handle(self, name: str, args: dict[str, Any], block: int, report: StepReport) -> None:
        if name == "DealOpened":
            if Web3.to_checksum_address(args["seller"]) != Web3.to_checksum_address(self.ctx.seller):
                return
            report.outcomes.append(self.pipeline.handle_opened(int(args["dealId"]), args, block=block))
            return
        deal_id = args.get("dealId")
        if deal_id is None or self.ctx.store.get_deal(int(deal_id)) is None:
            return  # not one of this hub's deals
        deal_id = int(deal_id)
        if name == "Accepted":
            self._reveal(deal_id, int(args["revealDeadline"]), report)
        elif name in _PHASE_AFTER:
            self.ctx.store.set_phase(deal_id, _PHASE_AFTER[name])

    def _reveal(self, deal_id: int, reveal_deadline: int, report: StepReport) -> None:
        """revealKey now, unless it could be mined inside the margin before the deadline."""
        ex = self.ctx.exchange
        state = ex.state(deal_id)
        if state != State.ACCEPTED:
            if state != State.NONE:
                self.ctx.store.set_phase(deal_id, PHASE_OF_STATE[state])
            return
        self.ctx.store.set_phase(deal_id, "Accepted")
        deal = self.ctx.store.get_deal(deal_id)
        if deal is not None and deal.lost:
            return
        key = self.ctx.store.deal_key(deal_id)
        now = max(int(self.w3.eth.get_block("latest")["timestamp"]), int(time.time()))
        if key is None or now + self.margin >= reveal_deadline:
            why = "no key stored for it" if key is None else (
                f"the reveal could be mined within the {self.margin:.0f} s margin of the reveal deadline "
                f"{reveal_deadline} (now {now})")
            log.error("DEAL %d LOST: not revealing: %s; the buyer will be refunded after the deadline", deal_id, why)
            self.ctx.store.set_phase(deal_id, "Accepted", reason=f"lost: {why}", lost=True)
            report.lost.append(deal_id)
            return
        try:
            ex.reveal_key(deal_id, key, sender=self.pipeline.signer)
        except ContractRevert as err:
            state = ex.state(deal_id)
            log.error("deal %d: revealKey reverted (%s); the deal is %s on chain", deal_id, type(err).__name__,
                      state.name)
            if state != State.NONE:
                self.ctx.store.set_phase(deal_id, PHASE_OF_STATE[state])
            return
        self.ctx.store.set_phase(deal_id, "Revealed")
        report.revealed.append(deal_id)
        log.info("deal %d: key revealed", deal_id)

    def _sweep(self, report: StepReport) -> None:
        """On start: finish Open deals (re-post a prepared quote, or run the pipeline again) and reveal
        Accepted ones: a crash may have stopped the hub between storing and acting."""
        ex = self.ctx.exchange
        for deal in self.ctx.store.list_deals():
            if deal.phase not in ("Open", "Quoted", "Accepted") or deal.lost:
                continue
            state = ex.state(deal.deal_id)
            if state == State.ACCEPTED:
                deadline = self._reveal_deadline(deal.deal_id)
                if deadline is not None:
                    self._reveal(deal.deal_id, deadline, report)
            elif state == State.OPEN:
                args = {"buyer": deal.buyer, "termsHash": deal.terms_hash, "datasetId": deal.dataset_id,
                        "token": deal.token, "maxPrice": deal.max_price, "quoteFee": deal.quote_fee,
                        "seller": self.ctx.seller}
                report.outcomes.append(self.pipeline.handle_opened(deal.deal_id, args))
            elif state != State.NONE:
                self.ctx.store.set_phase(deal.deal_id, PHASE_OF_STATE[state])

    def _reveal_deadline(self, deal_id: int) -> int | None:
        """The deal's reveal deadline from its Accepted event (or the contract's deadline view)."""
        try:
            return int(self.ctx.exchange.contract.functions.deadline(deal_id).call())
        except Exception:  # noqa: BLE001 - a contract without the deadline view: read the event
            pass
        ev = self.ctx.exchange.contract.events.Accepted
        logs = ev().get_logs(from_block=0, argument_filters={"dealId": deal_id})
        return int(logs[-1]["args"]["revealDeadline"]) if logs else None

    # -- loop -----------------------------------------------------------------------

    def run_forever(self, stop_event: threading.Event, poll_interval: float = 1.0) -> None:
        """Step until `stop_event` is set; an error in one step is logged (no data) and retried."""
        while not stop_event.is_set():
            try:
                self.step()
            except Exception as err:  # noqa: BLE001 - keep watching; the next step retries
                log.error("watcher step failed (%s); retrying in %.1f s", type(err).__name__, poll_interval)
            stop_event.wait(poll_interval)
