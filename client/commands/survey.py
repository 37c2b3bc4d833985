"""`spartacus survey`: ask the same question of many hubs at once (each holds one person's record), buy
each answer at the precision and price that hub offers within the limit, and combine them into one
estimate with its confidence interval, beside how many hubs declined, lapsed or cheated. The work is
buyer-lib's client/survey.py; this is its command line, with a progress bar over the hubs."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path
from typing import Any, ContextManager, Optional

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from client.errors import ClientError

from . import AccountOpt, NetworkOpt, abort, console, exchange_at, success, unlock, web3_for

__all__ = ["CHAIN_LOCK", "parse_category", "survey"]

#: a lock every chain call of the survey's buyer takes (None: its own); tests whose hubs share the
#: buyer's in-process chain pass theirs
CHAIN_LOCK: ContextManager[Any] | None = None


def parse_category(text: Optional[str]) -> Any:
    """A category from the command line: true/false as booleans, integers as ints, else the text."""
    if text is None:
        return None
    if text.lower() in ("true", "false"):
        return text.lower() == "true"
    try:
        return int(text)
    except ValueError:
        return text


def survey(
    hubs: Path = typer.Option(..., exists=True, dir_okay=False, help="a file of hub URLs, one a line (# comments)"),
    column: str = typer.Option(..., help="the column asked about, e.g. trip_km or heroin"),
    kind: str = typer.Option("mean", help="mean (of a numeric column) or proportion (of --category)"),
    category: Optional[str] = typer.Option(None, help="the category counted by a proportion (true for a boolean)"),
    limit: int = typer.Option(..., help="the most paid per answer, in the token's smallest unit"),
    workers: int = typer.Option(8, min=1, help="hubs asked at once"),
    alpha: float = typer.Option(0.05, help="1 - the confidence level of the interval"),
    weighting: str = typer.Option("equal", help="equal (the respondents' mean) or inverse-variance"),
    out: Path = typer.Option(Path("survey"), help="folder for the releases and survey.json"),
    state_dir: Optional[Path] = typer.Option(None, help="the buyer's deal records (default ~/.spartacus/buyer/ALIAS)"),
    wait_timeout: float = typer.Option(60.0, help="seconds one hub may keep the survey waiting before it counts as lapsed"),
    http_timeout: float = typer.Option(10.0, help="seconds one HTTP request may take"),
    poll: float = typer.Option(1.0, help="seconds between chain reads while waiting"),
    contract: Optional[str] = typer.Option(None, "--contract", envvar="SPARTACUS_CONTRACT",
                                           help="the DataExchange address (default: the first hub's)"),
    account: str = AccountOpt,
    network: Optional[str] = NetworkOpt,
) -> None:
    """Buy one answer from each hub at the precision and price it offers this buyer within --limit;
    combine them into one estimate with its confidence interval; count who declined, lapsed or cheated."""
    from client.buyer import Buyer
    from client.hub_client import HubClient
    from client.survey import Question, survey as run_survey

    from .buyer import state_dir_for

    urls = [u.strip() for u in hubs.read_text().splitlines() if u.strip() and not u.strip().startswith("#")]
    if not urls:
        abort(f"{hubs} names no hub: one URL a line")
    try:
        question = Question(column, kind, parse_category(category))
    except (ClientError, ValueError) as err:
        abort(str(err))
    acct = unlock(account)
    w3 = web3_for(network)
    if contract is None:
        try:
            with HubClient(urls[0], timeout=http_timeout) as first:
                contract = first.info().contract
        except ClientError as err:
            abort(f"no --contract given and the first hub cannot say which: {err}")
    buyer = Buyer(exchange_at(w3, contract), acct, state_dir_for(account, state_dir), chain_lock=CHAIN_LOCK,
                  poll_interval=poll, wait_timeout=wait_timeout, http_timeout=http_timeout)
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                        TimeElapsedColumn(), console=console, transient=True)
    task = progress.add_task(f"asking {len(urls)} hubs, {workers} at a time", total=len(urls))

    def on_answer(answer: Any) -> None:
        progress.advance(task)

    try:
        with progress:
            result = run_survey(buyer, urls, question, limit=limit, workers=workers, alpha=alpha,
                                weighting=weighting, release_dir=out / "releases", on_answer=on_answer)
    except (ClientError, ValueError) as err:
        abort(str(err))
    finally:
        buyer.close()
    table = Table(title=f"{len(urls)} hubs asked about {column}")
    for col in ("hub", "status", "ε", "price", "estimate ± its standard error", "detail"):
        table.add_column(col)
    for a in result.answers:
        table.add_row(a.url, a.status, a.epsilon or "", "" if a.price is None else str(a.price),
                      "" if a.value is None else f"{a.value:.4g} ± {a.variance ** 0.5:.3g}", a.detail[:80])
    console.print(table)
    out.mkdir(parents=True, exist_ok=True)
    (out / "survey.json").write_text(json.dumps({
        "question": asdict(question), "value": result.value, "variance": result.variance,
        "ci": list(result.ci) if result.ci else None, "alpha": result.alpha, "weighting": result.weighting,
        "counts": result.counts, "paid": str(result.paid), "seconds": result.seconds,
        "answers": [asdict(a) for a in result.answers]}, indent=2, default=str))
    counts = ", ".join(f"{v} {k}" for k, v in result.counts.items() if v and k != "answered") or "no other outcome"
    if result.value is None:
        abort(f"no hub answered ({counts}); paid {result.paid}; details in {out / 'survey.json'}")
    lo, hi = result.ci  # type: ignore[misc]
    success(f"estimate {result.value:.4g} ({1 - alpha:.0%} CI {lo:.4g} .. {hi:.4g}) from {result.used} of {len(urls)} "
            f"hubs ({counts}); paid {result.paid}; details in {out / 'survey.json'}")
