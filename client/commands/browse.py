"""`spartacus browse`: what a hub sells, read before buying: its datasets (columns, label and its
categories, budget left) and the offers it makes to a buyer (precision, mechanism, price rule,
tokens, quote fee), with the commands that take an offer up. Read-only: nothing is signed."""

from __future__ import annotations

import json
from typing import Any, Optional

import typer
from rich.table import Table

from client.constants import EXACT, epsilon_text, token_text
from client.errors import ClientError, TermsError
from client.terms import epsilon_milli

from . import abort, checksum, console, store

__all__ = ["browse", "catalogue"]

#: the buyer address that sees only the offers made to everyone
NOBODY = "0x" + "00" * 20


def _names(items: Any, most: int = 6) -> str:
    """The names of a schema's columns: objects with a "name" (this project's hubs) or bare strings
    (the protocol pins neither), "—" for none."""
    if not isinstance(items, list):
        return "—" if not items else str(items)
    names = [str(i.get("name")) if isinstance(i, dict) else str(i) for i in items]
    return ", ".join(names[:most]) + (f", … ({len(names)})" if len(names) > most else "") or "—"


def _label(label: Any) -> str:
    """A schema's label: its name and categories (listed, or a count of classes) or its kind."""
    if not label:
        return "—"
    if not isinstance(label, dict):
        return str(label)
    kind = label.get("kind", "float")
    if kind == "categorical":
        cats = label.get("categories")
        if not isinstance(cats, list):
            classes = label.get("classes")
            cats = (classes if isinstance(classes, list)
                    else list(range(classes)) if isinstance(classes, int) and 0 <= classes <= 1000 else ["?"])
        return f"{label.get('name')}: {', '.join(map(str, cats))}"
    return f"{label.get('name')} ({kind})"


def _left(d: dict[str, Any]) -> str:
    cap, spent = int(d.get("epsilonCapMilli", 0)), int(d.get("epsilonSpentMilli", 0))
    return "unlimited (exact)" if cap == EXACT else epsilon_text(max(0, cap - spent))


def _affordable(d: dict[str, Any], epsilon: str) -> bool:
    """Whether dataset `d`'s budget left on chain pays for a release at `epsilon` (the hub may count
    more spent: its declined draws; it answers 422 then)."""
    cap, spent = int(d.get("epsilonCapMilli", 0)), int(d.get("epsilonSpentMilli", 0))
    if cap == EXACT:
        return True
    try:
        milli = epsilon_milli(epsilon)
    except (TermsError, ValueError):
        return True  # not ours to judge: the hub's terms check names it
    return milli != EXACT and spent + milli <= cap


def _price(pricing: dict[str, Any]) -> str:
    if pricing.get("method") == "fixed":
        return f"fixed {pricing.get('price')}"
    curve = pricing.get("curve") or {}
    params = ", ".join(f"{k} {v}" for k, v in sorted(curve.items()) if k != "kind")
    return f"MDE {pricing.get('method')} ({curve.get('kind')}: {params})"


def catalogue(hub_url: str, buyer: str) -> dict[str, Any]:
    """The hub's info, datasets and offers to `buyer`, as its API answers them."""
    from client.hub_client import HubClient

    with HubClient(hub_url) as client:
        info = client.info()
        return {"hub": hub_url, "info": {"protocol": info.protocol, "chainId": info.chain_id, "contract": info.contract,
                                         "seller": info.seller, "oracle": info.oracle},
                "datasets": client.datasets(), "buyer": buyer, "offers": client.offers(buyer)}


def browse(
    hub: str = typer.Option(..., help="the hub's URL"),
    buyer: Optional[str] = typer.Option(None, help="show the offers made to this address too (default: --account's, "
                                                   "else only those made to everyone)"),
    account: Optional[str] = typer.Option(None, "--account", help="an account alias whose offers to show (its "
                                                                  "address only: nothing is unlocked)"),
    as_json: bool = typer.Option(False, "--json", help="print the hub's answers as JSON instead of tables"),
) -> None:
    """What a hub sells: its datasets (columns, label, budget left) and the offers it makes to a buyer,
    with the commands that take one up. Read-only."""
    try:
        address = checksum(buyer, "--buyer") if buyer else (store().info(account).address if account else NOBODY)
        cat = catalogue(hub, address)
    except ClientError as err:  # an unknown alias, a hub that does not answer or speaks another protocol
        abort(str(err))
    if as_json:
        console.print_json(json.dumps(cat))
        return
    datasets = {d["datasetId"].lower(): d for d in cat["datasets"]}
    table = Table(title=f"datasets at {hub} (seller {cat['info']['seller']})")
    for col in ("dataset", "rows", "features", "label", "table columns", "ε left"):
        table.add_column(col, overflow="fold")
    for d in cat["datasets"]:
        s = d.get("schema") if isinstance(d.get("schema"), dict) else {}
        table.add_row(str(d.get("name")), str(d.get("rows")), _names(s.get("features")), _label(s.get("label")),
                      _names(s.get("columns")), _left(d))
    console.print(table)
    who = "everyone" if address == NOBODY else address
    table = Table(title=f"offers to {who}")
    for col in ("offer", "dataset", "ε", "mechanism", "price", "tokens", "min quote fee"):
        table.add_column(col, overflow="fold")
    for o in cat["offers"]:
        ds = datasets.get(str(o["datasetId"]).lower(), {})
        eps = o["release"]["epsilon"]
        if ds and not _affordable(ds, eps):
            eps = f"{eps} (budget left {_left(ds)}: not sellable)"
        table.add_row(o["offerId"], str(ds.get("name", o["datasetId"])), eps,
                      str(o["release"]["mechanism"].get("name")), _price(o["pricing"]),
                      ", ".join(token_text(t) for t in o.get("tokens", [])), str(o.get("minQuoteFee")))
    console.print(table)
    if not cat["offers"]:
        console.print("no offers: the hub makes none to this buyer yet")
        return
    console.print("to buy: spartacus buy --hub URL --dataset NAME --offer ID --budget WEI --account ALIAS; an MDE "
                  "offer needs --spec from spartacus spec calibrate --hub URL --offer ID --buyer ADDRESS", soft_wrap=True)
