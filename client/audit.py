"""Rebuild every deal, credit and privacy ledger from the contract's events alone (rule 9).

`replay(events)` reads nothing but events, in chain order, and applies the protocol's
rules to them; given the contract's windows (its `windows()` view) and the timestamps of
the blocks the events are in, it also checks every deadline an event announces
(`quoteDeadline`, `acceptDeadline`, `revealDeadline`, `disputeDeadline` = block time +
window) and that each action came before, and each timeout at or after, its deadline.
`replay_chain(ex)` gathers all three from a deployed contract. `check_against_chain`
compares the result with the contract's views, so an auditor learns whether the events
tell the whole story.

Every `AuditError` names the rule the events break (`.rule`: "rule 1" .. "rule 8" of
protocol.md, "transition" for an event the deal's state does not allow, "windows" for a
deadline that is not block time + window, "datasets" for a cap raised, "chain" for a
mismatch with the views).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable, Mapping

from eth_hash.auto import keccak

from client.chain.exchange import EXACT, Exchange, State, Windows
from client.errors import ClientError

__all__ = ["AuditError", "AuditReport", "DealRecord", "check_against_chain", "replay", "replay_chain"]

Event = tuple[str, dict[str, Any], int, int]


class AuditError(ClientError, ValueError):
    """Raised when the events break the protocol; `rule` names the rule, the message the facts."""

    def __init__(self, rule: str, message: str) -> None:
        self.rule = rule
        super().__init__(f"{rule}: {message}")


@dataclass
class DealRecord:
    """What the events say about one deal."""

    deal_id: int
    buyer: str
    seller: str
    dataset_id: bytes
    terms_hash: bytes
    token: str
    max_price: int
    quote_fee: int
    state: State = State.OPEN
    price: int | None = None
    epsilon_milli: int | None = None
    data_root: bytes | None = None
    cipher_root: bytes | None = None
    key_commit: bytes | None = None
    size: int | None = None
    key: bytes | None = None
    deadlines: dict[str, int] = field(default_factory=dict)
    complaint_index: int | None = None
    ending: str | None = None  # the event (Declined, Rejected, Complained) whose Refunded must follow

    @property
    def pair(self) -> tuple[str, bytes, bytes]:
        """Rule 2's (seller, datasetId, termsHash)."""
        return self.seller, self.dataset_id, self.terms_hash

    @property
    def deadline(self) -> int:
        """The current phase's deadline, as the contract's `deadline()` view returns it (0 once ended)."""
        phase = {State.OPEN: "quote", State.QUOTED: "accept", State.ACCEPTED: "reveal", State.REVEALED: "dispute"}
        return self.deadlines[phase[self.state]] if self.state in phase else 0


@dataclass
class AuditReport:
    """Deals, credits (account, token), ledgers (seller, dataset) and used pairs rebuilt from events."""

    deals: dict[int, DealRecord] = field(default_factory=dict)
    credits: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    caps: dict[tuple[str, bytes], int] = field(default_factory=dict)
    spent: dict[tuple[str, bytes], int] = field(default_factory=lambda: defaultdict(int))
    locked: dict[str, int] = field(default_factory=lambda: defaultdict(int))
    used: dict[tuple[str, bytes, bytes], int] = field(default_factory=dict)  # pair -> the deal that quoted it
    windows: Windows | None = None


# The state each event needs, and the window (and the deadline it starts) it announces.
_ALLOWED = {
    "Quoted": State.OPEN, "Declined": State.OPEN, "Accepted": State.QUOTED, "Rejected": State.QUOTED,
    "KeyRevealed": State.ACCEPTED, "Complained": State.REVEALED, "Settled": State.REVEALED,
}
_ANNOUNCES = {
    "DealOpened": ("quoteDeadline", "quote"), "Quoted": ("acceptDeadline", "accept"),
    "Accepted": ("revealDeadline", "reveal"), "KeyRevealed": ("disputeDeadline", "dispute"),
}
# Actions allowed strictly before the current phase's deadline (rules 3-6).
_BEFORE = {"Quoted": ("rule 3", "quote"), "Accepted": ("rule 4", "accept"), "Rejected": ("rule 4", "accept"),
           "KeyRevealed": ("rule 5", "reveal"), "Complained": ("rule 6", "dispute")}


