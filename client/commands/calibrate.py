"""`spartacus spec calibrate`: the buyer chooses the one pricing method it ships, on its own training
rows alone (`pricing.builders.calibrate_spec`: bundles cut from them, retrained for real with the
buyer's own code, cross-fitted so no row judges itself), and sees what the choice cost."""

from __future__ import annotations

import inspect
import json
import warnings
from collections import Counter
from pathlib import Path
from typing import Any, Callable, Optional

import numpy as np
import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from client.atomic_file import atomic_write
from client.errors import ClientError

from . import abort, console, success
from .buyer import buyer_data, load_factory, spec_app

__all__ = ["CalibrationInputError", "WarningTally", "calibration_candidates", "offer_precision", "per_column", "seeded_fit",
           "spec_calibrate"]

# the offer's release kinds a calibration can simulate on the buyer's rows
MECHANISMS = ("exact", "ml-laplace-rr")


class CalibrationInputError(ClientError, ValueError):
    """Options that do not make a calibration: an unknown mechanism or candidate, a missing epsilon."""


def seeded_fit(factory: Callable[..., Any], seeds: int) -> Callable[[np.ndarray, np.ndarray, int], Any]:
    """The buyer's code as `calibrate_spec` retrains with it: `factory(x, y, seed=s)` when it takes a
    `seed`, else `factory(x, y)` (one seed only: without one every retraining would be the same)."""
    try:
        takes_seed = "seed" in inspect.signature(factory).parameters
    except (TypeError, ValueError):  # a builtin without a signature
        takes_seed = False
    if takes_seed:
        return lambda x, y, s: factory(x, y, seed=s)
    if seeds > 1:
        raise CalibrationInputError(f"--retrain-seeds {seeds} needs a factory taking seed= (def make(x, y, seed): ...), "
                                    "so each seed retrains differently; or pass --retrain-seeds 1")
    return lambda x, y, s: factory(x, y)


class WarningTally:
    """The warnings the buyer's own code raises while the calibration retrains it (a scikit-learn
    model that stops at max_iter warns on every fit), counted and shown once each instead of a
    screenful per run."""

    def __init__(self) -> None:
        self.counts: Counter[str] = Counter()
        self.fits = 0

    def quiet(self, fit: Callable[[np.ndarray, np.ndarray, int], Any]) -> Callable[[np.ndarray, np.ndarray, int], Any]:
        """`fit` with its warnings counted here rather than printed."""
        def quiet_fit(x: np.ndarray, y: np.ndarray, seed: int) -> Any:
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                model = fit(x, y, seed)
            self.fits += 1
            for text in {f"{w.category.__name__}: {(str(w.message).strip().splitlines() or [''])[0]}" for w in caught}:
                self.counts[text] += 1
            return model

        return quiet_fit

    def lines(self) -> list[str]:
        """One line per distinct warning, with how many of the fits raised it."""
        return [f"your model's code warned on {n} of its {self.fits} fits: {text}" for text, n in self.counts.most_common()]


def calibration_candidates(mechanism: str, labels: bool, only: Optional[str],
                           method: Optional[str] = None) -> tuple[Any, ...]:
    """The candidates scored: every one a buyer can ship for the mechanism (the labelled
    network-retrain too when the buyer shows its labels), or those `only` names (comma-separated);
    only those of `method` when an offer fixes it."""
    from pricing.builders import CANDIDATES, DP_CANDIDATES, LABELLED_CANDIDATES

    pool = (CANDIDATES if mechanism == "exact" else DP_CANDIDATES) + (LABELLED_CANDIDATES if labels else ())
    if method is not None:
        pool = tuple(c for c in pool if c.method == method)
        if not pool:
            raise CalibrationInputError(f"the offer prices by {method!r}, which no candidate uses: build that spec "
                                        "with `spartacus spec build --method` instead")
    if only is None:
        return pool
    known = {c.label: c for c in CANDIDATES + DP_CANDIDATES + LABELLED_CANDIDATES}
    picked = []
    for name in (n.strip() for n in only.split(",") if n.strip()):
        if name not in known:
            raise CalibrationInputError(f"--candidates: no candidate {name!r}; one of {', '.join(known)}")
        if known[name].labels and not labels:
            raise CalibrationInputError(f"--candidates: {name!r} ships your training labels: pass --anchor-labels too")
        if method is not None and known[name].method != method:
            raise CalibrationInputError(f"--candidates: {name!r} is a {known[name].method} spec; the offer prices by "
                                        f"{method}")
        picked.append(known[name])
    if not picked:
        raise CalibrationInputError("--candidates names none: give comma-separated labels, e.g. "
                                    "network-anchored,feature-newton")
    return tuple(picked)


