"""`spartacus survey`: ask the same question of many hubs at once and combine the answers (buyer-lib's
client/survey.py does the work; this is its command line with progress and a summary table)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from client.errors import ClientError

from . import AccountOpt, NetworkOpt, abort, console, field, success, unlock, web3_for

__all__ = ["survey"]


def survey(
    hubs: Path = typer.Option(..., exists=True, dir_okay=False, help="a file of hub URLs, one a line"),
    dataset: str = typer.Option(..., help="the dataset name every hub sells (each hub holds one person's record)"),
    budget: str = typer.Option(..., help="maxPrice locked per hub, in the token's smallest unit"),
    limit: Optional[str] = typer.Option(None, help="the most paid per answer (default: the budget)"),
    concurrency: int = typer.Option(16, min=1, help="hubs asked at once"),
    confidence: float = typer.Option(0.95, help="the confidence level of the interval"),
    out: Path = typer.Option(Path("survey"), help="folder for the releases"),
    account: str = AccountOpt,
    network: Optional[str] = NetworkOpt,
) -> None:
    """Buy one answer from each hub at the precision and price it offers this buyer; combine them into
    one estimate with its confidence interval, beside how many hubs declined, lapsed or cheated."""
    try:
        from client import survey as lib
    except ImportError:
        abort("the survey library (client/survey.py) is not installed in this checkout")
    urls = [u.strip() for u in hubs.read_text().splitlines() if u.strip() and not u.startswith("#")]
    if not urls:
        abort(f"{hubs} names no hub: one URL a line")
    acct = unlock(account)
    w3 = web3_for(network)
    with console.status(f"asking {len(urls)} hubs, {concurrency} at a time") as status:
        def on_progress(done: int, total: int) -> None:
            status.update(f"{done}/{total} hubs answered")

        try:
            result = lib.run_survey(w3, acct, urls, dataset, budget=int(budget), limit=int(limit or budget),
                                    concurrency=concurrency, confidence=confidence, out=out, progress=on_progress)
        except (ClientError, ValueError) as err:
            abort(str(err))
    table = Table(title=f"survey of {len(urls)} hubs")
    table.add_column("outcome")
    table.add_column("hubs")
    for k, v in sorted((field(result, "outcomes") or {}).items()):
        table.add_row(str(k), str(v))
    console.print(table)
    lo, hi = field(result, "ci", (None, None))
    success(f"estimate {field(result, 'estimate')} ({confidence:.0%} CI {lo} .. {hi}) from "
            f"{field(result, 'used')} answers; spent {field(result, 'spent')}")
