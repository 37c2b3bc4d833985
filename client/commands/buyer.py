"""The buyer's commands: `spec build` (a pricing spec from the buyer's own model and data, which stay
on this machine), `buy` (one whole deal through buyer-lib's workflow, resumable), `deals` (this
account's deals and their phases, from the chain) and `withdraw` (pull this account's credit).

Models are never unpickled: a torch network is a safetensors file of its weights plus a JSON of
its layers; any other model (a scikit-learn estimator) is built by the buyer's own code, named
as `--factory path/to/file.py:function` or `module:function` and called with the training data."""

from __future__ import annotations

import importlib
import importlib.util
import json
from pathlib import Path
from typing import Any, Callable, Optional, Sequence

import numpy as np
import typer
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn
from rich.table import Table

from client.chain import Exchange, State
from client.chain.errors import ContractRevert
from client.chain.exchange import ETH
from client.constants import MAX_RELEASE_BYTES, epsilon_text, token_text
from client.errors import ClientError
from common.csv_dialect import RaggedRow, is_number, split_table

from . import (AccountOpt, NetworkOpt, abort, checksum, console, exchange_at, field, success, token_address, unlock,
               web3_for)

__all__ = ["ArchitectureError", "DataFileError", "build_torch_model", "buy", "buyer_data", "deals", "load_factory",
           "load_table", "spec_app", "withdraw"]

spec_app = typer.Typer(help="Pricing specs: what the hub runs to price a release for this buyer's model.",
                       no_args_is_help=True)
ContractOpt = typer.Option(None, "--contract", envvar="SPARTACUS_CONTRACT", help="the DataExchange address")


class DataFileError(ClientError, ValueError):
    """A data file that is not a CSV with a header or a safetensors file with `features` and `label`."""


class ArchitectureError(ClientError, ValueError):
    """An architecture JSON that does not describe a network of allow-listed layers matching its weights."""


# ---------------------------------------------------------------- spec build


def load_table(path: Path, label: str | None, categories: Sequence[Any] | None = None
               ) -> tuple[np.ndarray, np.ndarray, list[str], str]:
    """(features [n, d], label [n], feature names, label name) from a CSV with a header row (comma,
    semicolon or tab separated; the label column named `label`, default the last one) or a
    safetensors file of `features` and `label`. With the dataset's label `categories`, a CSV's
    label may be written as the categories themselves (e.g. no/yes): each reads as its index."""
    if path.suffix == ".safetensors":
        from safetensors.numpy import load_file

        try:
            tensors = load_file(str(path))
        except Exception as err:  # noqa: BLE001 - the library's own error types vary by version
            raise DataFileError(f"{path} is not a safetensors file: {err}") from None
        if "features" not in tensors or "label" not in tensors:
            raise DataFileError(f"{path} holds {sorted(tensors)}; it needs tensors named 'features' and 'label'")
        x = np.asarray(tensors["features"], np.float64)
        if x.ndim != 2:
            raise DataFileError(f"{path}: 'features' must be 2-D [rows, columns], got shape {x.shape}")
        return x, np.asarray(tensors["label"]).reshape(-1), [f"x{i}" for i in range(x.shape[1])], label or "label"
    try:
        table = split_table(path.read_bytes().decode("utf-8"))
    except OSError as err:
        raise DataFileError(f"cannot read {path}: {err}") from None
    except UnicodeDecodeError:
        raise DataFileError(f"{path} is not UTF-8 text: save it as CSV UTF-8") from None
    except RaggedRow as err:
        raise DataFileError(f"{path}: {err}") from None
    header, body = table.header, table.rows
    if not body:
        raise DataFileError(f"{path} needs a header row and at least one data row")
    name = label or header[-1]
    if name not in header:
        raise DataFileError(f"{path} has no column {name!r} (columns: {', '.join(header)}): pass --label")
    j = header.index(name)
    if categories is not None:
        index = {str(c): str(i) for i, c in enumerate(categories)}
        body = [[index.get(v, v) if i == j else v for i, v in enumerate(r)] for r in body]
    values = np.empty((len(body), len(header)), np.float64)
    for i, r in enumerate(body):
        try:
            values[i] = [float(v) for v in r]
        except ValueError as err:
            if "" in r:
                raise DataFileError(f"{path}: column {header[r.index('')]!r} is empty on line {table.lines[i]}: "
                                    "fill it or drop the row") from None
            if not is_number(r[j]):
                raise DataFileError(f"{path}: the label column {name!r} holds {r[j]!r} on line {table.lines[i]}; "
                                    "it must hold class indices (0, 1, ... in the order of the dataset's "
                                    "categories)") from None
            raise DataFileError(f"{path}: every value must be a number; line {table.lines[i]}: {err}") from None
    if np.isnan(values).any():
        line = table.lines[int(np.flatnonzero(np.isnan(values).any(axis=1))[0])]
        raise DataFileError(f"{path}: line {line} has a missing value (NaN): fill it or drop the row")
    return np.delete(values, j, axis=1), values[:, j], [h for i, h in enumerate(header) if i != j], name


