"""Estimator accuracy: empirical MSE against closed-form variance, a worked survey, a plot.

Run: ``.venv/bin/python -m benchmarks.privacy_estimators`` (about 10 minutes on 2 cores).

For each estimator, n in {1e4, 1e5, 1e6} and epsilon in {0.5, 1, 2, 4}: one fixed data
set (seeded), ``reps`` fresh releases drawn with the real mechanism (numpy sampler,
seeded per cell, so the run is reproducible), the estimator applied to each, and the
empirical MSE against the data's true value compared with the closed-form variance
(dataset target). Target: MSE / theory within 1.1x. The ratio's own standard error is
``sqrt(2 / reps)`` (it is a mean of ``reps`` squared errors), printed beside it.

Writes ``benchmarks/results/privacy_estimators.txt`` (the table), ``.json`` (the rows)
and ``benchmarks/results/privacy_error_vs_epsilon.png``.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np
from tqdm import tqdm

from privacy import (Column, Schema, estimate_proportion, frequency_from_sketch,
                     histogram_from_reports, mean_from_noisy, proportion_from_reports, release_table)
from privacy.estimators import cms_variance
from privacy.mechanisms import discrete_laplace, laplace, randomized_response, randomized_response_bool, rr_prob
from privacy.mechanisms.count_min_sketch import count_min_sketch_codes
from privacy.mechanisms.laplace import discrete_laplace_variance

RESULTS = Path(__file__).resolve().parent / "results"
EPSILONS = (0.5, 1.0, 2.0, 4.0)
SIZES = (10**4, 10**5, 10**6)
REPS = {10**4: 3000, 10**5: 2000, 10**6: 2000}  # sqrt(2/reps): the ratio is known to +-0.03
CMS_REPS = {10**4: 1000, 10**5: 1000, 10**6: 1000}  # a CMS release costs 15-50 ms at any n
ESTIMATORS = ("proportion (RR bool)", "histogram (RR k=4)", "mean (Laplace)", "mean (discrete Laplace)",
              "frequency (CMS)")
CMS_DEPTH, CMS_WIDTH, CMS_DOMAIN = 64, 1024, 100
TARGET = 1.1


def _cell(args: tuple[str, int, float, int, int]) -> dict:
    """Empirical MSE and theory for one (estimator, n, epsilon)."""
    name, n, eps, reps, seed = args
    rng = np.random.default_rng(seed)
    sq = np.zeros(reps)
    reported = np.zeros(reps)
    t0 = time.perf_counter()
    if name == "proportion (RR bool)":
        x = rng.random(n) < 0.3
        truth, p = x.mean(), rr_prob(eps)
        theory = p * (1 - p) / (n * (2 * p - 1) ** 2)
        for r in range(reps):
            e = proportion_from_reports(randomized_response_bool(x, eps, rng=rng)[0], prob=p)
            sq[r], reported[r] = (e.value - truth) ** 2, e.variance
    elif name == "histogram (RR k=4)":
        k = 4
        x = rng.choice(k, n, p=[0.1, 0.2, 0.3, 0.4])
        pi = np.bincount(x, minlength=k) / n
        p = rr_prob(eps, k)
        q = (1 - p) / (k - 1)
        theory = float(np.sum((pi * p * (1 - p) + (1 - pi) * q * (1 - q)) / (n * (p - q) ** 2)))
        for r in range(reps):
            ests = histogram_from_reports(randomized_response(x, k, eps, rng=rng)[0], prob=p, k=k)
            sq[r] = sum((e.value - t) ** 2 for e, t in zip(ests, pi))
            reported[r] = sum(e.variance for e in ests)
    elif name == "mean (Laplace)":
        x = rng.uniform(0, 100, n)
        truth = x.mean()
        theory = 2 * (100 / eps) ** 2 / n
        for r in range(reps):
            out, prm = laplace(x, (0, 100), eps, rng=rng)
            e = mean_from_noisy(out, scale=prm["scale"])
            sq[r], reported[r] = (e.value - truth) ** 2, e.variance
    elif name == "mean (discrete Laplace)":
        x = rng.integers(0, 11, n)
        truth = x.mean()
        theory = discrete_laplace_variance(10 / eps) / n
        for r in range(reps):
            out, prm = discrete_laplace(x, (0, 10), eps, rng=rng)
            e = mean_from_noisy(out, scale=prm["scale"], noise="discrete-laplace")
            sq[r], reported[r] = (e.value - truth) ** 2, e.variance
    elif name == "frequency (CMS)":
        # Zipf(1.1) over a 100-value domain; estimate the count of the 3rd most frequent value
        weights = 1.0 / np.arange(1, CMS_DOMAIN + 1) ** 1.1
        codes = rng.choice(CMS_DOMAIN, n, p=weights / weights.sum())
        distinct = [f"word{i}" for i in range(CMS_DOMAIN)]
        counts = np.bincount(codes, minlength=CMS_DOMAIN)
        f, f2 = float(counts[2]), float(np.sum(counts.astype(float) ** 2))
        theory = cms_variance(n, f, f2, epsilon=eps, depth=CMS_DEPTH, width=CMS_WIDTH)
        for r in range(reps):
            sketch, prm = count_min_sketch_codes(codes, distinct, eps, depth=CMS_DEPTH, width=CMS_WIDTH, rng=rng)
            e = frequency_from_sketch(sketch, "word2", epsilon=eps, depth=CMS_DEPTH, width=CMS_WIDTH,
                                      salt=prm["salt"], rows=n)
            sq[r], reported[r] = (e.value - f) ** 2, e.variance
    else:
        raise ValueError(name)
    return {"estimator": name, "n": n, "epsilon": eps, "reps": reps, "mse": float(sq.mean()),
            "theory": float(theory), "reported": float(reported.mean()), "seconds": time.perf_counter() - t0}


def mse_table(workers: int) -> list[dict]:
    cells = [(name, n, eps, (CMS_REPS if "CMS" in name else REPS)[n], 1000 * i + 10 * j + k)
             for i, name in enumerate(ESTIMATORS) for j, n in enumerate(SIZES) for k, eps in enumerate(EPSILONS)]
    cells.sort(key=lambda c: -c[1] * c[3])  # biggest first, for load balance
    with ProcessPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(_cell, c) for c in cells]
        rows = [f.result() for f in tqdm(as_completed(futures), total=len(cells), desc="MSE cells",
                                         file=sys.stderr)]
    rows.sort(key=lambda r: (ESTIMATORS.index(r["estimator"]), r["n"], r["epsilon"]))
    return rows


def format_table(rows: list[dict]) -> str:
    head = (f"{'estimator':<25}{'n':>9}{'eps':>6}{'reps':>6}{'empirical MSE':>15}{'theory':>13}"
            f"{'MSE/theory':>12}{'+-2se':>8}{'reported/theory':>17}  within {TARGET}x")
    lines = [head, "-" * len(head)]
    for r in rows:
        ratio = r["mse"] / r["theory"]
        lines.append(f"{r['estimator']:<25}{r['n']:>9}{r['epsilon']:>6}{r['reps']:>6}{r['mse']:>15.4g}"
                     f"{r['theory']:>13.4g}{ratio:>12.3f}{2 * math.sqrt(2 / r['reps']):>8.3f}"
                     f"{r['reported'] / r['theory']:>17.3f}  {'yes' if abs(ratio - 1) <= TARGET - 1 else 'NO'}")
    ratios = np.array([r["mse"] / r["theory"] for r in rows])
    within = np.sum(np.abs(ratios - 1) <= TARGET - 1)
    lines.append(f"\n{within}/{len(rows)} cells within {TARGET}x of theory; ratio range "
                 f"[{ratios.min():.3f}, {ratios.max():.3f}]")
    # a pooled check per estimator: the mean ratio over cells, weighted by reps
    for name in ESTIMATORS:
        sel = [r for r in rows if r["estimator"] == name]
        w = np.array([r["reps"] for r in sel], dtype=float)
        rr = np.array([r["mse"] / r["theory"] for r in sel])
        lines.append(f"  {name:<25} pooled MSE/theory {np.sum(w * rr) / w.sum():.3f} "
                     f"(+-{2 * math.sqrt(2 / w.sum()):.3f} at 2se)")
    return "\n".join(lines)


def worked_survey() -> str:
    """The heroin survey and the bicycle example: 10,000 respondents, true rate 0.3, epsilon 1.

    Drawn with OpenDP's samplers (the production path), so the numbers change run to run.
    """
    rng = np.random.default_rng(2017)
    n, rate, eps = 10_000, 0.3, 1.0
    schema = Schema(columns=(Column("used_heroin", "boolean"),
                             Column("commute", "categorical", categories=("bicycle", "car", "bus", "walk"))))
    data = {"used_heroin": rng.random(n) < rate,
            "commute": rng.choice(["bicycle", "car", "bus", "walk"], n, p=[rate, 0.4, 0.2, 0.1])}
    out = [f"Worked survey: {n} simulated respondents, true rate {rate}, epsilon {eps} per question "
           "(each question its own release; OpenDP samplers)"]
    from privacy import Release
    for col, question, category in (("used_heroin", "Have you ever used heroin?", True),
                                    ("commute", "How do you commute? (share answering 'bicycle')", "bicycle")):
        sub = Schema(columns=(schema.column(col),))
        rel = Release.from_bytes(release_table({col: data[col]}, sub, eps).to_bytes())
        p = rel.column_mechanism(col)["prob"]
        k = rel.column_mechanism(col)["k"]
        sample = float(np.mean(data[col] == category))
        for target in ("dataset", "population"):
            e = estimate_proportion(rel, col, category=category, target=target)
            lo, hi = e.ci(0.05)
            truth = sample if target == "dataset" else rate
            out.append(f"  {question:<50} k={k} truthful-report prob {p:.4f}  target={target:<10} "
                       f"estimate {e.value:.4f}  95% CI [{lo:.4f}, {hi:.4f}]  se {e.std_error:.4f}  "
                       f"truth {truth:.4f}  covered={lo <= truth <= hi}")
        reports = rel.column(col)
        raw = float(np.mean(reports == (1 if category is True else 0)))
        out.append(f"  {'':<50} raw share of reports {raw:.4f} (biased toward 1/k; the estimator removes it)")
    return "\n".join(out)


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(SIZES), figsize=(16, 4.8), sharey=True)
    # error on a common scale: RMSE as a fraction of what the statistic ranges over
    norm = {"proportion (RR bool)": lambda n: 1.0, "histogram (RR k=4)": lambda n: 1.0,
            "mean (Laplace)": lambda n: 100.0, "mean (discrete Laplace)": lambda n: 10.0,
            "frequency (CMS)": lambda n: float(n)}
    markers = ("o", "s", "^", "v", "D")
    for ax, n in zip(axes, SIZES):
        for i, name in enumerate(ESTIMATORS):
            sel = sorted((r for r in rows if r["estimator"] == name and r["n"] == n), key=lambda r: r["epsilon"])
            eps = [r["epsilon"] for r in sel]
            emp = [math.sqrt(r["mse"]) / norm[name](n) for r in sel]
            th = [math.sqrt(r["theory"]) / norm[name](n) for r in sel]
            ax.plot(eps, th, "-", color=f"C{i}", label=f"{name}: closed form" if n == SIZES[0] else None)
            ax.plot(eps, emp, markers[i], color=f"C{i}", mfc="none", ms=8,
                    label=f"{name}: simulated" if n == SIZES[0] else None)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xticks(EPSILONS, [str(e) for e in EPSILONS])
        ax.set_title(f"n = {n:,}")
        ax.set_xlabel("epsilon")
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("RMSE / range of the statistic\n(proportions: 1, means: bounds, CMS: n)")
    fig.legend(loc="center right", fontsize=8, frameon=False)
    fig.suptitle("Buyer's estimator error against epsilon (lines: closed-form variance, markers: simulation)")
    fig.tight_layout(rect=(0, 0, 0.8, 1))
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    workers = min(2, os.cpu_count() or 1)
    t0 = time.perf_counter()
    rows = mse_table(workers)
    table = format_table(rows)
    survey = worked_survey()
    png = RESULTS / "privacy_error_vs_epsilon.png"
    plot(rows, png)
    report = (f"privacy estimators: empirical MSE vs closed-form variance (dataset target, numpy sampler, "
              f"seeded)\n\n{table}\n\n{survey}\n\nplot: {png.relative_to(RESULTS.parent.parent)}\n"
              f"wall time {time.perf_counter() - t0:.0f} s on {workers} worker(s)\n")
    (RESULTS / "privacy_estimators.txt").write_text(report)
    (RESULTS / "privacy_estimators.json").write_text(json.dumps(rows, indent=1) + "\n")
    print(report)


if __name__ == "__main__":
    main()
