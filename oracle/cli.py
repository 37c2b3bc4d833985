"""The owner's commands (typer + rich): `hub init|register|serve|status|withdraw`, `dataset add|list`,
`offer set|list|remove`. Registered into the `spartacus` CLI through the entry-point
group `spartacus.commands` (client/ never imports oracle/), and run by `python -m oracle`.

The hub's one key (seller and oracle) lives only in the encrypted keystore; a private key is never
taken on the command line (it would stay in `ps` and shell history): `hub init` imports one only
from the environment variable SPARTACUS_IMPORT_KEY, else makes a fresh one."""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any, Optional

import typer
from eth_account.signers.local import LocalAccount
from rich.console import Console
from rich.progress import Progress, SpinnerColumn, TextColumn
from rich.table import Table
from web3 import Web3

from client.chain import Exchange, connect
from client.chain.errors import ContractRevert, InsufficientFunds
from client.chain.exchange import ETH, EXACT, wait_for_success
from client.chain.networks import NetworkError
from client.constants import epsilon_text, token_text

from .budget import spent_milli
from .context import HubContext
from .keystore import KeystoreError, create_keystore, keystore_address, load_keystore
from .settings import HubSettings, SettingsError, load_settings, write_config
from .store import DatasetRecord, Store

__all__ = ["owner_app", "hub_app", "dataset_app", "offer_app", "withdraw", "connect_chain", "build_context",
           "IMPORT_KEY_ENV", "OWNER_SECRET_ENV"]

IMPORT_KEY_ENV = "SPARTACUS_IMPORT_KEY"
OWNER_SECRET_ENV = "SPARTACUS_OWNER_SECRET"

console = Console()
owner_app = typer.Typer(help="The data owner's hub: keys, datasets, offers, serving.", no_args_is_help=True)
hub_app = typer.Typer(help="Set up, run and inspect the owner's hub.", no_args_is_help=True)
dataset_app = typer.Typer(help="Datasets the hub sells.", no_args_is_help=True)
offer_app = typer.Typer(help="Offers: precision, price rule, tokens and quote fee, per buyer or default.",
                        no_args_is_help=True)
owner_app.add_typer(hub_app, name="hub")
owner_app.add_typer(dataset_app, name="dataset")
owner_app.add_typer(offer_app, name="offer")

ConfigDir = typer.Option(None, "--config-dir", help="the hub's config directory (default $SPARTACUS_CONFIG_DIR "
                                                     "or ~/.spartacus/hub)")


def abort(message: str) -> None:
    """Print one red line and exit 1 (a user's mistake gets no traceback)."""
    console.print(f"[red]error:[/red] {message}")
    raise typer.Exit(1)


def success(message: str) -> None:
    """Print one green line."""
    console.print(f"[green]{message}[/green]")


def _settings(config_dir: Optional[Path], **overrides: Any) -> HubSettings:
    try:
        return load_settings(config_dir=config_dir, **overrides)
    except SettingsError as err:
        abort(str(err))
        raise  # unreachable


def connect_chain(settings: HubSettings) -> Web3:
    """The settings' chain (an RPC URL, else a network of brownie-config.yaml), or one line naming
    why not (an unknown network, a node that does not answer). Tests replace it."""
    try:
        return connect(settings.network, url=settings.rpc_url)
    except NetworkError as err:
        abort(f"{err} (the hub's chain: `network` or `rpc_url` in {settings.config_dir})")


def _passphrase(settings: HubSettings, *, confirm: bool = False) -> str:
    try:
        return settings.require_passphrase()
    except SettingsError as err:
        if not os.isatty(0):
            abort(str(err))
        import getpass

        value = getpass.getpass("keystore passphrase: ")
        if confirm and getpass.getpass("again: ") != value:
            abort("the two passphrases differ: run again")
        return value


def _account(settings: HubSettings) -> LocalAccount:
    try:
        return load_keystore(settings.keystore_path, _passphrase(settings))
    except KeystoreError as err:
        abort(str(err))
        raise  # unreachable


def _exchange(settings: HubSettings, w3: Web3 | None = None) -> Exchange:
    try:
        address = settings.require_contract()
    except SettingsError as err:
        abort(str(err))
        raise
    return Exchange(w3 or connect_chain(settings), address)