_ACTIVATIONS = ("relu", "tanh", "sigmoid")


def build_torch_model(arch: Any, weights: dict[str, np.ndarray]) -> Any:
    """A torch nn.Sequential from `{"layers": [{"type": "linear", "in": d, "out": k}, {"type": "relu"}, ...]}`
    with weights named as its state dict (`0.weight`, `0.bias`, ...): every tensor used, every shape checked."""
    import torch
    import torch.nn as nn

    layers = arch.get("layers") if isinstance(arch, dict) else None
    if not isinstance(layers, list) or not layers:
        raise ArchitectureError('the architecture JSON needs {"layers": [...]} with at least one layer')
    mods: list[Any] = []
    for i, layer in enumerate(layers):
        kind = layer.get("type") if isinstance(layer, dict) else None
        if kind == "linear":
            try:
                mods.append(nn.Linear(int(layer["in"]), int(layer["out"]), bias=bool(layer.get("bias", True))))
            except (KeyError, TypeError, ValueError):
                raise ArchitectureError(f"layer {i}: a linear layer needs integer 'in' and 'out'") from None
        elif kind in _ACTIVATIONS:
            mods.append({"relu": nn.ReLU, "tanh": nn.Tanh, "sigmoid": nn.Sigmoid}[kind]())
        else:
            raise ArchitectureError(f"layer {i}: type {kind!r} is not one of linear, {', '.join(_ACTIVATIONS)}")
    model = nn.Sequential(*mods).double()
    state = model.state_dict()
    missing, extra = sorted(set(state) - set(weights)), sorted(set(weights) - set(state))
    if missing or extra:
        raise ArchitectureError(f"the weights do not fit the architecture: missing {missing}, unexpected {extra}")
    for name, tensor in state.items():
        if tuple(weights[name].shape) != tuple(tensor.shape):
            raise ArchitectureError(f"weight {name} has shape {tuple(weights[name].shape)}, the architecture needs "
                                    f"{tuple(tensor.shape)}")
    model.load_state_dict({k: torch.as_tensor(np.asarray(v, np.float64)) for k, v in weights.items()})
    return model.eval()


def load_factory(ref: str) -> Callable[..., Any]:
    """The buyer's own model-building function, `file.py:function` or `module:function` (its code, not a pickle)."""
    target, sep, fn = ref.rpartition(":")
    if not sep or not target or not fn:
        raise ArchitectureError(f"--factory {ref!r} must be 'path/to/file.py:function' or 'module:function'")
    if target.endswith(".py"):
        spec = importlib.util.spec_from_file_location(Path(target).stem, target)
        if spec is None or spec.loader is None or not Path(target).is_file():
            raise ArchitectureError(f"--factory: no Python file at {target}")
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    else:
        try:
            module = importlib.import_module(target)
        except ImportError as err:
            raise ArchitectureError(f"--factory: cannot import module {target!r}: {err}") from None
    obj = getattr(module, fn, None)
    if not callable(obj):
        raise ArchitectureError(f"--factory: {target} has no function {fn!r}")
    return obj


def _classes(y: np.ndarray, given: Optional[int]) -> int:
    if given is not None:
        return given
    if np.all(np.equal(np.mod(y, 1), 0)) and 2 <= len(np.unique(y)) <= 64:
        return int(y.max()) + 1
    return 0


