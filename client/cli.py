"""The `spartacus` command line: the demo; the buyer's `accounts`, `browse`, `spec build`, `buy`, `deals`,
`withdraw` and `survey`; the auditor's `audit` and `audit reprice`; and the hub owner's commands,
loaded from the `spartacus.commands` entry points (client/ never imports oracle/)."""

from __future__ import annotations

from importlib.metadata import EntryPoint, entry_points

import typer
from rich.console import Console

from client.commands.accounts import accounts_app
from client.commands.audit import audit_app
from client.commands.browse import browse
from client.commands.buyer import buy, deals, spec_app, withdraw
from client.commands.calibrate import spec_calibrate  # noqa: F401 - registers `spec calibrate` on spec_app
from client.commands.survey import survey

app = typer.Typer(help="Spartacus: sell data without handing it over first.", no_args_is_help=True)
console = Console()


@app.command()
def demo() -> None:
    """Run an honest deal and a proven complaint on the embedded chain, printing gas per step."""
    from client.demo import run_demo

    run_demo(console)


app.add_typer(accounts_app, name="accounts")
app.add_typer(audit_app, name="audit")
app.add_typer(spec_app, name="spec")
app.command("browse")(browse)
app.command("buy")(buy)
app.command("deals")(deals)
app.command("withdraw")(withdraw)
app.command("survey")(survey)

COMMAND_GROUP = "spartacus.commands"


def _builtin_names(target: typer.Typer) -> set[str]:
    names = {c.name or (c.callback.__name__ if c.callback else "") for c in target.registered_commands}
    return names | {g.name for g in target.registered_groups if g.name}


def load_commands(target: typer.Typer, eps: list[EntryPoint] | None = None) -> list[str]:
    """Add the commands other packages register in the entry-point group `spartacus.commands` (a
    typer app becomes a command group, a function a command), so this CLI never imports them
    itself; return the names added. A plugin that fails to import is reported, not fatal; one
    whose name a built-in command already has is reported and left out (the built-in stays)."""
    added = []
    builtin = _builtin_names(target)
    for ep in entry_points(group=COMMAND_GROUP) if eps is None else eps:
        if ep.name in builtin:
            if eps is not None:  # the installed owner's `withdraw` meets the buyer's: keep quiet at start-up
                console.print(f"[yellow]warning:[/yellow] command {ep.name!r} ({ep.value}) is a built-in; left out")
            continue
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