def offer_precision(hub: Optional[str], offer: Optional[str], buyer: Optional[str], mechanism: str,
                    epsilon: list[float]) -> tuple[str, list[float], str, list[str], list[Any] | None]:
    """(mechanism, epsilons, method, feature names, label categories) of a hub's offer to `buyer`
    (`GET /v1/offers`, its dataset's schema from `GET /v1/datasets`): what the calibration
    simulates, the method its spec must have, the columns the buyer's rows must have, in order,
    and the categories its label may be written as. Extra --epsilon values are kept."""
    from client.hub_client import HubClient

    if hub is None or offer is None or buyer is None:
        raise CalibrationInputError("--hub, --offer and --buyer go together: the hub's URL, the offer's id and the "
                                    "address it is made to")
    if mechanism != "exact":
        raise CalibrationInputError("--mechanism comes from the offer: leave it out with --offer")
    with HubClient(hub) as client:
        offers = {o["offerId"]: o for o in client.offers(buyer)}
        if offer not in offers:
            raise CalibrationInputError(f"{hub} makes no offer {offer!r} to {buyer}; its offers: "
                                        f"{', '.join(offers) or 'none'}")
        schemas = {d["datasetId"]: d["schema"] for d in client.datasets()}
    release, pricing = offers[offer]["release"], offers[offer]["pricing"]
    schema = schemas.get(offers[offer]["datasetId"], {})
    features = [str(f["name"]) for f in schema.get("features", [])]
    label = schema.get("label") or {}
    categories = label.get("categories") or (list(range(int(label["classes"]))) if "classes" in label else None)
    if pricing.get("method") == "fixed":
        raise CalibrationInputError(f"offer {offer!r} has a fixed price: it needs no spec")
    if release["epsilon"] == "exact":
        return "exact", list(epsilon), str(pricing["method"]), features, categories
    name = release["mechanism"]["name"]
    if release["mechanism"].get("split", "equal") != "equal":
        console.print(f"offer {offer!r} splits epsilon unevenly over its columns; the calibration simulates an even split")
    return name, [float(release["epsilon"]), *epsilon], str(pricing["method"]), features, categories


def per_column(epsilons: list[float], features: int) -> list[float]:
    """ml-laplace-rr's epsilon per column of each offer's epsilon: split evenly over the features
    and the label (`privacy.release_ml`)."""
    return [float(e) / (features + 1) for e in epsilons]