def _require(deal: DealRecord, name: str, *allowed: State) -> None:
    if deal.state not in allowed:
        raise AuditError("transition", f"event {name} on deal {deal.deal_id} in state {deal.state.name}: the protocol "
                         f"allows it only from {', '.join(s.name for s in allowed)}")


class _Replay:
    def __init__(self, windows: Windows | None, timestamps: Mapping[int, int] | None) -> None:
        self.report = AuditReport(windows=windows)
        self.windows = windows
        self.timestamps = timestamps

    def time_of(self, block: int) -> int | None:
        if self.timestamps is None:
            return None
        if block not in self.timestamps:
            raise AuditError("windows", f"no timestamp given for block {block}: pass every event's block")
        return self.timestamps[block]

    def announce(self, deal: DealRecord, name: str, args: dict[str, Any], now: int | None) -> None:
        """Record the deadline `name` announces and check it is the block's time plus the window."""
        arg, phase = _ANNOUNCES[name]
        announced = args[arg]
        deal.deadlines[phase] = announced
        if self.windows is None or now is None:
            return
        expected = now + getattr(self.windows, phase)
        if announced != expected:
            raise AuditError("windows", f"{name} of deal {deal.deal_id} announces {arg} {announced}, but block time {now} "
                             f"+ the {phase} window {getattr(self.windows, phase)} is {expected}")

    def apply(self, name: str, args: dict[str, Any], block: int) -> None:
        report = self.report
        now = self.time_of(block)
        if name == "DatasetRegistered":
            key = (args["seller"], args["datasetId"])
            if key in report.caps and args["epsilonCapMilli"] > report.caps[key]:
                raise AuditError("datasets", f"dataset {args['datasetId'].hex()} of {args['seller']} raised its cap from "
                                 f"{report.caps[key]} to {args['epsilonCapMilli']}; a cap may only be lowered")
            report.caps[key] = args["epsilonCapMilli"]
        elif name == "DealOpened":
            self.open(args, now)
        elif name == "Withdrawn":
            key = (args["account"], args["token"])
            if args["amount"] != report.credits[key] or args["amount"] == 0:
                raise AuditError("rule 8", f"{args['account']} withdrew {args['amount']} of {args['token']} but was "
                                 f"credited {report.credits[key]}; a withdrawal pays exactly the whole credit")
            report.credits[key] = 0
        elif name in _ALLOWED or name == "Refunded":
            if args["dealId"] not in report.deals:
                raise AuditError("transition", f"event {name} on deal {args['dealId']}, which no DealOpened opened")
            self.step(report.deals[args["dealId"]], name, args, now)

    def open(self, args: dict[str, Any], now: int | None) -> None:
        report = self.report
        deal = DealRecord(args["dealId"], args["buyer"], args["seller"], args["datasetId"], args["termsHash"],
                          args["token"], args["maxPrice"], args["quoteFee"])
        if deal.deal_id != len(report.deals) + 1:
            raise AuditError("transition", f"DealOpened numbers deal {deal.deal_id}, but the next id is {len(report.deals) + 1}")
        if (deal.seller, deal.dataset_id) not in report.caps:
            raise AuditError("rule 1", f"deal {deal.deal_id} opened on dataset {deal.dataset_id.hex()}, which {deal.seller} "
                             "never registered")
        if not 0 < deal.max_price or deal.quote_fee > deal.max_price:
            raise AuditError("rule 1", f"deal {deal.deal_id} locks maxPrice {deal.max_price} with quoteFee {deal.quote_fee}; "
                             "the protocol needs 0 < maxPrice and quoteFee <= maxPrice")
        if deal.pair in report.used:
            raise AuditError("rule 2", f"deal {deal.deal_id} opened (seller, datasetId, termsHash) = ({deal.seller}, "
                             f"{deal.dataset_id.hex()}, {deal.terms_hash.hex()}), which deal {report.used[deal.pair]} "
                             "was quoted with; a quoted pair can never be opened again")
        self.announce(deal, "DealOpened", args, now)
        report.deals[deal.deal_id] = deal
        report.locked[deal.token] += deal.max_price

    def step(self, deal: DealRecord, name: str, args: dict[str, Any], now: int | None) -> None:
        report = self.report
        if name == "Refunded":
            self.refunded(deal, args, now)
            return
        _require(deal, name, _ALLOWED[name])
        if deal.ending is not None:
            raise AuditError("rule 9", f"{deal.ending} of deal {deal.deal_id} is followed by {name}, not by Refunded")
        if name in _BEFORE and now is not None:
            rule, phase = _BEFORE[name]
            if now >= deal.deadlines[phase]:
                raise AuditError(rule, f"{name} of deal {deal.deal_id} at block time {now}, at or after its {phase} "
                                 f"deadline {deal.deadlines[phase]}")
        if name == "Quoted":
            self.quoted(deal, args, now)
        elif name == "Accepted":
            self.announce(deal, name, args, now)
            deal.state = State.ACCEPTED
        elif name == "KeyRevealed":
            if keccak(b"\x00" + args["key"]) != deal.key_commit:
                raise AuditError("rule 5", f"deal {deal.deal_id} revealed key {args['key'].hex()}, whose keccak(0x00 ‖ key) "
                                 f"is not the quoted keyCommit {deal.key_commit.hex()}")
            deal.key = args["key"]
            self.announce(deal, name, args, now)
            deal.state = State.REVEALED
        elif name in ("Declined", "Rejected", "Complained"):
            if name == "Complained":
                deal.complaint_index = args["index"]
            deal.ending = name
        elif name == "Settled":
            if args["price"] != deal.price or args["price"] + args["refund"] != deal.max_price:
                raise AuditError("rule 7", f"deal {deal.deal_id} settled at {args['price']} (refund {args['refund']}) but "
                                 f"was quoted at {deal.price} with maxPrice {deal.max_price}")
            report.credits[(deal.seller, deal.token)] += args["price"]
            report.credits[(deal.buyer, deal.token)] += args["refund"]
            report.locked[deal.token] -= deal.max_price
            deal.state = State.SETTLED

    def quoted(self, deal: DealRecord, args: dict[str, Any], now: int | None) -> None:
        report = self.report
        if deal.pair in report.used:
            raise AuditError("rule 2", f"deal {deal.deal_id} quoted (seller, datasetId, termsHash) = ({deal.seller}, "
                             f"{deal.dataset_id.hex()}, {deal.terms_hash.hex()}), which deal {report.used[deal.pair]} was "
                             "quoted with first; a pair is evaluated once")
        price, epsilon, size = args["price"], args["epsilonMilli"], args["size"]
        if not 0 < price <= deal.max_price or size == 0 or epsilon == 0:
            raise AuditError("rule 3", f"deal {deal.deal_id} quoted price {price}, size {size}, epsilonMilli {epsilon}; "
                             f"the protocol needs 0 < price <= maxPrice ({deal.max_price}), size > 0 and epsilonMilli > 0")
        key = (deal.seller, deal.dataset_id)
        cap, spent = report.caps[key], report.spent[key]
        if epsilon == EXACT and cap != EXACT:
            raise AuditError("rule 3", f"deal {deal.deal_id} quoted an exact release on a dataset with cap {cap}, not EXACT")
        if epsilon != EXACT and cap != EXACT and spent + epsilon > cap:
            raise AuditError("rule 3", f"deal {deal.deal_id} quoted epsilonMilli {epsilon} with {spent} of the cap {cap} "
                             "already spent: over budget")
        deal.price, deal.epsilon_milli, deal.size = price, epsilon, size
        deal.data_root, deal.cipher_root, deal.key_commit = args["dataRoot"], args["cipherRoot"], args["keyCommit"]
        self.announce(deal, "Quoted", args, now)
        # an exact release marks the ledger fully spent; otherwise it saturates just below EXACT
        report.spent[key] = EXACT if epsilon == EXACT or spent == EXACT else min(spent + epsilon, EXACT - 1)
        report.used[deal.pair] = deal.deal_id  # the pair is used from its quote on (rule 2)
        deal.state = State.QUOTED

    def refunded(self, deal: DealRecord, args: dict[str, Any], now: int | None) -> None:
        """A Refunded after Declined, Rejected or Complained in the same order, or a timeout refund."""
        report = self.report
        _require(deal, "Refunded", State.OPEN, State.QUOTED, State.ACCEPTED, State.REVEALED)
        to_buyer, to_seller = args["toBuyer"], args["toSeller"]
        ending = deal.ending
        if ending is None:  # refund(): the current phase's deadline has passed
            if deal.state == State.REVEALED:
                raise AuditError("rule 7", f"deal {deal.deal_id} refunded while Revealed without a complaint; "
                                 "a revealed deal settles")
            if now is not None and now < deal.deadline:
                raise AuditError("rule 7", f"deal {deal.deal_id} refunded at block time {now}, before its deadline "
                                 f"{deal.deadline}")
        fee_split = ending == "Rejected" or (ending is None and deal.state == State.QUOTED)
        expected = (deal.max_price - deal.quote_fee, deal.quote_fee) if fee_split else (deal.max_price, 0)
        if (to_buyer, to_seller) != expected:
            rule = "rule 4" if fee_split else ("rule 6" if ending == "Complained" else "rule 7")
            raise AuditError(rule, f"deal {deal.deal_id} refunded {to_buyer} to the buyer and {to_seller} to the seller "
                             f"after {ending or 'a lapsed ' + deal.state.name.lower() + ' phase'}; the protocol pays "
                             f"{expected[0]} and {expected[1]}")
        report.credits[(deal.buyer, deal.token)] += to_buyer
        report.credits[(deal.seller, deal.token)] += to_seller
        report.locked[deal.token] -= deal.max_price
        deal.state, deal.ending = State.REFUNDED, None