def build_context(settings: HubSettings, account: LocalAccount, w3: Web3 | None = None) -> HubContext:
    """The hub's run-time context from its settings and unlocked key (seller = oracle = that key)."""
    ex = _exchange(settings, w3)
    store = Store(settings.db_path)
    return HubContext(store=store, exchange=ex, chain_id=int(ex.w3.eth.chain_id), seller=account.address,
                      oracle=account.address, owner_secret_hash=settings.owner_secret_hash,
                      owner_session_seconds=settings.owner_session_seconds, tokens=tuple(settings.tokens),
                      signer=account)


def _owner_secret_hash(settings: HubSettings) -> str | None:
    """The owner's page secret from SPARTACUS_OWNER_SECRET or a prompt (never argv), hashed; None when
    neither is available (the page then stays locked, and `hub init` can be run again to set it)."""
    from .web import check_secret_strength, hash_secret
    from .web.security import WeakSecret

    secret = os.environ.get(OWNER_SECRET_ENV)
    if secret is None:
        if not os.isatty(0):
            if settings.owner_secret_hash is None:
                console.print(f"[yellow]no owner secret: the owner's page stays locked until `hub init` runs with "
                              f"{OWNER_SECRET_ENV} set (or at a terminal, which prompts)[/yellow]")
            return None
        import getpass

        secret = getpass.getpass("owner's page secret (empty: keep the current one): ")
        if not secret:
            return None
        if getpass.getpass("again: ") != secret:
            abort("the two secrets differ: run again")
    try:
        check_secret_strength(secret)
    except WeakSecret as err:
        abort(str(err))
    return hash_secret(secret)


def _tx(what: str, fn: Any, *args: Any, **kw: Any) -> Any:
    try:
        return fn(*args, **kw)
    except ContractRevert as err:
        abort(f"{what} reverted on chain: {err}")
    except InsufficientFunds as err:
        abort(f"{what}: {err}")


#: what `hub init --deploy` gives a key that holds nothing, from a development node's own account
DEV_FUNDING_WEI = 10 * 10**18


def _fund_from_node(w3: Web3, address: str) -> None:
    """On a development node (one holding unlocked accounts: anvil, the embedded chain), give a
    key that holds no ETH `DEV_FUNDING_WEI` from the node's first account, so `hub init --deploy`
    works from a fresh key; a node without such accounts (a public RPC) is left alone."""
    if w3.eth.get_balance(address) > 0 or not (accounts := w3.eth.accounts):
        return
    wait_for_success(w3, w3.eth.send_transaction({"from": accounts[0], "to": address, "value": DEV_FUNDING_WEI}))
    console.print(f"funded {address} with {DEV_FUNDING_WEI // 10**18} ETH from the development node's account "
                  f"{accounts[0]}")


# ---------------------------------------------------------------- hub


@hub_app.command("init")
def hub_init(
    config_dir: Optional[Path] = ConfigDir,
    network: Optional[str] = typer.Option(None, help="a network of brownie-config.yaml (embedded, anvil, sepolia)"),
    rpc_url: Optional[str] = typer.Option(None, help="an RPC URL instead of a named network"),
    contract: Optional[str] = typer.Option(None, help="the DataExchange address"),
    deploy: bool = typer.Option(False, help="deploy a new DataExchange (development chains; a key holding no ETH "
                                "first gets 10 from the node's own account)"),
    confirmations: Optional[int] = typer.Option(None, help="blocks on top before the hub acts"),
    register: bool = typer.Option(True, help="register this key as seller and oracle on chain"),
) -> None:
    """Create the config directory and the encrypted keystore, and register seller and oracle on chain."""
    settings = _settings(config_dir, network=network, rpc_url=rpc_url, contract=contract,
                         confirmations=confirmations)
    values = {k: v for k, v in {"network": network, "rpc_url": rpc_url, "contract": contract,
                                "confirmations": confirmations}.items() if v is not None}
    settings.config_dir.mkdir(parents=True, exist_ok=True)
    if settings.keystore_path.exists():
        address = keystore_address(settings.keystore_path)
        console.print(f"keystore exists at {settings.keystore_path} ({address}); keeping it")
    else:
        passphrase = _passphrase(settings, confirm=True)
        imported = os.environ.get(IMPORT_KEY_ENV)
        try:
            address = create_keystore(settings.keystore_path, passphrase,
                                      private_key=bytes.fromhex(imported.removeprefix("0x")) if imported else None)
        except (KeystoreError, ValueError) as err:
            abort(str(err) if isinstance(err, KeystoreError) else f"{IMPORT_KEY_ENV} is not a 32-byte hex key")
            raise
        success(f"keystore created at {settings.keystore_path} for {address}")
    if deploy or register:
        account = _account(settings)
        w3 = connect_chain(settings)
        if deploy:
            _fund_from_node(w3, account.address)
            ex = _tx("deploy", Exchange.deploy, w3, sender=account)
            values["contract"] = ex.address
            settings = settings.model_copy(update={"contract": ex.address})
            success(f"DataExchange deployed at {ex.address}")
        if register:
            ex = _exchange(settings, w3)
            _tx("registerSeller", ex.register_seller, account.address, sender=account)
            success(f"seller {account.address} registered with itself as oracle at {ex.address}")
    secret_hash = _owner_secret_hash(settings)
    if secret_hash is not None:
        values["owner_secret_hash"] = secret_hash
        success("owner's page secret set (stored hashed with scrypt)")
    path = write_config(settings.config_dir, values)
    Store(settings.db_path).close()
    success(f"config written to {path}; data in {settings.data_dir}")