def _table(cal: Any, allowed: set[str]) -> Table:
    table = Table(title="the candidates on your folds (rho: efficacy against your own retrained gains)")
    for col, justify in (("candidate", "left"), ("mean rho", "right"), ("per fold", "left"), ("", "left")):
        table.add_column(col, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for label, rhos in sorted(cal.spearman.items(), key=lambda kv: -float(np.mean(kv[1]))):
        mark = "shipped" if label == cal.chosen.label else "" if label in allowed else "not allowed for this mechanism"
        table.add_row(label, f"{np.mean(rhos):.2f}", " ".join(f"{r:.2f}" for r in rhos), mark)
    return table


@spec_app.command("calibrate")
def spec_calibrate(
    train: Path = typer.Option(..., exists=True, dir_okay=False,
                               help="training data: CSV with a header (comma, semicolon or tab separated), or safetensors"),
    factory: str = typer.Option(..., help="file.py:function or module:function: your code that returns your model "
                                          "fitted on (x, y), with seed= if it takes one; the calibration retrains with it"),
    val: Optional[Path] = typer.Option(None, exists=True, dir_okay=False,
                                       help="validation data, shipped as the spec's probe (default: last 20% of --train)"),
    out: Path = typer.Option(Path("spec.bundle"), help="where to write the chosen spec bundle"),
    mechanism: str = typer.Option("exact", help="how the offer releases the data: exact, or ml-laplace-rr (a DP "
                                                "release, simulated on your rows at --epsilon)"),
    epsilon: list[float] = typer.Option([], help="an epsilon the offers you consider release at (ml-laplace-rr; "
                                                  "repeat it: one epsilon ranks only 4 bundles a fold); each is split "
                                                  "over the features and the label as the mechanism splits it"),
    anchor_labels: bool = typer.Option(False, "--anchor-labels", help="also score network-retrain with your training "
                                       "labels shipped (if it is chosen the hub sees your training rows labelled)"),
    candidates: Optional[str] = typer.Option(None, help="comma-separated candidate labels to score (default: every "
                                                        "one for the mechanism); fewer cost less"),
    folds: int = typer.Option(4, help="parts your training rows are cut into (>= 3)"),
    retrain_seeds: int = typer.Option(1, help="retrainings per bundle, averaged (needs a factory taking seed=)"),
    label: Optional[str] = typer.Option(None, help="the label column of a CSV (default: the last column)"),
    classes: Optional[int] = typer.Option(None, help="number of classes (default: inferred)"),
    seed: int = typer.Option(0, help="the spec's seed and the bundles' draws"),
    report: Optional[Path] = typer.Option(None, help="also write the fold scores and the cost as JSON here"),
    hub: Optional[str] = typer.Option(None, help="calibrate for an offer of this hub (its URL, with --offer and "
                                                 "--buyer): the offer's mechanism and epsilon, its method's candidates"),
    offer: Optional[str] = typer.Option(None, help="the offer's id (GET /v1/offers)"),
    buyer: Optional[str] = typer.Option(None, help="the buyer address the hub makes the offer to"),
) -> None:
    """Choose the pricing method to ship by retraining your model on bundles cut from your own
    training rows (never anyone else's); write that one spec and print what the choice cost."""
    from pricing import PricingError, parse_spec
    from pricing.builders import calibrate_spec
    from pricing.builders.extract import network_layers
    from pricing.release_fit import method_fits_release

    try:
        method, columns, categories = None, [], None
        if hub is not None or offer is not None:
            mechanism, epsilon, method, columns, categories = offer_precision(hub, offer, buyer, mechanism, epsilon)
        if mechanism not in MECHANISMS:
            raise CalibrationInputError(f"--mechanism {mechanism!r}: one of {', '.join(MECHANISMS)} (a 'table' "
                                        "release holds counts, which no MDE method prices)")
        if mechanism != "exact" and not (epsilon and all(e > 0 for e in epsilon)):
            raise CalibrationInputError(f"--mechanism {mechanism} needs the offers' --epsilon (each > 0)")
        if mechanism == "exact" and epsilon:
            raise CalibrationInputError("--epsilon is for a DP release: pass --mechanism ml-laplace-rr too")
        x, y, xv, yv, names, label_name, k = buyer_data(train, val, label, classes, categories)
        if columns and x.shape[1] != len(columns):
            raise CalibrationInputError(f"{train} has {x.shape[1]} feature columns; the offer's dataset has "
                                        f"{len(columns)}: a spec must read the seller's columns")
        if columns and train.suffix == ".safetensors":
            names = columns  # a tensor's columns have no names: they are the dataset's, in its order
        elif columns and names != columns:
            raise CalibrationInputError(f"{train}'s feature columns {names} are not the offer's dataset's {columns}: "
                                        "name and order them as the dataset does (GET /v1/datasets)")
        if k < 2:
            raise CalibrationInputError("calibration prices classifiers: the label must be class indices")
        pool = calibration_candidates(mechanism, anchor_labels, candidates, method)
        tally = WarningTally()
        fit = tally.quiet(seeded_fit(load_factory(factory), retrain_seeds))
        model = fit(x, y, 0)
        refit = network_layers(model)[0][0] == "standardize"  # a pipeline's scaler is refitted on merged rows
        dp = {} if mechanism == "exact" else {"mechanism": mechanism, "dp_only": True,
                                               "dp_per_column": per_column(epsilon, x.shape[1])}
        with Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total} folds"),
                      TimeElapsedColumn(), console=console, transient=True) as bar:
            task = bar.add_task(f"retraining your model on bundles of {len(x)} rows", total=folds)
            cal = calibrate_spec(fit, model, x, y, xv, yv, classes=k, candidates=pool, folds=folds,
                                 seeds=retrain_seeds, seed=seed, refit_scaler=refit, feature_names=names,
                                 label_name=label_name, progress=lambda done, _: bar.update(task, completed=done), **dp)
        parsed = parse_spec(cal.spec)
    except (ClientError, PricingError, ValueError) as err:  # ArchitectureError, DataFileError among them
        abort(str(err))
    allowed = {c.label for c in pool if mechanism == "exact" or method_fits_release(c.method, mechanism, c.hyper)[0]}
    for line in tally.lines():
        console.print(f"[yellow]{line}[/yellow]", soft_wrap=True)
    console.print(_table(cal, allowed))
    console.print(f"cost: {cal.retrainings} retrainings of your model on {cal.bundles} bundles, {cal.seconds:.1f} s")
    atomic_write(out, cal.spec)  # a crash leaves the old file or the new one, never half of it
    if report is not None:
        atomic_write(report, json.dumps({"shipped": cal.chosen.label, "method": parsed.method, "spec": parsed.hash,
                                      "mechanism": mechanism, "epsilon": epsilon, "fold_rho": cal.spearman,
                                      "retrainings": cal.retrainings, "seconds": cal.seconds, "bundles": cal.bundles},
                                     indent=2).encode() + b"\n")
    success(f"spec {parsed.hash} ({len(cal.spec)} bytes, {cal.chosen.label}) written to {out}")
