"""The `spartacus` app's wiring: every command that touches a chain takes --network (and, when it
signs or reads an account, --account), no option anywhere can carry a private key, and a plugin
named like a built-in command leaves the built-in in place."""

from __future__ import annotations

from importlib.metadata import EntryPoint

import typer
from typer.main import get_command
from typer.testing import CliRunner

from client.cli import COMMAND_GROUP, app, load_commands

CHAIN = {("buy",): True, ("deals",): True, ("withdraw",): True, ("survey",): True, ("audit",): False}


def _params(path: tuple[str, ...]) -> set[str]:
    cmd = get_command(app)
    for name in path:
        cmd = cmd.commands[name]  # type: ignore[attr-defined]
    return {opt for p in cmd.params for opt in getattr(p, "opts", [])}


def test_chain_commands_take_network_and_account() -> None:
    for path, signs in CHAIN.items():
        opts = _params(path)
        assert "--network" in opts, path
        assert ("--account" in opts) == signs, path


def test_no_option_of_any_command_could_carry_a_key() -> None:
    def walk(cmd, path=()):
        yield path, cmd
        for name, sub in getattr(cmd, "commands", {}).items():
            yield from walk(sub, path + (name,))

    for path, cmd in walk(get_command(app)):
        for p in cmd.params:
            for opt in getattr(p, "opts", []):
                assert not any(w in opt.lower() for w in ("key", "secret", "mnemonic", "password")), (path, opt)


def test_a_plugin_named_like_a_builtin_leaves_the_builtin() -> None:
    target = typer.Typer()

    @target.command("withdraw")
    def mine() -> None:
        """the built-in"""
        print("built-in withdraw")

    @target.command("other")
    def other() -> None:
        """another"""

    eps = [EntryPoint(name="withdraw", value="oracle.cli:withdraw", group=COMMAND_GROUP),
           EntryPoint(name="hub", value="oracle.cli:hub_app", group=COMMAND_GROUP)]
    assert load_commands(target, eps) == ["hub"]
    out = CliRunner().invoke(target, ["withdraw"])
    assert out.exit_code == 0 and "built-in withdraw" in out.output


def test_buy_display_draws_a_bar_per_download_and_a_spinner_per_wait(monkeypatch) -> None:
    from client.buyer import Progress
    from client.commands.buyer import _Display

    seen = []
    monkeypatch.setattr("client.commands.buyer.PROGRESS_HOOKS", [seen.append])
    d = _Display()
    events = [Progress(7, "opened", "deal 7 opened"), Progress(7, "waiting-quote", "waiting for the quote", 3600),
              Progress(7, "download-ciphertext", "downloading ciphertext", 1024, 4096),
              Progress(7, "download-ciphertext", "downloading ciphertext", 4096, 4096)]
    for ev in events:
        d(ev)
    assert seen == events  # every hook sees every event
    tasks = {t.description: t for t in d.progress.tasks}
    wait = tasks["deal 7: waiting for the quote"]
    down = tasks["deal 7: downloading ciphertext"]
    assert wait.total is None and wait.fields["count"] == ""
    assert (down.completed, down.total, down.fields["count"]) == (4096, 4096, "4,096/4,096 bytes")