@hub_app.command("register")
def hub_register(config_dir: Optional[Path] = ConfigDir) -> None:
    """Register (again) this hub's key as seller with itself as oracle: after funding it, or to rotate."""
    settings = _settings(config_dir)
    account = _account(settings)
    ex = _exchange(settings)
    _tx("registerSeller", ex.register_seller, account.address, sender=account)
    success(f"seller {account.address} registered at {ex.address}")


@hub_app.command("serve")
def hub_serve(
    config_dir: Optional[Path] = ConfigDir,
    host: Optional[str] = typer.Option(None, help="address to listen on (default 127.0.0.1)"),
    port: Optional[int] = typer.Option(None, help="port to listen on"),
    start_block: int = typer.Option(0, help="first block a fresh hub reads"),
) -> None:
    """Serve the HTTP API and run the chain watcher, in one process, until interrupted."""
    import uvicorn

    from .api.app import create_app
    from .pipeline import QuotePipeline
    from .watcher import Watcher

    settings = _settings(config_dir, host=host, port=port)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    account = _account(settings)
    ctx = build_context(settings, account)
    pipeline = QuotePipeline(ctx, signer=account, tokens=settings.tokens)
    pipeline.warm_up()
    watcher = Watcher(ctx, pipeline, confirmations=settings.confirmations,
                      reveal_margin_seconds=settings.reveal_margin_seconds,
                      reveal_margin_blocks=settings.reveal_margin_blocks, block_time=settings.block_time,
                      start_block=start_block, retention_seconds=settings.spec_retention_hours * 3600)
    stop = threading.Event()
    thread = threading.Thread(target=watcher.run_forever, args=(stop, settings.poll_interval), name="watcher",
                              daemon=True)
    thread.start()
    console.print(f"hub {account.address} serving http://{settings.host}:{settings.port} "
                  f"(contract {ctx.exchange.address}, {settings.confirmations} confirmations); "
                  f"owner's page at http://{settings.host}:{settings.port}/owner")
    if settings.owner_secret_hash is None:
        console.print(f"[yellow]the owner's page is locked: set a secret with `spartacus hub init` "
                      f"({OWNER_SECRET_ENV})[/yellow]")
    if settings.host not in ("127.0.0.1", "::1", "localhost"):
        console.print("[yellow]listening beyond loopback: the owner's login travels in clear unless a TLS proxy "
                      "fronts the hub[/yellow]")
    try:
        uvicorn.run(create_app(ctx), host=settings.host, port=settings.port, log_level="info")
    finally:
        stop.set()
        thread.join(timeout=10)


