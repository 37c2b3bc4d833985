"""Re-price a benchmark run's bundles with changed pricing, against the run's stored true gains.

Retraining is what makes `benchmarks.mde_validation` take 40 minutes, and a change to pricing
alone (a method's budget, a spec's rank, a rule of `price()`) leaves the bundles and their true
gains as they were. This redraws a split's buyer, bundles and specs exactly as `validate` does
(`buyer`, `buyer_specs`), prices every bundle, and correlates the efficacies with the run's true
gains: all 12 data-set splits in minutes. With pricing unchanged, a label the run priced
reproduces its efficacies exactly (the `match` column, relative to the largest, is 0); after a
pricing change, `match` is how far the change moved them. Run:
``python -m benchmarks.mde_reprice --datasets adult --splits 0,2,3 --methods network-anchored,network-anchored@steps=4``
"""

from __future__ import annotations

import argparse
import json
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from scipy.stats import spearmanr

from pricing import parse_spec, price, write_release

from .mde_validation import ALPHAS, CONFIGS, MAX_PRICE, RESULTS, TERMS_CURVE, buyer, buyer_specs, method_variant

__all__ = ["Repriced", "reprice", "main"]


@dataclass(frozen=True)
class Repriced:
    """One method label re-priced on one split: rho against the stored true gains (all bundles,
    clean ones), the median quote from a parsed spec, and how far the efficacies are from the
    run's own for the same label (nan when the run did not price that label)."""

    dataset: str
    split: int
    method: str
    spearman: float
    spearman_clean: float
    quote_seconds: float
    match: float
    efficacy: list[float]


def _stored(report: Mapping, label: str) -> np.ndarray | None:
    methods = report.get("methods", {})
    return np.asarray(methods[label]["efficacy"]) if label in methods else None


def reprice(x: np.ndarray, y: np.ndarray, report: Mapping, methods: Sequence[str], *, n_train: int, n_val: int,
            sizes: Sequence[int], hidden: int, max_iter: int = 1000, alphas: Sequence[float] = ALPHAS,
            solver: str = "lbfgs", l2: float | None = None, refit_scaler: bool = True, rounds: int = 3,
            build: Mapping[str, object] | None = None) -> list[Repriced]:
    """Price the bundles of the run `report` (one entry of mde_report.json, or `asdict` of a
    `Report`) with each method label; the keyword arguments are the ones `validate` ran with.
    Quotes are timed `rounds` times, the labels alternating, and the fastest round kept: the
    machine's pace drifts, and alternating puts every label under the same drift."""
    warnings.filterwarnings("ignore")
    split = int(report["split"])
    b = buyer(x, y, seed=split, n_train=n_train, n_val=n_val, sizes=sizes, hidden=hidden, max_iter=max_iter,
              alphas=alphas, solver=solver)
    gain, kinds = np.asarray(report["true_gain"]), list(report["kinds"])
    if [bd.name for bd in b.bundles] != list(report["names"]):
        raise ValueError(f"split {split} draws other bundles than the report's: pass the configuration it ran with")
    clean = [i for i, k in enumerate(kinds) if k == "clean"]
    specs = {m: parse_spec(s) for m, s in buyer_specs(b, methods, seed=split, l2=l2, refit_scaler=refit_scaler,
                                                      **(build or {})).items()}
    releases = [write_release(bd.x, bd.y, b.schema) for bd in b.bundles]
    terms = {m: {"pricing": {"method": method_variant(m)[0], "curve": TERMS_CURVE}, "maxPrice": MAX_PRICE}
             for m in methods}
    eff = {m: np.array([price(specs[m], r, terms[m]).efficacy for r in releases]) for m in methods}
    best = {m: float("inf") for m in methods}
    for _ in range(rounds):
        for m in methods:
            times = []
            for r in releases:
                t = time.perf_counter()
                price(specs[m], r, terms[m])
                times.append(time.perf_counter() - t)
            best[m] = min(best[m], float(np.median(times)))
    out = []
    for m in methods:
        e, stored = eff[m], _stored(report, m)
        match = float("nan") if stored is None else float(np.max(np.abs(e - stored)) / np.max(np.abs(stored)))
        out.append(Repriced(dataset=str(report["dataset"]), split=split, method=m,
                            spearman=float(spearmanr(e, gain)[0]), spearman_clean=float(spearmanr(e[clean], gain[clean])[0]),
                            quote_seconds=best[m], match=match, efficacy=[float(v) for v in e]))
    return out


