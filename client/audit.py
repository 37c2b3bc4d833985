"""Rebuild every deal, credit and privacy ledger from the contract's events alone (rule 9).

`replay(events)` reads nothing but events, in chain order, and applies the protocol's
rules to them; `check_against_chain` compares the result with the contract's views, so
an auditor learns whether the events tell the whole story.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Iterable

from client.chain.exchange import EXACT, Exchange, State
from client.errors import ClientError

__all__ = ["AuditError", "AuditReport", "DealRecord", "check_against_chain", "replay"]


class AuditError(ClientError, ValueError):
    """Raised when the events break the protocol (an impossible transition or a mismatch with the chain)."""


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


@dataclass
class AuditReport:
    """Deals, credits (account, token) and ledgers (seller, dataset) rebuilt from events."""

    deals: dict[int, DealRecord] = field(default_factory=dict)
    credits: dict[tuple[str, str], int] = field(default_factory=lambda: defaultdict(int))
    caps: dict[tuple[str, bytes], int] = field(default_factory=dict)
    spent: dict[tuple[str, bytes], int] = field(default_factory=lambda: defaultdict(int))
    locked: dict[str, int] = field(default_factory=lambda: defaultdict(int))


_ALLOWED = {
    "Quoted": State.OPEN, "Declined": State.OPEN, "Accepted": State.QUOTED, "Rejected": State.QUOTED,
    "KeyRevealed": State.ACCEPTED, "Complained": State.REVEALED, "Settled": State.REVEALED,
}


def _require(deal: DealRecord, name: str, *allowed: State) -> None:
    if deal.state not in allowed:
        raise AuditError(f"event {name} on deal {deal.deal_id} in state {deal.state.name}: the protocol allows it only from "
                         f"{', '.join(s.name for s in allowed)}")


def replay(events: Iterable[tuple[str, dict[str, Any], int, int]]) -> AuditReport:
    """Apply events (name, args, block, log index) in chain order; raise AuditError on an impossible one."""
    report = AuditReport()
    for name, args, _block, _index in events:
        if name == "DatasetRegistered":
            report.caps[(args["seller"], args["datasetId"])] = args["epsilonCapMilli"]
        elif name == "DealOpened":
            deal = DealRecord(args["dealId"], args["buyer"], args["seller"], args["datasetId"], args["termsHash"],
                              args["token"], args["maxPrice"], args["quoteFee"], deadlines={"quote": args["quoteDeadline"]})
            report.deals[deal.deal_id] = deal
            report.locked[deal.token] += deal.max_price
        elif name in _ALLOWED or name in ("Refunded",):
            deal = report.deals[args["dealId"]]
            if name == "Refunded":
                _require(deal, name, State.OPEN, State.QUOTED, State.ACCEPTED, State.REVEALED)
                if args["toBuyer"] + args["toSeller"] != deal.max_price:
                    raise AuditError(f"deal {deal.deal_id} refunded {args['toBuyer']} + {args['toSeller']} != maxPrice {deal.max_price}")
                report.credits[(deal.buyer, deal.token)] += args["toBuyer"]
                report.credits[(deal.seller, deal.token)] += args["toSeller"]
                report.locked[deal.token] -= deal.max_price
                deal.state = State.REFUNDED
                continue
            _require(deal, name, _ALLOWED[name])
            if name == "Quoted":
                deal.price, deal.epsilon_milli, deal.size = args["price"], args["epsilonMilli"], args["size"]
                deal.data_root, deal.cipher_root, deal.key_commit = args["dataRoot"], args["cipherRoot"], args["keyCommit"]
                deal.deadlines["accept"] = args["acceptDeadline"]
                key = (deal.seller, deal.dataset_id)
                report.spent[key] = EXACT if deal.epsilon_milli == EXACT or report.spent[key] == EXACT else min(
                    report.spent[key] + deal.epsilon_milli, EXACT - 1)
                deal.state = State.QUOTED
            elif name == "Accepted":
                deal.deadlines["reveal"] = args["revealDeadline"]
                deal.state = State.ACCEPTED
            elif name == "KeyRevealed":
                deal.key = args["key"]
                deal.deadlines["dispute"] = args["disputeDeadline"]
                deal.state = State.REVEALED
            elif name == "Complained":
                deal.complaint_index = args["index"]
            elif name == "Settled":
                if args["price"] != deal.price or args["price"] + args["refund"] != deal.max_price:
                    raise AuditError(f"deal {deal.deal_id} settled at {args['price']} but was quoted at {deal.price}")
                report.credits[(deal.seller, deal.token)] += args["price"]
                report.credits[(deal.buyer, deal.token)] += args["refund"]
                report.locked[deal.token] -= deal.max_price
                deal.state = State.SETTLED
        elif name == "Withdrawn":
            report.credits[(args["account"], args["token"])] -= args["amount"]
    return report


def check_against_chain(report: AuditReport, ex: Exchange) -> None:
    """Raise AuditError unless every deal state, credit and ledger the events imply matches the chain's views."""
    for deal in report.deals.values():
        on_chain = ex.state(deal.deal_id)
        if on_chain != deal.state:
            raise AuditError(f"deal {deal.deal_id}: events say {deal.state.name}, the contract says {on_chain.name}")
    for (account, token), amount in report.credits.items():
        if ex.credit(account, token) != amount:
            raise AuditError(f"credit of {account} in {token}: events say {amount}, the contract says {ex.credit(account, token)}")
    for (seller, dataset), spent in report.spent.items():
        if ex.epsilon_spent(seller, dataset) != spent:
            raise AuditError(f"epsilon spent on {seller}/{dataset.hex()}: events say {spent}, the contract says "
                             f"{ex.epsilon_spent(seller, dataset)}")
    if ex.deal_count() != len(report.deals):
        raise AuditError(f"{len(report.deals)} DealOpened events but dealCount() is {ex.deal_count()}")