@hub_app.command("status")
def hub_status(config_dir: Optional[Path] = ConfigDir) -> None:
    """Datasets with the budget left on chain, deals by phase, and the credit to withdraw."""
    settings = _settings(config_dir)
    address = keystore_address(settings.keystore_path)
    ex = _exchange(settings)
    store = Store(settings.db_path)
    table = Table(title=f"datasets of {address}")
    for col in ("name", "datasetId", "rows", "cap (eps)", "spent (eps)", "of it draws not on chain", "left (eps)"):
        table.add_column(col)
    for d in store.list_datasets():
        spent = spent_milli(store, ex, address, d.dataset_id)
        left = "unlimited" if d.epsilon_cap_milli == EXACT else epsilon_text(max(0, d.epsilon_cap_milli - spent))
        table.add_row(d.name, d.dataset_id[:18] + "…", str(d.rows), epsilon_text(d.epsilon_cap_milli), epsilon_text(spent),
                      epsilon_text(store.declined_spent(d.dataset_id)), left)
    console.print(table)
    phases = store.deals_by_phase()
    console.print("deals by phase: " + (", ".join(f"{k} {v}" for k, v in phases.items()) or "none"))
    lost = [d.deal_id for d in store.list_deals() if d.lost]
    if lost:
        console.print(f"[red]deals lost to the reveal margin: {lost}[/red]")
    for token in settings.tokens:
        console.print(f"credit to withdraw in {token_text(token)}: {ex.credit(address, token)}")


# ---------------------------------------------------------------- datasets


def _parse_cap(cap: str) -> int:
    if cap == "exact":
        return EXACT
    from .pipeline import epsilon_milli_of

    try:
        milli = epsilon_milli_of(cap)
    except (ValueError, ZeroDivisionError):
        abort(f"--cap {cap!r} must be a positive decimal epsilon (e.g. 5) or 'exact'")
    return milli


@dataset_app.command("add")
def dataset_add(
    name: str = typer.Argument(..., help="the dataset's name (its id derives from it and the seller)"),
    data: Path = typer.Option(..., exists=True, dir_okay=False, help="a CSV with a header, or a safetensors file"),
    schema_file: Path = typer.Option(..., "--schema", exists=True, dir_okay=False,
                                     help="the release schema as JSON (features/label/columns, bounds declared)"),
    cap: str = typer.Option(..., help="the total privacy budget (epsilon, e.g. 5) or 'exact'"),
    replace: bool = typer.Option(False, help="replace the data of a dataset of this name already at the hub (the "
                                             "budget it spent stays spent; a cap may only be lowered)"),
    config_dir: Optional[Path] = ConfigDir,
) -> None:
    """Add a dataset: read and bound-check it, register it on chain with its cap, keep it in the store."""
    from privacy import InvalidSchema, Schema

    from .rawdata import RawDataError, dataset_id_for, encode_raw, read_csv, read_safetensors_data

    settings = _settings(config_dir)
    cap_milli = _parse_cap(cap)
    existing = next((d for d in Store(settings.db_path).list_datasets() if d.name == name), None)
    if existing is not None and not replace:
        abort(f"dataset {name} is already at this hub ({existing.rows} rows, cap "
              f"{epsilon_text(existing.epsilon_cap_milli)}): pass --replace to replace its data (the budget it "
              "spent stays spent), or choose another name")
    if existing is not None and cap_milli > existing.epsilon_cap_milli:
        abort(f"dataset {name} has a cap of {epsilon_text(existing.epsilon_cap_milli)}, and a cap may only be lowered "
              f"(the contract refuses {epsilon_text(cap_milli)}: its budget protects what was sold already): pass "
              f"--cap {epsilon_text(existing.epsilon_cap_milli)} or lower")
    try:
        schema = Schema.from_json(json.loads(schema_file.read_text()))
    except (ValueError, InvalidSchema) as err:
        abort(f"schema {schema_file}: {err}")
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), console=console, transient=True) as progress:
        task = progress.add_task(f"reading {data.name}", total=None)
        try:
            if data.suffix == ".safetensors":
                values, rows = read_safetensors_data(data, schema)
            else:
                values, rows = read_csv(data, schema, progress=lambda n: progress.update(
                    task, description=f"reading {data.name}: {n:,} rows"))
            raw = encode_raw(values, schema)
        except RawDataError as err:
            abort(str(err))
        progress.update(task, description="comparing with the hub's other datasets")
        twins = _same_rows(Store(settings.db_path), name, raw)
        progress.update(task, description="registering on chain")
        account = _account(settings)
        ex = _exchange(settings)
        dataset_id = dataset_id_for(account.address, name)
        _tx("registerDataset", ex.register_dataset, bytes.fromhex(dataset_id[2:]), cap_milli, sender=account)
        progress.update(task, description="storing")
        Store(settings.db_path).add_dataset(DatasetRecord(dataset_id, name, schema.to_json(), rows, cap_milli), raw)
    if twins:
        console.print(f"warning: {name} holds the same rows as {', '.join(twins)}. Each name keeps a privacy budget "
                      "of its own, so DP releases of them add up (together up to the sum of their caps). Sell one "
                      "name only, unless one of them is exact for trusted buyers.", soft_wrap=True)
    success(f"dataset {name} ({rows} rows) {'replaced' if existing else 'added'} as {dataset_id}, cap "
            f"{epsilon_text(cap_milli)}")