def _hyper(items: list[str]) -> dict[str, float]:
    """`NAME=NUMBER` pairs as the builder's `hyper` mapping."""
    out: dict[str, float] = {}
    for item in items:
        name, sep, value = item.partition("=")
        try:
            if not sep or not name:
                raise ValueError
            out[name.strip()] = float(value)
        except ValueError:
            raise ArchitectureError(f"--hyper {item!r} must be NAME=NUMBER, e.g. --hyper refit_scaler=1") from None
    return out


def buyer_data(train: Path, val: Optional[Path], label: Optional[str], classes: Optional[int],
               categories: Sequence[Any] | None = None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, list[str], str, int]:
    """(x, y, x_val, y_val, feature names, label name, classes) of a spec command's --train and --val
    (default: the last 20% of --train), the classes inferred unless given; `categories` as
    `load_table` reads them."""
    x, y, names, label_name = load_table(train, label, categories)
    if val is not None:
        xv, yv, _, _ = load_table(val, label, categories)
        if xv.shape[1] != x.shape[1]:
            raise DataFileError(f"{val} has {xv.shape[1]} feature columns, {train} has {x.shape[1]}")
    else:
        cut = max(1, int(len(x) * 0.8))
        if cut >= len(x):
            raise DataFileError(f"{train} has too few rows ({len(x)}) to split off validation: pass --val")
        x, xv, y, yv = x[:cut], x[cut:], y[:cut], y[cut:]
    return x, y, xv, yv, names, label_name, _classes(np.concatenate([y, yv]), classes)


@spec_app.command("build")
def spec_build(
    train: Path = typer.Option(..., exists=True, dir_okay=False,
                               help="training data: CSV with a header (comma, semicolon or tab separated), or safetensors"),
    val: Optional[Path] = typer.Option(None, exists=True, dir_okay=False, help="validation data (default: last 20% of --train)"),
    out: Path = typer.Option(Path("spec.bundle"), help="where to write the spec bundle"),
    method: str = typer.Option("influence", help="pricing method: influence, group-influence, tree, distilled, "
                                                 "feature-newton, network-newton, network-retrain (or let "
                                                 "`spartacus spec calibrate` choose it on your own rows)"),
    model: Optional[Path] = typer.Option(None, exists=True, dir_okay=False, help="a torch network's weights (safetensors)"),
    arch: Optional[Path] = typer.Option(None, exists=True, dir_okay=False, help="the network's layers (JSON), with --model"),
    factory: Optional[str] = typer.Option(None, help="file.py:function or module:function: the buyer's own code that "
                                                     "returns a fitted model, called as function(x_train, y_train)"),
    label: Optional[str] = typer.Option(None, help="the label column of a CSV (default: the last column)"),
    classes: Optional[int] = typer.Option(None, help="number of classes (0: regression; default: inferred)"),
    l2: Optional[float] = typer.Option(None, help="L2 of the refitted head (default: the model's own)"),
    rank: int = typer.Option(64, help="eigenpairs kept (group-influence, network-newton)"),
    solver: str = typer.Option("exact", help="inverse-Hessian solver: exact, cg, lissa"),
    seed: int = typer.Option(0, help="the spec's seed"),
    copies: str = typer.Option("lower", help="duplicate records in a release: lower or drop"),
    dedup_tol: float = typer.Option(0.0, help="distance under which two records are copies"),
    probe: Optional[Path] = typer.Option(None, exists=True, dir_okay=False,
                                         help="the labelled probe set shipped in the spec (default: the validation set)"),
    anchor: Optional[Path] = typer.Option(None, exists=True, dir_okay=False,
                                          help="network-newton (optional), network-retrain (needed): unlabelled inputs "
                                               "the buyer chooses to show (features "
                                               "of a CSV/safetensors; its label column is ignored)"),
    anchor_labels: bool = typer.Option(False, "--anchor-labels", help="network-retrain: ship the --anchor file's label "
                                       "column too (the hub then sees those rows labelled; it retrains on them)"),
    hyper: list[str] = typer.Option([], help="a method hyper-parameter NAME=NUMBER (repeatable); network-newton "
                                             "needs support=1 (or 2) to price a DP offer's release"),
    tree_samples: int = typer.Option(2000, help="tree/distilled: extra inputs sampled to read the model on"),
    tree_leaves: int = typer.Option(64, help="tree: at most this many leaves"),
    student_hidden: int = typer.Option(32, help="distilled: the student network's hidden width"),
    student_epochs: int = typer.Option(300, help="distilled: the student's training epochs"),
) -> None:
    """Build a pricing spec from this buyer's model and data (they never leave this machine); print its hash."""
    from pricing import PricingError, parse_spec
    from pricing.builders import build_spec

    if (model is None) == (factory is None) or (model is not None and arch is None):
        abort("name the model one way: --model WEIGHTS.safetensors with --arch LAYERS.json, or --factory file.py:function")
    try:
        x, y, xv, yv, names, label_name, k = buyer_data(train, val, label, classes)
        probe_xy = None
        if probe is not None:
            px, py, _, _ = load_table(probe, label)
            probe_xy = (px, py)
        if anchor_labels and anchor is None:
            raise DataFileError("--anchor-labels ships the label column of --anchor FILE: pass --anchor too")
        anchor_x, anchor_y = load_table(anchor, label)[:2] if anchor is not None else (None, None)
        hyper_values = _hyper(hyper)
        if model is not None:
            from safetensors.numpy import load_file

            try:
                weights = load_file(str(model))
            except Exception as err:  # noqa: BLE001
                raise ArchitectureError(f"{model} is not a safetensors file: {err}") from None
            try:
                arch_doc = json.loads(arch.read_text())  # type: ignore[union-attr]
            except (OSError, ValueError) as err:
                raise ArchitectureError(f"{arch} is not JSON: {err}") from None
            net = build_torch_model(arch_doc, weights)
        else:
            net = load_factory(factory)(x, y)  # type: ignore[arg-type]
        with console.status(f"building a {method} spec from {len(x)} training rows"):
            bundle = build_spec(method, net, x, y, xv, yv, classes=k, feature_names=names, label_name=label_name,
                                l2=l2, rank=rank, solver=solver, seed=seed, copies=copies, dedup_tol=dedup_tol,
                                probe=probe_xy, anchor=anchor_x, anchor_labels=anchor_y if anchor_labels else None,
                                hyper=hyper_values or None,
                                tree_samples=tree_samples, tree_leaves=tree_leaves, student_hidden=student_hidden,
                                student_epochs=student_epochs)
            parsed = parse_spec(bundle)
    except (ClientError, PricingError, ValueError) as err:
        abort(str(err))
    out.write_bytes(bundle)
    success(f"spec {parsed.hash} ({len(bundle)} bytes, method {parsed.method}) written to {out}")


