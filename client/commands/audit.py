"""`spartacus audit`: replay a deployed exchange's events over a block range with no other input,
check every deal (client/audit.py), print a table and write a JSON and a self-contained HTML
report; `spartacus audit reprice`: recompute a delivered release's price from its spec and terms
and say whether the quote is within the terms' priceTolerance (a buyer's evidence, checkable by anyone)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table

from client.audit import AuditError, check_against_chain, replay
from client.audit_report import build_report, render_html, render_plots, report_json
from client.chain import Exchange
from client.errors import ClientError

from . import NetworkOpt, abort, console, exchange_at, success, web3_for

__all__ = ["audit_app", "fetch_events", "reprice_verdict"]

audit_app = typer.Typer(help="Replay the contract's events and check every deal; or re-price a delivered release.",
                        invoke_without_command=True)


def fetch_events(ex: Exchange, from_block: int, to_block: int) -> list[tuple[str, dict[str, Any], int, int]]:
    """The exchange's decoded events in [from_block, to_block], in chain order (tests doctor them here)."""
    return ex.events(from_block, to_block)


@audit_app.callback()
def audit(
    ctx: typer.Context,
    contract: Optional[str] = typer.Option(None, "--contract", "--address", help="the DataExchange contract's address"),
    network: Optional[str] = NetworkOpt,
    from_block: int = typer.Option(0, help="first block reported (every deal is still replayed from its opening)"),
    to_block: Optional[int] = typer.Option(None, help="last block replayed (default: the latest, and then the "
                                                      "contract's views are checked too)"),
    url: Optional[str] = typer.Option(None, help="an RPC URL instead of a named network"),
    out: Optional[Path] = typer.Option(None, help="folder for audit.json and audit.html (default "
                                                  "$SPARTACUS_AUDIT_DIR/<contract>, else ~/.spartacus/audit/<contract>)"),
) -> None:
    """Replay every event of the exchange over a block range and check every deal; write JSON + HTML."""
    if ctx.invoked_subcommand is not None:
        return
    if contract is None:
        abort("--contract is required: the DataExchange address to audit")
    w3 = web3_for(network, url=url)
    ex = exchange_at(w3, contract)
    address = ex.address
    out = out if out is not None else Path(os.environ.get("SPARTACUS_AUDIT_DIR") or Path.home() / ".spartacus" / "audit") / address
    latest = int(w3.eth.block_number)
    last = latest if to_block is None else to_block
    if from_block < 0 or last < from_block:
        abort(f"block range {from_block}..{last} is empty: need 0 <= --from-block <= --to-block (latest is {latest})")
    with console.status(f"reading events of {address} up to block {last}"):
        events = fetch_events(ex, 0, last)  # the state machine needs every deal's history from its opening
        blocks = sorted({e[2] for e in events})
        timestamps = {b: int(w3.eth.get_block(b)["timestamp"]) for b in blocks}
    at_latest = last == latest
    try:
        report = replay(events, windows=ex.windows(), timestamps=timestamps)
        if at_latest:  # the views at the block replayed to: others may have transacted since
            check_against_chain(report, ex.at_block(last))
    except AuditError as err:
        out.mkdir(parents=True, exist_ok=True)
        (out / "audit.json").write_text(json.dumps({"contract": address, "fromBlock": from_block, "toBlock": last,
                                                    "verdict": "broken", "rule": err.rule, "detail": str(err)}, indent=2))
        abort(f"audit failed on {err.rule}: {err} (written to {out / 'audit.json'})")
    in_range = [e for e in events if e[2] >= from_block]
    touched = {e[1]["dealId"] for e in in_range if "dealId" in e[1]} if from_block > 0 else None
    data = build_report(report, events, timestamps, contract=address, chain_id=int(w3.eth.chain_id),
                        from_block=from_block, to_block=last, checked_against_chain=at_latest, only_deals=touched)
    table = Table(title=f"{len(data['deals'])} deals from {len(in_range)} events (blocks {from_block}..{last})")
    for col in ("deal", "outcome", "state", "buyer", "maxPrice", "price", "ε"):
        table.add_column(col)
    for d in data["deals"]:
        buyer = d["buyer"][:6] + "…" + d["buyer"][-4:]
        table.add_row(str(d["deal"]), d["outcome"], d["state"], buyer, d["maxPrice"], d["price"] or "", d["epsilon"])
    console.print(table)
    out.mkdir(parents=True, exist_ok=True)
    (out / "audit.json").write_text(report_json(data))
    with console.status("drawing the plots"):
        html = render_html(data, render_plots(data))
    (out / "audit.html").write_text(html)
    agree = "; every deal, credit and ledger matches the chain" if at_latest else ""
    success(f"audit ok: {len(data['deals'])} deals, every rule holds{agree}; report {out / 'audit.html'}")


def reprice_verdict(quoted: int, recomputed: int, tolerance: int) -> tuple[bool, int]:
    """(within tolerance, |quoted - recomputed|): protocol.md allows a difference of at most priceTolerance."""
    diff = abs(int(quoted) - int(recomputed))
    return diff <= int(tolerance), diff


@audit_app.command("reprice")
def reprice(
    spec: Path = typer.Option(..., exists=True, dir_okay=False, help="the pricing spec bundle the terms name"),
    release: Path = typer.Option(..., exists=True, dir_okay=False, help="the delivered (decrypted) release"),
    terms: Path = typer.Option(..., exists=True, dir_okay=False, help="the canonical terms document of the deal"),
    price: Optional[int] = typer.Option(None, help="the quoted price (else read from --deal's Quoted event)"),
    deal: Optional[int] = typer.Option(None, help="the deal whose quote to check (needs --contract, --network)"),
    contract: Optional[str] = typer.Option(None, "--contract", help="the DataExchange address (with --deal)"),
    network: Optional[str] = NetworkOpt,
) -> None:
    """Recompute a release's price with pricing.price and say whether the quote is within priceTolerance."""
    from pricing import PricingError
    from pricing import price as price_of

    from client.terms import parse_terms

    try:
        raw = terms.read_bytes()
        doc = parse_terms(raw)
        tolerance = int(doc.price_tolerance)
        terms_doc = json.loads(raw)
    except (ClientError, ValueError) as err:
        abort(f"{terms} is not a valid terms document: {err}")
    if price is None:
        if deal is None or contract is None:
            abort("give the quoted price: --price, or --deal with --contract (and --network) to read it on chain")
        ex = exchange_at(web3_for(network), contract)
        quoted = [a for n, a, _, _ in fetch_events(ex, 0, int(ex.w3.eth.block_number))
                  if n == "Quoted" and a["dealId"] == deal]
        if not quoted:
            abort(f"deal {deal} has no Quoted event at {ex.address}: check --deal and --contract")
        price = int(quoted[0]["price"])
    try:
        result = price_of(spec.read_bytes(), release.read_bytes(), terms_doc)
    except (PricingError, ValueError) as err:
        abort(f"cannot price {release} with {spec}: {err}")
    ok, diff = reprice_verdict(price, result.price, tolerance)
    line = (f"quoted {price}, recomputed {result.price} (efficacy {result.efficacy:.6g}, method {result.method}, "
            f"spec {result.spec_hash}): difference {diff}, tolerance {tolerance}")
    if ok:
        success(f"price within tolerance: {line}")
    else:
        abort(f"price beyond tolerance, evidence of a mispriced quote: {line}")