def _same_rows(store: Store, name: str, raw: bytes) -> list[str]:
    """The hub's other datasets holding the same rows as `raw` (in any order): `rawdata.rows_fingerprint`."""
    from .rawdata import rows_fingerprint

    mine = rows_fingerprint(raw)
    return [f"{d.name} (cap {epsilon_text(d.epsilon_cap_milli)})" for d in store.list_datasets()
            if d.name != name and rows_fingerprint(store.raw_data(d.dataset_id)) == mine]


@dataset_app.command("list")
def dataset_list(config_dir: Optional[Path] = ConfigDir) -> None:
    """The hub's datasets (name, id, rows, cap)."""
    store = Store(_settings(config_dir).db_path)
    table = Table()
    for col in ("name", "datasetId", "rows", "cap (milli)"):
        table.add_column(col)
    for d in store.list_datasets():
        table.add_row(d.name, d.dataset_id, str(d.rows), str(d.epsilon_cap_milli))
    console.print(table)


# ---------------------------------------------------------------- offers


def _resolve_dataset(store: Store, ref: str) -> DatasetRecord:
    rec = store.get_dataset(ref) if ref.startswith("0x") else None
    if rec is None:
        rec = next((d for d in store.list_datasets() if d.name == ref), None)
    if rec is None:
        abort(f"no dataset {ref!r} at this hub: add it with `spartacus dataset add` or see `dataset list`")
    return rec


def _budget_left(settings: HubSettings, ds: DatasetRecord) -> int | None:
    """The dataset's budget left on chain in milli-epsilon; None for an exact cap or when no contract is
    configured (then the budget is checked again when a deal is quoted)."""
    if ds.epsilon_cap_milli == EXACT or settings.contract is None or not settings.keystore_path.exists():
        return None
    seller = keystore_address(settings.keystore_path)
    spent = spent_milli(Store(settings.db_path), Exchange(connect_chain(settings), settings.contract), seller,
                        ds.dataset_id)
    return ds.epsilon_cap_milli - spent