# ---------------------------------------------------------------- buy, deals, withdraw

#: extra observers of every buyer progress event (tests step a hub's watcher here)
PROGRESS_HOOKS: list[Callable[[Any], None]] = []


def state_dir_for(alias: str, given: Optional[Path]) -> Path:
    """Where the buyer library keeps this account's deals: `given`, else $SPARTACUS_BUYER_DIR/<alias>,
    else ~/.spartacus/buyer/<alias>."""
    import os

    if given is not None:
        return given
    return Path(os.environ.get("SPARTACUS_BUYER_DIR") or Path.home() / ".spartacus" / "buyer") / alias


class _Display:
    """Buyer progress events as rich output: a bar for each download and wait, one line per step."""

    def __init__(self) -> None:
        self.progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                                 TextColumn("{task.fields[count]}"), console=console, transient=True)
        self.tasks: dict[str, Any] = {}

    def __call__(self, ev: Any) -> None:
        for hook in PROGRESS_HOOKS:
            hook(ev)
        stage, done, total = field(ev, "stage", ""), field(ev, "done"), field(ev, "total")
        key = f"{field(ev, 'deal_id')}:{stage}"
        if done is not None:
            desc = f"deal {field(ev, 'deal_id')}: {field(ev, 'message', stage)}"
            waiting = str(stage).startswith("waiting")  # done counts seconds left: a spinner, not a bar
            count = "" if waiting else f"{done:,}/{total:,} bytes" if total else f"{done:,} bytes"
            if key not in self.tasks:
                self.tasks[key] = self.progress.add_task(desc, total=None if waiting else total, count=count)
            self.progress.update(self.tasks[key], completed=0 if waiting else done, total=None if waiting else total,
                                 description=desc, count=count)
        else:
            self.progress.console.print(f"  deal {field(ev, 'deal_id') or '-'}: {field(ev, 'message', stage)}",
                                        soft_wrap=True)


