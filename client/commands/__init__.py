"""The buyer's and auditor's `spartacus` commands (typer + rich): `accounts`, `spec build`, `buy`,
`deals`, `withdraw`, `survey`, `audit` and `audit reprice`. Shared here: the one logger of verbs
(`success`, `abort`), `--network` / `--account` options, unlocking an account and reaching a chain.

Passphrases come from $SPARTACUS_PASSPHRASE (and a new one for `accounts change-password` from
$SPARTACUS_PASSPHRASE_NEW) or a hidden prompt. Tests replace `connect_chain` (the embedded chain is
per process: a fresh `connect("embedded")` would be an empty chain)."""

from __future__ import annotations

import getpass
import os
import sys
from typing import Any, NoReturn, Optional

import typer
from eth_account.signers.local import LocalAccount
from rich.console import Console
from web3 import Web3

from client.accounts import PASSPHRASE_ENV, AccountError, AccountStore
from client.chain.networks import NetworkError, connect
from client.errors import ClientError

__all__ = ["AccountOpt", "NetworkOpt", "abort", "checksum", "connect_chain", "console", "exchange_at", "field", "token_address", "passphrase", "store",
           "success", "unlock", "web3_for"]

console = Console(highlight=False)

NetworkOpt = typer.Option(None, "--network", help="a network named in brownie-config.yaml (default: its default), or a node's RPC URL (http://…)")
AccountOpt = typer.Option(..., "--account", help="the alias of an account (`spartacus accounts list`)")


def success(message: str) -> None:
    """One green line: the verb is done."""
    console.print(f"[green]{message}[/green]", soft_wrap=True)


def abort(message: str) -> NoReturn:
    """One red line and exit code 1: a user's mistake gets the reason, never a traceback."""
    console.print(f"[red]error:[/red] {message}", soft_wrap=True)
    raise typer.Exit(1)


def store() -> AccountStore:
    """The account folder ($SPARTACUS_ACCOUNTS_DIR or ~/.spartacus/accounts)."""
    return AccountStore()


def passphrase(prompt: str = "passphrase", *, confirm: bool = False) -> str:
    """$SPARTACUS_PASSPHRASE, else a hidden prompt (twice when `confirm`); abort if neither is possible."""
    value = os.environ.get(PASSPHRASE_ENV)
    if value is not None:
        return value
    if not sys.stdin.isatty():
        abort(f"no terminal to ask for the {prompt} on: set {PASSPHRASE_ENV} or run in a terminal")
    value = getpass.getpass(f"{prompt}: ")
    if confirm and getpass.getpass(f"{prompt} again: ") != value:
        abort("the two passphrases differ: run again")
    return value


def unlock(alias: str) -> LocalAccount:
    """The unlocked account `alias` (passphrase from the environment or a hidden prompt)."""
    try:
        info = store().info(alias)
        return store().load(alias, passphrase(f"passphrase of {alias} ({info.address})"))
    except AccountError as err:
        abort(str(err))


def connect_chain(network: Optional[str]) -> Web3:
    """A Web3 for a network of brownie-config.yaml. Tests replace this function."""
    return connect(network)


def web3_for(network: Optional[str], *, url: Optional[str] = None) -> Web3:
    """`connect_chain` (or an RPC `url`) with a user's mistake (unknown network, node down) turned into one line."""
    try:
        return connect_chain(network) if url is None else connect(network, url=url)
    except (NetworkError, ClientError) as err:
        abort(str(err))


def exchange_at(w3: Web3, contract: Optional[str]) -> Any:
    """The `Exchange` at `contract` once its code is checked to be this build's DataExchange
    (`client.chain.exchange_code`): no command sends value to a contract it has not checked."""
    from client.chain import Exchange, NotTheExchange, check_exchange_code

    if contract is None:
        abort("--contract (or $SPARTACUS_CONTRACT) is required: the DataExchange address (`spartacus browse "
              "--hub URL` shows a hub's)")
    address = checksum(contract, "--contract")
    try:
        check_exchange_code(w3, address)
    except NotTheExchange as err:
        abort(str(err))
    return Exchange(w3, address)


def token_address(value: str, what: str = "--token") -> str:
    """A payment token as a person writes it, "ETH" (any case) or an ERC-20's address, as the
    protocol writes it (the zero address for ETH); abort naming `what` for anything else."""
    from client.chain.exchange import ETH

    return ETH if value.upper() == "ETH" else checksum(value, what)


def checksum(address: str, what: str) -> str:
    """`address` checksummed, or abort naming `what` it should have been."""
    try:
        return Web3.to_checksum_address(address)
    except (ValueError, TypeError):
        abort(f"{what} {address!r} is not an address (0x and 40 hex digits)")


def field(obj: Any, name: str, default: Any = None) -> Any:
    """`obj[name]` or `obj.name`: the library's results may be dicts or dataclasses."""
    if isinstance(obj, dict):
        return obj.get(name, default)
    return getattr(obj, name, default)