def table(rows: Sequence[Repriced], reports: Mapping[tuple[str, int], Mapping]) -> str:
    """One line per (data set, split, label): rho and clean rho, the quote, the speed against
    the run's retraining, and the match with the run's efficacies."""
    head = f"{'dataset':13s} {'split':>5s} {'method':34s} {'rho':>6s} {'rho_cl':>6s} {'ms*':>7s} {'speed*':>6s} {'match':>8s}"
    lines = [head, "-" * len(head)]
    for r in rows:
        retrain = float(reports[r.dataset, r.split]["retrain_seconds"])
        lines.append(f"{r.dataset:13s} {r.split:5d} {r.method:34s} {r.spearman:6.3f} {r.spearman_clean:6.3f} "
                     f"{r.quote_seconds * 1e3:7.1f} {retrain / r.quote_seconds:6.0f} {r.match:8.1e}")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> list[Repriced]:
    """Re-price the committed run (or --report) on the named data sets, splits and labels."""
    from tqdm import tqdm

    from ._mde_data import load

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--report", type=Path, default=RESULTS / "mde_report.json")
    ap.add_argument("--datasets", default="digits,breast_cancer,mnist5k,adult")
    ap.add_argument("--splits", default=None, help="comma-separated (default: every split in the report)")
    ap.add_argument("--methods", default="network-anchored",
                    help="comma-separated labels, name@key=value:key=value for other hyper-parameters")
    ap.add_argument("--rank", type=int, default=None, help="the curvature rank the buyer ships (build_spec's rank)")
    ap.add_argument("--curvature-bytes", type=int, default=None,
                    help="cap on the curvature's live rows the buyer ships (build_spec's curvature_bytes; 0: no cap)")
    ap.add_argument("--curvature-rtol", type=float, default=None,
                    help="the numerical rank's tolerance the buyer ships with (build_spec's curvature_rtol; 0: every pair)")
    ap.add_argument("--rounds", type=int, default=3, help="timing rounds; the fastest is kept")
    args = ap.parse_args(argv)
    methods = [m for m in args.methods.split(",") if m]
    try:
        for m in methods:
            method_variant(m)
    except ValueError as e:
        ap.error(str(e))
    runs = json.loads(args.report.read_text())
    names = args.datasets.split(",")
    splits = None if args.splits is None else {int(s) for s in args.splits.split(",")}
    chosen = [r for r in runs if r["dataset"] in names and (splits is None or r["split"] in splits)]
    if not chosen:
        ap.error(f"{args.report} holds no run of {names} on splits {sorted(splits or [])}")
    build: dict[str, object] = {} if args.rank is None else {"rank": args.rank}
    if args.curvature_bytes is not None:
        build["curvature_bytes"] = args.curvature_bytes or None
    if args.curvature_rtol is not None:
        build["curvature_rtol"] = args.curvature_rtol or None
    rows: list[Repriced] = []
    data: dict[str, tuple] = {}
    for rep in tqdm(chosen, desc="re-price", leave=False):
        name = rep["dataset"]
        if name not in data:
            data[name] = load(name)
        cfg = {k: v for k, v in CONFIGS[name].items() if k != "seeds"}
        rows += reprice(*data[name], rep, methods, rounds=args.rounds, build=build, **cfg)
    print(table(rows, {(r["dataset"], r["split"]): r for r in chosen}))
    return rows


if __name__ == "__main__":
    main()