def _pick_offer(hub_client: Any, buyer: str, dataset: Optional[str], offer: Optional[str]) -> str:
    """The offer to take up: `offer`, else the hub's only offer to this buyer on `dataset` (id or name)."""
    offers = hub_client.offers(buyer)
    if offer is not None:
        return offer
    if dataset is None:
        abort("give --offer or --dataset: which of the hub's offers to take up")
    ids = {d.get("datasetId"): d.get("name") for d in hub_client.datasets()}
    wanted = {k for k, v in ids.items() if dataset in (k, v) or dataset.lower() == str(k).lower()}
    fit = [o for o in offers if o.get("datasetId") in wanted]
    if len(fit) != 1:
        listing = ", ".join(f"{o['offerId']} (ε {o['release'].get('epsilon')}, {o['pricing'].get('method')})"
                            for o in fit) or "none"
        abort(f"the hub makes {len(fit)} offers to {buyer} on dataset {dataset!r}: {listing}; pick one with --offer")
    return str(fit[0]["offerId"])


def _pick_token(offers: list[dict[str, Any]], offer_id: str, token: Optional[str]) -> str:
    """The token to pay `offer_id` in: `token` (checked against the offer's list), else ETH when the
    offer takes it, else the offer's only token; several and none named: abort listing them."""
    chosen = None if token is None else token_address(token)
    listed = next((list(o.get("tokens") or [ETH]) for o in offers if o.get("offerId") == offer_id), None)
    if listed is None:  # an offer id the hub does not list: Buyer.buy names the ones it has
        return chosen or ETH
    if chosen is not None:
        if chosen.lower() not in {t.lower() for t in listed}:
            abort(f"offer {offer_id!r} takes {', '.join(token_text(t) for t in listed)}, not {token_text(chosen)}: "
                  "pick one of them with --token")
        return chosen
    if any(int(t, 16) == 0 for t in listed):
        return ETH
    if len(listed) == 1:
        return checksum(listed[0], "the offer's token")
    abort(f"offer {offer_id!r} takes {', '.join(listed)}: pick one with --token")


def _report(results: list[Any]) -> None:
    """One line per deal; success if every deal settled or is still waiting, else abort with the first failure."""
    failed = []
    for r in results:
        outcome = field(r, "outcome")
        name = getattr(outcome, "value", outcome)
        if name is None:
            console.print(f"deal {field(r, 'deal_id')}: still open ({field(r, 'reason')}); carry on with "
                          "`spartacus buy --resume`", soft_wrap=True)
        elif name == "settled":
            if field(r, "not_a_release"):
                extra = (f"; NOT A RELEASE: {field(r, 'not_a_release')} (the chunks match the seller's commitment, "
                         f"so the contract cannot refund it); evidence in {field(r, 'evidence_dir')}")
            elif field(r, "mispriced"):
                extra = f"; MISPRICED: recomputed {field(r, 'repriced')}, evidence in {field(r, 'evidence_dir')}"
            elif field(r, "repriced") is None:
                kept = f"; evidence in {field(r, 'evidence_dir')}" if field(r, "evidence_dir") else ""
                extra = f" (not re-priced: {field(r, 'reason') or 'its spec is not in this state folder'}{kept})"
            else:
                extra = f" (re-priced {field(r, 'repriced')}: within tolerance)"
            console.print(f"deal {field(r, 'deal_id')}: settled at {field(r, 'price')}, release "
                          f"{field(r, 'release_path')}{extra}", soft_wrap=True)
        else:
            failed.append(r)
            console.print(f"deal {field(r, 'deal_id')}: {name}: {field(r, 'reason') or ''}; buyer credited "
                          f"{field(r, 'to_buyer')} (`spartacus withdraw`)"
                          + (f"; evidence in {field(r, 'evidence_dir')}" if field(r, "evidence_dir") else ""),
                          soft_wrap=True)
    if failed:
        r = failed[0]
        abort(f"deal {field(r, 'deal_id')} ended {getattr(field(r, 'outcome'), 'value', '')}: nothing bought "
              f"({len(failed)} of {len(results)} deal(s) without a release)")
    success(f"{len(results)} deal(s) done or waiting")


