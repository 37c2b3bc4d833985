"""The `spartacus` command line: run the demo, or audit a deployed exchange from its events."""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points

import typer
from rich.console import Console
from rich.table import Table

from client.audit import AuditError, check_against_chain, replay_chain
from client.chain import Exchange, connect

app = typer.Typer(help="Spartacus: sell data without handing it over first.", no_args_is_help=True)
console = Console()


@app.command()
def demo() -> None:
    """Run an honest deal and a proven complaint on the embedded chain, printing gas per step."""
    from client.demo import run_demo

    run_demo(console)


@app.command()
def audit(
    address: str = typer.Option(..., help="the DataExchange contract's address"),
    url: str = typer.Option(None, help="RPC URL of the node (default: the named network)"),
    network: str = typer.Option(None, help="a network named in brownie-config.yaml"),
) -> None:
    """Rebuild every deal and ledger from the contract's events and check them against its views."""
    ex = Exchange(connect(network, url=url), address)
    events = ex.events()
    try:
        report = replay_chain(ex, events)  # with the windows and block times: every deadline is checked
        check_against_chain(report, ex)
    except AuditError as err:
        console.print(f"[red]audit failed:[/red] {err}")
        raise typer.Exit(1) from None
    table = Table(title=f"{len(report.deals)} deals from {len(events)} events")
    for col in ("deal", "state", "buyer", "maxPrice", "price", "epsilon (milli)"):
        table.add_column(col)
    for d in report.deals.values():
        table.add_row(str(d.deal_id), d.state.name, d.buyer, str(d.max_price), str(d.price or ""), str(d.epsilon_milli or ""))
    console.print(table)
    console.print("[green]every deal, credit and ledger the events imply matches the chain[/green]")


COMMAND_GROUP = "spartacus.commands"


def load_commands(target: typer.Typer, eps: list[EntryPoint] | None = None) -> list[str]:
    """Add the commands other packages register in the entry-point group `spartacus.commands` (a
    typer app becomes a command group, a function a command), so this CLI never imports them
    itself; return the names added. A plugin that fails to import is reported, not fatal."""
    added = []
    for ep in entry_points(group=COMMAND_GROUP) if eps is None else eps:
        try:
            obj = ep.load()
        except Exception as err:  # noqa: BLE001 - one broken plugin must not take the CLI down
            console.print(f"[yellow]warning:[/yellow] command {ep.name!r} ({ep.value}) failed to load: {err}")
            continue
        if isinstance(obj, typer.Typer):
            target.add_typer(obj, name=ep.name)
        else:
            target.command(name=ep.name)(obj)
        added.append(ep.name)
    return added


load_commands(app)

if __name__ == "__main__":
    app()