def replay(
    events: Iterable[Event], *, windows: Windows | None = None, timestamps: Mapping[int, int] | None = None,
) -> AuditReport:
    """Apply events (name, args, block, log index) in chain order; raise AuditError naming the rule an event breaks.

    With `windows` (the contract's `windows()`) and `timestamps` (block -> timestamp for every
    event's block) the deadlines are checked too; without them only what the events alone say.
    """
    run = _Replay(windows, timestamps)
    for name, args, block, _index in events:
        run.apply(name, args, block)
    for deal in run.report.deals.values():
        if deal.ending is not None:
            raise AuditError("rule 9", f"{deal.ending} of deal {deal.deal_id} is not followed by its Refunded")
    return run.report


def replay_chain(ex: Exchange, events: list[Event] | None = None) -> AuditReport:
    """Replay every event of `ex` (or `events`, read from it before) with its windows, read from the
    `windows()` view, and the timestamps of the events' blocks."""
    events = ex.events() if events is None else events
    timestamps = {block: int(ex.w3.eth.get_block(block)["timestamp"]) for block in sorted({e[2] for e in events})}
    return replay(events, windows=ex.windows(), timestamps=timestamps)


def check_against_chain(report: AuditReport, ex: Exchange) -> None:
    """Raise AuditError unless every deal state and deadline, credit, ledger and the windows the events imply
    match the chain's views."""
    for deal in report.deals.values():
        on_chain = ex.state(deal.deal_id)
        if on_chain != deal.state:
            raise AuditError("chain", f"deal {deal.deal_id}: events say {deal.state.name}, the contract says {on_chain.name}")
        if ex.deadline(deal.deal_id) != deal.deadline:
            raise AuditError("chain", f"deal {deal.deal_id}: events say deadline {deal.deadline}, the contract says "
                             f"{ex.deadline(deal.deal_id)}")
    for (account, token), amount in report.credits.items():
        if ex.credit(account, token) != amount:
            raise AuditError("chain", f"credit of {account} in {token}: events say {amount}, the contract says "
                             f"{ex.credit(account, token)}")
    for (seller, dataset), spent in report.spent.items():
        if ex.epsilon_spent(seller, dataset) != spent:
            raise AuditError("chain", f"epsilon spent on {seller}/{dataset.hex()}: events say {spent}, the contract says "
                             f"{ex.epsilon_spent(seller, dataset)}")
    if ex.deal_count() != len(report.deals):
        raise AuditError("chain", f"{len(report.deals)} DealOpened events but dealCount() is {ex.deal_count()}")
    if report.windows is not None and ex.windows() != report.windows:
        raise AuditError("chain", f"replayed with windows {report.windows}, the contract has {ex.windows()}")