def buy(
    hub: Optional[str] = typer.Option(None, help="the hub's URL (not needed with --resume)"),
    dataset: Optional[str] = typer.Option(None, help="the dataset (id or name at the hub)"),
    offer: Optional[str] = typer.Option(None, help="the offer id (default: the hub's only offer on --dataset)"),
    budget: Optional[int] = typer.Option(None, help="maxPrice locked, in the token's smallest unit"),
    limit: Optional[int] = typer.Option(None, help="the most this buyer accepts to pay (default: the budget)"),
    quote_fee: Optional[int] = typer.Option(None, help="the quote fee offered (default: the offer's minimum)"),
    tolerance: int = typer.Option(0, help="priceTolerance written in the terms"),
    spec: Optional[Path] = typer.Option(None, exists=True, dir_okay=False, help="the pricing spec (MDE offers)"),
    release: Optional[Path] = typer.Option(None, help="where to write the release (default: in the state folder)"),
    state_dir: Optional[Path] = typer.Option(None, help="the buyer's deal records (default ~/.spartacus/buyer/ALIAS)"),
    wait_timeout: Optional[float] = typer.Option(None, help="seconds to wait for the hub before leaving a deal open"),
    poll: float = typer.Option(2.0, help="seconds between chain reads while waiting"),
    max_bytes: int = typer.Option(MAX_RELEASE_BYTES, "--max-bytes", help="reject a quote whose ciphertext and "
                                  "leaves exceed this many bytes, before downloading anything"),
    resume: bool = typer.Option(False, "--resume", help="carry on every open deal of this account instead"),
    token: Optional[str] = typer.Option(None, "--token", help="pay in this ERC-20 (its address) or ETH (default: ETH "
                                                              "when the offer takes it, else the offer's only token)"),
    contract: Optional[str] = ContractOpt,
    account: str = AccountOpt,
    network: Optional[str] = NetworkOpt,
) -> None:
    """Buy a release from a hub (check its oracle on chain, upload spec and terms, open the deal, wait for
    the quote, download and check, accept or reject, decrypt, re-price, confirm or complain)."""
    from client.buyer import Buyer
    from client.hub_client import HubClient

    if not resume and (hub is None or budget is None):
        abort("give --hub and --budget (and --dataset or --offer), or --resume to carry on open deals")
    acct = unlock(account)
    w3 = web3_for(network)
    folder = state_dir_for(account, state_dir)
    display = _Display()
    buyer = None
    try:
        if resume:
            ex = exchange_at(w3, contract)
            buyer = Buyer(ex, acct, folder, poll_interval=poll, wait_timeout=wait_timeout,
                          max_release_bytes=max_bytes)
            with display.progress:
                results = buyer.resume_all(progress=display)
            if not results:
                success(f"no open deal of {account} in {folder}")
                return
        else:
            with HubClient(hub) as client:  # type: ignore[arg-type]
                info = client.info()
                chosen = _pick_offer(client, acct.address, dataset, offer)
                pay_in = _pick_token(client.offers(acct.address), chosen, token)
            ex = exchange_at(w3, contract or info.contract)
            buyer = Buyer(ex, acct, folder, poll_interval=poll, wait_timeout=wait_timeout,
                          max_release_bytes=max_bytes)
            with display.progress:
                results = [buyer.buy(hub, chosen, max_price=budget, limit=limit,  # type: ignore[arg-type]
                                     quote_fee=quote_fee, price_tolerance=tolerance,
                                     spec=spec.read_bytes() if spec else None, release_path=release,
                                     token=pay_in, progress=display)]
    except ContractRevert as err:
        abort(f"a transaction reverted on chain: {err}")
    except (ClientError, ValueError) as err:
        from client.buyer import StillWaiting

        if isinstance(err, StillWaiting):
            console.print(f"deal still open: {err}", soft_wrap=True)
            success("carry on later with `spartacus buy --resume`")
            return
        abort(str(err))
    finally:
        if buyer is not None:
            buyer.close()
    _report(results)


