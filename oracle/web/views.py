"""What the owner's pages show, read from the store and the chain: datasets with their budget
(spent per quote over time, from the chain's events), offers, deals with their deadlines, and
earnings per token. Never the raw data: only the schema, counts, epsilon and money."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from client.chain.exchange import EXACT

from oracle.budget import spent_milli
from oracle.context import HubContext
from oracle.offers import releases_left
from oracle.store import DatasetRecord, OfferRecord

__all__ = ["ChainView", "DatasetView", "DealRow", "Earning", "read_chain", "dataset_views", "deal_rows",
           "earnings", "token_name", "when", "amount"]


def amount(value: int | None, token: str | None) -> str:
    """An ETH amount in ether for a reader ('0.1 ETH'); '' for other tokens (their decimals are unknown)."""
    if value is None or token is None or (token != "ETH" and int(token, 16) != 0):
        return ""
    from decimal import Decimal

    return f"{(Decimal(int(value)) / Decimal(10**18)).normalize():f} ETH"


def token_name(token: str | None) -> str:
    """'ETH' for the zero address, else the token's address."""
    return "ETH" if token is None or int(token, 16) == 0 else token


def when(ts: int | float | None) -> str:
    """A unix time as 'YYYY-MM-DD HH:MM:SS UTC'; '' for none."""
    if not ts:
        return ""
    return datetime.fromtimestamp(float(ts), tz=timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


@dataclass
class ChainView:
    """This seller's events, read once per page: deals opened (id -> args), quotes (id -> args, time),
    and the money events."""

    opened: dict[int, dict[str, Any]] = field(default_factory=dict)
    quotes: list[tuple[int, int, float]] = field(default_factory=list)  # (deal id, epsilon milli, time)
    registered: dict[str, float] = field(default_factory=dict)  # dataset id -> first registration time
    settled: dict[int, int] = field(default_factory=dict)  # deal id -> price credited to the seller
    refunded_to_seller: dict[int, int] = field(default_factory=dict)
    withdrawn: dict[str, int] = field(default_factory=dict)  # token -> amount


def read_chain(ctx: HubContext) -> ChainView:
    """Scan the contract's events once (from block 0) for this hub's seller."""
    view = ChainView()
    w3 = ctx.exchange.w3
    times: dict[int, float] = {}

    def at(block: int) -> float:
        if block not in times:
            times[block] = float(w3.eth.get_block(block)["timestamp"])
        return times[block]

    seller = ctx.seller.lower()
    for name, args, block, _ in ctx.exchange.events():
        if name == "DealOpened" and str(args["seller"]).lower() == seller:
            view.opened[int(args["dealId"])] = args
        elif name == "DatasetRegistered" and str(args["seller"]).lower() == seller:
            view.registered.setdefault("0x" + bytes(args["datasetId"]).hex(), at(block))
        elif name == "Quoted" and int(args["dealId"]) in view.opened:
            view.quotes.append((int(args["dealId"]), int(args["epsilonMilli"]), at(block)))
        elif name == "Settled" and int(args["dealId"]) in view.opened:
            view.settled[int(args["dealId"])] = int(args["price"])
        elif name == "Refunded" and int(args["dealId"]) in view.opened:
            view.refunded_to_seller[int(args["dealId"])] = int(args["toSeller"])
        elif name == "Withdrawn" and str(args["account"]).lower() == seller:
            tok = str(args["token"])
            view.withdrawn[tok] = view.withdrawn.get(tok, 0) + int(args["amount"])
    return view


@dataclass
class DatasetView:
    """One dataset as the Datasets page shows it."""

    record: DatasetRecord
    exact: bool
    cap_milli: int
    spent_milli: int
    left_milli: int | None  # None: an exact cap (no budget)
    series: list[tuple[float, int, int]]  # (time, cumulative epsilon milli spent, deal id)
    start: float
    offers: list[tuple[OfferRecord, int | None]]  # each offer on it and the releases the budget still buys
    columns: list[dict[str, str]]


def _columns(schema: dict[str, Any]) -> list[dict[str, str]]:
    out = []
    for part, role in (("features", "feature"), ("columns", "column"), ("label", "label")):
        cols = schema.get(part)
        if cols is None:
            continue
        for c in cols if isinstance(cols, list) else [cols]:
            if c.get("categories") is not None:
                domain = f"{len(c['categories'])} categories"
            elif c.get("classes") is not None:
                domain = f"{c['classes']} classes"
            elif c.get("bounds") is not None:
                lo, hi = c["bounds"]
                domain = f"declared bounds [{lo}, {hi}]"
            else:
                domain = ""
            out.append({"name": str(c.get("name")), "role": role, "kind": str(c.get("kind", "")), "domain": domain})
    return out


def dataset_views(ctx: HubContext, chain: ChainView) -> list[DatasetView]:
    """Every dataset with its budget: cap, spent (the contract's counter), each quote's epsilon over time."""
    out = []
    offers = ctx.store.list_offers()
    for d in ctx.store.list_datasets():
        exact = d.epsilon_cap_milli == EXACT
        spent = spent_milli(ctx.store, ctx.exchange, ctx.seller, d.dataset_id)  # with the draws the chain has not charged
        left = None if exact else d.epsilon_cap_milli - spent
        series, total = [], 0
        for deal_id, eps, t in chain.quotes:
            if "0x" + bytes(chain.opened[deal_id]["datasetId"]).hex() != d.dataset_id.lower():
                continue
            if eps != EXACT:
                total += eps
            series.append((t, total, deal_id))
        mine = [(o, releases_left(o, left)) for o in offers if o.dataset_id.lower() == d.dataset_id.lower()]
        start = chain.registered.get(d.dataset_id.lower()) or (series[0][0] if series else ctx.clock())
        out.append(DatasetView(d, exact, d.epsilon_cap_milli, 0 if exact else spent, left, series, start, mine,
                               _columns(d.schema)))
    return out


@dataclass
class DealRow:
    """One line of the Deals page."""

    deal_id: int
    phase: str
    buyer: str
    dataset: str
    token: str
    max_price: int | None
    price: int | None
    epsilon: str
    deadline: str
    reason: str | None
    lost: bool


def deal_rows(ctx: HubContext) -> list[DealRow]:
    """Every deal the hub saw, newest first, with its current phase's deadline from the contract."""
    names = {d.dataset_id.lower(): d.name for d in ctx.store.list_datasets()}
    rows = []
    for d in reversed(ctx.store.list_deals()):
        eps = "" if d.epsilon_milli is None else ("exact" if d.epsilon_milli == EXACT else f"{d.epsilon_milli / 1000:g}")
        deadline = ctx.exchange.deadline(d.deal_id) if d.phase in ("Open", "Quoted", "Accepted", "Revealed") else 0
        rows.append(DealRow(d.deal_id, d.phase, d.buyer, names.get((d.dataset_id or "").lower(), d.dataset_id or ""),
                            token_name(d.token), d.max_price, d.price, eps, when(deadline), d.reason, d.lost))
    return rows


@dataclass
class Earning:
    """Money per token: earned (settled prices and quote fees kept), withdrawn, and credit to withdraw."""

    token: str
    name: str
    earned: int
    withdrawn: int
    credit: int


def earnings(ctx: HubContext, chain: ChainView) -> list[Earning]:
    """Per token of the hub's list (and any token a deal used): earned, withdrawn and withdrawable."""
    tokens = list(dict.fromkeys([*ctx.tokens, *(str(a["token"]) for a in chain.opened.values())]))
    out = []
    for tok in tokens:
        deals = [i for i, a in chain.opened.items() if str(a["token"]).lower() == tok.lower()]
        earned = sum(chain.settled.get(i, 0) + chain.refunded_to_seller.get(i, 0) for i in deals)
        withdrawn = sum(v for k, v in chain.withdrawn.items() if k.lower() == tok.lower())
        out.append(Earning(tok, token_name(tok), earned, withdrawn, ctx.exchange.credit(ctx.seller, tok)))
    return out