@offer_app.command("set")
def offer_set(
    offer_id: str = typer.Argument(..., help="the offer's id, shown to buyers"),
    dataset: str = typer.Option(..., help="dataset name or id"),
    buyer: Optional[str] = typer.Option(None, help="the only buyer this offer is made to (default: everyone)"),
    epsilon: str = typer.Option(..., help="a decimal epsilon (e.g. 1, 0.25) or 'exact'"),
    mechanism: str = typer.Option("ml-laplace-rr", help="ml-laplace-rr, table (ignored for exact) or sanitizer"),
    private: Optional[str] = typer.Option(None, help="sanitizer: the private column it hides"),
    alpha: Optional[str] = typer.Option(None, help="sanitizer: privacy weight in [0, 1], e.g. 0.9"),
    variant: str = typer.Option("deterministic", help="sanitizer: deterministic or stochastic"),
    bound: list[str] = typer.Option([], help="a column's bounds for this offer, NAME=LO:HI (repeatable)"),
    clamp: bool = typer.Option(False, help="clamp out-of-bounds values instead of refusing the draw"),
    price: Optional[str] = typer.Option(None, help="a fixed price in the token's smallest unit"),
    mde_method: Optional[str] = typer.Option(None, help="the MDE method the buyer's spec must use (a DP "
                                            "release takes only one validated on it: feature-newton, "
                                            "group-influence, network-retrain, or network-newton with specs "
                                            "setting hyper.support > 0)"),
    curve: Optional[str] = typer.Option(None, help='the MDE price curve as JSON, e.g. {"kind":"linear","slope":"1e18"}'),
    token: list[str] = typer.Option([], help="a payment token this offer accepts (repeatable; default ETH)"),
    quote_fee: str = typer.Option("0", help="the minimum quote fee in the token's smallest unit"),
    config_dir: Optional[Path] = ConfigDir,
) -> None:
    """Create or replace an offer, checked arbitrage-free against the dataset's other fixed-price precisions
    and against the budget the dataset has left on chain (the same check as the owner's page)."""
    from .offers import OfferDraft, OfferRejected, build_offer, save_offer

    settings = _settings(config_dir)
    store = Store(settings.db_path)
    ds = _resolve_dataset(store, dataset)
    draft = OfferDraft(offer_id, ds, epsilon, buyer=buyer, mechanism=mechanism, bounds=tuple(bound), clamp=clamp,
                       price=price, mde_method=mde_method, curve=curve, tokens=tuple(token), quote_fee=quote_fee,
                       private=private, alpha=alpha, variant=variant)
    try:
        new = build_offer(draft, existing=store.list_offers(), hub_tokens=settings.tokens,
                          budget_left_milli=_budget_left(settings, ds))
        fitted = save_offer(store, new, ds)
    except OfferRejected as err:
        abort(err.reason)
        raise
    if fitted:
        success(f"sanitizer fitted for offer {offer_id}: {store.get_sanitizer(offer_id).weights_hash}")
    success(f"offer {offer_id} on {ds.name} for {new.buyer or 'every buyer'}: epsilon {epsilon}, "
            f"{'price ' + new.pricing['price'] if price is not None else 'MDE ' + str(mde_method)}")


@offer_app.command("list")
def offer_list(
    buyer: Optional[str] = typer.Option(None, help="show what this buyer is offered (its own and the defaults)"),
    config_dir: Optional[Path] = ConfigDir,
) -> None:
    """List offers: all, or those a buyer sees."""
    store = Store(_settings(config_dir).db_path)
    offers = store.offers_for(buyer) if buyer else store.list_offers()
    names = {d.dataset_id: d.name for d in store.list_datasets()}
    table = Table()
    for col in ("offerId", "dataset", "buyer", "epsilon", "mechanism", "price rule", "tokens", "min quote fee"):
        table.add_column(col)
    for o in offers:
        rule = f"fixed {o.pricing['price']}" if o.pricing.get("method") == "fixed" else \
            f"{o.pricing['method']} {json.dumps(o.pricing.get('curve'), sort_keys=True)}"
        table.add_row(o.offer_id, names.get(o.dataset_id, o.dataset_id), o.buyer or "(default)",
                      str(o.release["epsilon"]), o.release["mechanism"]["name"], rule,
                      ", ".join(token_text(t) for t in o.tokens), str(o.min_quote_fee))
    console.print(table)


@offer_app.command("remove")
def offer_remove(offer_id: str, config_dir: Optional[Path] = ConfigDir) -> None:
    """Withdraw an offer (terms accepted under it stay valid)."""
    if not Store(_settings(config_dir).db_path).delete_offer(offer_id):
        abort(f"no offer {offer_id!r}: see `spartacus offer list`")
    success(f"offer {offer_id} removed")


# ---------------------------------------------------------------- withdraw


@hub_app.command("withdraw")
def withdraw(
    token: str = typer.Option(ETH, help="the token to withdraw (default ETH)"),
    config_dir: Optional[Path] = ConfigDir,
) -> None:
    """Pull the credit the contract holds for this hub's key in `token`."""
    settings = _settings(config_dir)
    account = _account(settings)
    ex = _exchange(settings)
    if not Web3.is_address(token):
        abort(f"--token {token!r} is not an address")
    amount = ex.credit(account.address, token)
    if amount == 0:
        abort(f"no credit to withdraw in {token_text(token)} for {account.address}")
    _tx("withdraw", ex.withdraw, token, sender=account)
    success(f"withdrew {amount} of {token_text(token)} to {account.address}")


# `python -m oracle withdraw`, the name before it moved under `hub` (where `spartacus withdraw`, the
# buyer's built-in, no longer hides it); hidden, so help lists the one name.
owner_app.command("withdraw", hidden=True)(withdraw)