def _exchange(network: Optional[str], contract: Optional[str], folder: Optional[Path] = None) -> Exchange:
    """The exchange `contract`, else the one this buyer's records in `folder` name (its only one)."""
    if contract is None and folder is not None:
        contract = _contract_of_records(folder)
    return exchange_at(web3_for(network), contract)


def _contract_of_records(folder: Path) -> Optional[str]:
    """The one exchange the deal records in `folder` were made on; None without records; abort if several."""
    from client.buyer import DealStore

    if not folder.is_dir():
        return None
    store = DealStore(folder)
    found = {r.contract for r in [*store.records(), *store.pending()]}
    if len(found) > 1:
        abort(f"this account's records name {len(found)} exchanges ({', '.join(sorted(found))}): pick one with --contract")
    return found.pop() if found else None


def deals(
    account: str = AccountOpt,
    network: Optional[str] = NetworkOpt,
    contract: Optional[str] = ContractOpt,
    state_dir: Optional[Path] = typer.Option(None, help="the buyer's deal records (default ~/.spartacus/buyer/ALIAS)"),
) -> None:
    """This account's deals and their phases, read from the chain, beside the buyer's own record of
    each (how far it got, the outcome); nothing is unlocked."""
    from client.buyer import DealStore

    from . import store

    try:
        me = store().info(account).address
    except ClientError as err:
        abort(str(err))
    folder = state_dir_for(account, state_dir)
    ex = _exchange(network, contract, folder)
    with console.status("reading the exchange's events"):
        events = ex.events()
    mine = {a["dealId"]: a for n, a, _, _ in events if n == "DealOpened" and a["buyer"] == me}
    quotes = {a["dealId"]: a for n, a, _, _ in events if n == "Quoted" and a["dealId"] in mine}
    local = {r.deal_id: r for r in DealStore(folder).records()} if folder.is_dir() else {}
    table = Table(title=f"deals of {account} ({me}) at {ex.address}")
    for col in ("deal", "seller", "phase", "deadline", "maxPrice", "price", "ε", "buyer's record"):
        table.add_column(col)
    for deal_id, opened in sorted(mine.items()):
        q = quotes.get(deal_id)
        state = ex.state(deal_id)
        rec = local.get(deal_id)
        note = "" if rec is None else f"{rec.stage}{' / ' + rec.outcome if rec.outcome else ''}"
        table.add_row(str(deal_id), opened["seller"], state.name, str(ex.deadline(deal_id) or ""),
                      str(opened["maxPrice"]), str(q["price"]) if q else "", epsilon_text(q["epsilonMilli"]) if q else "", note)
    console.print(table)
    live = sum(1 for d in mine if ex.state(d) not in (State.SETTLED, State.REFUNDED))
    tokens = sorted({ETH} | {a["token"] for a in mine.values()}, key=lambda t: int(t, 16))
    credits = [f"{ex.credit(me, t)} {'wei' if int(t, 16) == 0 else 'of ' + t}" for t in tokens]
    success(f"{len(mine)} deal(s), {live} still open; credit {', '.join(credits)} withdrawable"
            + ("" if len(tokens) == 1 else " (`spartacus withdraw --token ADDRESS` for a token)"))


def withdraw(
    account: str = AccountOpt,
    network: Optional[str] = NetworkOpt,
    contract: Optional[str] = ContractOpt,
    token: str = typer.Option(ETH, help="the token to withdraw: ETH (the default) or an ERC-20's address"),
    state_dir: Optional[Path] = typer.Option(None, help="the buyer's deal records, where the exchange is found "
                                                        "without --contract (default ~/.spartacus/buyer/ALIAS)"),
) -> None:
    """Pull this account's whole credit (refunds, or a seller's earnings) in one token."""
    ex = _exchange(network, contract, state_dir_for(account, state_dir))
    token = token_address(token)
    acct = unlock(account)
    amount = ex.credit(acct.address, token)
    if amount == 0:
        abort(f"no credit to withdraw in {token_text(token)} for {acct.address}")
    try:
        with console.status("waiting for the withdrawal to be mined"):
            ex.withdraw(token, sender=acct)
    except ContractRevert as err:
        abort(f"withdraw reverted on chain: {err}")
    success(f"withdrew {amount} of {token_text(token)} to {acct.address}")
