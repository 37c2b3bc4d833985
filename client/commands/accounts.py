"""`spartacus accounts new|import|list|change-password|delete`: encrypted keyfiles with aliases.

A private key is never an argument: `import` reads it from a hidden prompt, or from stdin when
stdin is not a terminal (`pass show key | spartacus accounts import buyer`)."""

from __future__ import annotations

import getpass
import os
import sys

import typer
from rich.table import Table

from client.accounts import PASSPHRASE_ENV, AccountError

from . import abort, console, passphrase, store, success

__all__ = ["accounts_app"]

accounts_app = typer.Typer(help="Encrypted keyfiles with aliases (a private key is never an argument).",
                           no_args_is_help=True)


@accounts_app.command("new")
def new(alias: str = typer.Argument(..., help="a name for the new account")) -> None:
    """Make a fresh key, encrypted under a passphrase asked twice."""
    try:
        if store().path(alias).exists():
            abort(f"alias {alias!r} already exists: choose another or `spartacus accounts delete` it first")
        info = store().new(alias, passphrase(f"new passphrase for {alias}", confirm=True))
    except AccountError as err:
        abort(str(err))
    success(f"account {alias} created: {info.address} ({info.path})")


@accounts_app.command("import")
def import_(alias: str = typer.Argument(..., help="a name for the imported account")) -> None:
    """Import a private key read from a hidden prompt (or stdin), encrypted under a passphrase."""
    try:
        store().path(alias)
        if sys.stdin.isatty():
            key = getpass.getpass("private key (hex, hidden): ")
        else:
            key = sys.stdin.readline()
        if not key.strip():
            abort("no private key given: type it at the prompt or pipe it on stdin")
        info = store().import_key(alias, key, passphrase(f"new passphrase for {alias}", confirm=True))
    except AccountError as err:
        abort(str(err))
    success(f"account {alias} imported: {info.address} ({info.path})")


@accounts_app.command("list")
def list_() -> None:
    """Every alias and its address (nothing is unlocked)."""
    accounts = store().list()
    if not accounts:
        success(f"no accounts in {store().folder}: make one with `spartacus accounts new ALIAS`")
        return
    table = Table(title=f"accounts in {store().folder}")
    table.add_column("alias")
    table.add_column("address")
    for a in accounts:
        table.add_row(a.alias, a.address)
    console.print(table)
    success(f"{len(accounts)} account(s)")


@accounts_app.command("change-password")
def change_password(alias: str = typer.Argument(..., help="the account's alias")) -> None:
    """Re-encrypt an account under a new passphrase (the old one asked first)."""
    try:
        store().info(alias)
        old = passphrase(f"current passphrase of {alias}")
        store().load(alias, old)  # a wrong one fails before the new one is asked
        new_env = os.environ.get(PASSPHRASE_ENV + "_NEW")
        new = new_env if new_env is not None else passphrase_prompt_new(alias)
        info = store().change_password(alias, old, new)
    except AccountError as err:
        abort(str(err))
    success(f"account {alias} ({info.address}) re-encrypted under the new passphrase")


def passphrase_prompt_new(alias: str) -> str:
    """The new passphrase of `change-password`: hidden, twice ($SPARTACUS_PASSPHRASE_NEW without a terminal)."""
    if not sys.stdin.isatty():
        abort("no terminal to ask for the new passphrase on: set SPARTACUS_PASSPHRASE_NEW")
    value = getpass.getpass(f"new passphrase for {alias}: ")
    if getpass.getpass(f"new passphrase for {alias} again: ") != value:
        abort("the two passphrases differ: run again")
    return value


@accounts_app.command("delete")
def delete(alias: str = typer.Argument(..., help="the account's alias"),
           yes: bool = typer.Option(False, "--yes", help="do not ask for confirmation")) -> None:
    """Delete an account's keyfile after its passphrase is proven (the key is gone for good)."""
    try:
        info = store().info(alias)
        if not yes and sys.stdin.isatty() and not typer.confirm(f"delete {alias} ({info.address}) for good?"):
            abort("not deleted")
        store().delete(alias, passphrase(f"passphrase of {alias}"))
    except AccountError as err:
        abort(str(err))
    success(f"account {alias} ({info.address}) deleted")
