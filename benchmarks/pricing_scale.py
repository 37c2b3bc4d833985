"""Pricing time and memory against release size: network-anchored on 64 features, 10k to 1M rows.

Run: ``.venv/bin/python -m benchmarks.pricing_scale [--rows 10000,50000,200000,1000000]
[--baseline COMMIT|none]`` (about ten minutes with the baseline, most of it the baseline's 1M).

The buyer: a scikit-learn pipeline (StandardScaler, MLPClassifier with 64 ReLU units, alpha 1,
L-BFGS) trained on 2,000 synthetic rows of 64 correlated Gaussian features whose 4 classes a
random teacher network draws; its network-newton spec is built by `build_spec` with its
training inputs as the anchor (network-anchored, `ANCHOR_BUDGET`). Releases of each size are
drawn from the same distribution (no duplicates: continuous features).

Each (code, rows) is priced in its own process, so peak memory is its own: the process reads
the release bytes from a file, prices a 1,000-row release to compile and prepare the spec,
then times `price(spec, release_bytes, terms)` once (best of `--rounds`). `extra MiB` is the
peak resident memory during pricing minus the resident memory just before it (which already
holds the release bytes); `x release` divides it by the release's bytes; `load` is the 1-minute
load average when the quote ended (a shared machine: CPU seconds are the comparison there). The
baseline is the code at `BASELINE` (the commit before the release's views and the recomputed
first layer, docs/decisions/2026-12-07-million-row-memory.md; `--baseline 1bb7540` is the code
before the streamed refit), extracted with `git archive` and run in the same way in the same
run, so the ratios compare like with like on a shared machine.
Writes ``benchmarks/results/pricing_scale.{txt,json,png}``.
"""

from __future__ import annotations

import argparse
import json
import gc
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

RESULTS = Path(__file__).resolve().parent / "results"
ROOT = Path(__file__).resolve().parent.parent
BASELINE = "1970e3c"  # the code before docs/decisions/2026-12-07-million-row-memory.md
ROWS = (10_000, 50_000, 200_000, 1_000_000)
D, CLASSES, HIDDEN, N_TRAIN, N_VAL = 64, 4, 64, 2000, 1000
TERMS = {"maxPrice": "1000000000", "pricing": {"method": "network-newton", "curve": {"kind": "linear", "slope": "1000000000"}}}


def _teacher(seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    mix = rng.normal(size=(D, D)) / np.sqrt(D) + np.eye(D)
    return mix, rng.normal(size=(D, 32)) / np.sqrt(D), rng.normal(size=(32, CLASSES))


def draw(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """n rows of the synthetic distribution: correlated Gaussian features, labels drawn from a
    random tanh teacher's softmax (so they are noisy), in blocks to bound memory."""
    mix, w1, w2 = _teacher()
    rng = np.random.default_rng(seed)
    x = np.empty((n, D))
    y = np.empty(n, dtype=np.int64)
    for s in range(0, n, 100_000):
        e = min(n, s + 100_000)
        xb = rng.normal(size=(e - s, D)) @ mix
        logits = 2.0 * np.tanh(xb @ w1) @ w2
        p = np.exp(logits - logits.max(axis=1, keepdims=True))
        p /= p.sum(axis=1, keepdims=True)
        y[s:e] = (rng.random((e - s, 1)) > np.cumsum(p, axis=1)).sum(axis=1).clip(0, CLASSES - 1)
        x[s:e] = xb
    return x, y


def build() -> bytes:
    """The buyer's network-anchored spec bundle."""
    import warnings

    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    from pricing.builders import build_spec

    x, y = draw(N_TRAIN + N_VAL, seed=1)
    warnings.filterwarnings("ignore")
    model = make_pipeline(StandardScaler(), MLPClassifier((HIDDEN,), alpha=1.0, max_iter=300, random_state=0,
                                                          solver="lbfgs")).fit(x[:N_TRAIN], y[:N_TRAIN])
    return build_spec("network-newton", model, x[:N_TRAIN], y[:N_TRAIN], x[N_TRAIN:], y[N_TRAIN:], classes=CLASSES,
                      anchor=x[:N_TRAIN])


def release_bytes(n: int, seed: int) -> bytes:
    from pricing.release import write_release

    x, y = draw(n, seed)
    schema = {"features": [{"name": f"x{i}"} for i in range(D)],
              "label": {"name": "label", "kind": "categorical", "classes": CLASSES}}
    return write_release(x, y, schema)


def _status(key: str) -> int:
    """A /proc/self/status figure in bytes (VmRSS: resident now; VmHWM: its peak)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise KeyError(key)


def _reset_peak() -> None:
    """Start VmHWM afresh (Linux: "5" to clear_refs), so compiling and preparing the spec do
    not count as pricing's memory."""
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")


def worker(spec_path: str, release_path: str, rounds: int) -> dict:
    """Price one release in this process: seconds (best of `rounds`), efficacy, memory."""
    from pricing import price
    from pricing.spec import parse_spec

    spec = parse_spec(Path(spec_path).read_bytes())
    price(spec, release_bytes(1000, seed=99), TERMS)  # compile the kernels, prepare the spec
    data = Path(release_path).read_bytes()
    best, cpu, extra, q = float("inf"), float("inf"), 0, None
    for _ in range(rounds):
        gc.collect()
        _reset_peak()
        before = _status("VmRSS")
        t, c = time.perf_counter(), time.process_time()
        q = price(spec, data, TERMS)
        best, cpu = min(best, time.perf_counter() - t), min(cpu, time.process_time() - c)
        extra = max(extra, _status("VmHWM") - before)
    return {"seconds": best, "cpu_seconds": cpu, "load": os.getloadavg()[0], "efficacy": q.efficacy, "price": q.price,
            "unique": q.unique_records,
            "extra_bytes": extra, "release_bytes": len(data)}


def _run(code: Path, spec_path: str, release_path: str, rounds: int) -> dict:
    env = {**os.environ, "PYTHONPATH": str(code)}
    out = subprocess.run([sys.executable, "-c",
                          "import json, sys; from benchmarks.pricing_scale import worker; "
                          f"print(json.dumps(worker({spec_path!r}, {release_path!r}, {rounds})))"],
                         env=env, cwd=str(code), capture_output=True, text=True, check=False)
    if out.returncode:
        raise RuntimeError(f"pricing in {code} failed:\n{out.stderr[-3000:]}")
    return json.loads(out.stdout.strip().splitlines()[-1])


def _baseline_tree(commit: str) -> Path:
    """The pricing code at `commit`, extracted once (its numba cache is kept beside it)."""
    dest = Path(tempfile.gettempdir()) / f"spartacus-pricing-{commit}"
    if not (dest / "pricing").is_dir():
        dest.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", commit, "pricing", "common"],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    (dest / "benchmarks").mkdir(exist_ok=True)
    for name in ("__init__.py", "pricing_scale.py"):  # this file's worker, against the old pricing
        (dest / "benchmarks" / name).write_text((ROOT / "benchmarks" / name).read_text())
    return dest


def plot(rows: list[int], table: dict[str, list[dict]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(1, 2, figsize=(10, 4))
    for (label, res), color in zip(table.items(), ("C0", "C1")):
        ax[0].plot(rows[:len(res)], [r["seconds"] for r in res], "o-", color=color, label=f"{label} (wall)")
        ax[0].plot(rows[:len(res)], [r["cpu_seconds"] for r in res], "s--", color=color, label=f"{label} (CPU)")
        ax[1].plot(rows[:len(res)], [r["extra_bytes"] / 2**20 for r in res], "o-", color=color, label=label)
    ax[1].plot(rows, [r * D * 8 / 2**20 for r in rows], "k:", label="release's own bytes")
    ax[0].axhline(60, color="grey", ls="--", lw=0.8)
    for a, what in zip(ax, ("seconds per quote", "extra peak MiB while pricing")):
        a.set_xscale("log")
        a.set_yscale("log")
        a.set_xlabel(f"release rows ({D} features)")
        a.set_ylabel(what)
        a.legend()
    fig.suptitle("network-anchored price() against release size")
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", default=",".join(map(str, ROWS)))
    ap.add_argument("--baseline", default=BASELINE, help="commit of the baseline code, or 'none'")
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--out", default=str(RESULTS))
    args = ap.parse_args(argv if argv is not None else [])
    rows = [int(r) for r in args.rows.split(",")]
    codes = {"new": ROOT}
    if args.baseline != "none":
        codes[f"baseline {args.baseline}"] = _baseline_tree(args.baseline)
    table: dict[str, list[dict]] = {k: [] for k in codes}
    with tempfile.TemporaryDirectory() as tmp:
        spec_path = str(Path(tmp) / "spec.safetensors")
        Path(spec_path).write_bytes(build())
        for n in rows:
            release_path = str(Path(tmp) / f"release{n}.safetensors")
            Path(release_path).write_bytes(release_bytes(n, seed=n))
            for label, code in codes.items():
                res = _run(code, spec_path, release_path, args.rounds)
                table[label].append(res)
                print(f"{label:>18} {n:>9,} rows: {res['seconds']:8.2f} s ({res['cpu_seconds']:.2f} s CPU), extra {res['extra_bytes'] / 2**20:8.1f} MiB "
                      f"({res['extra_bytes'] / res['release_bytes']:.2f}x release), efficacy {res['efficacy']:.12g}, "
                      f"load {res['load']:.1f}",
                      flush=True)
            os.unlink(release_path)
    lines = [f"network-anchored price() on {D} features, {CLASSES} classes, {HIDDEN} hidden units "
             f"(best of {args.rounds}; wall and CPU seconds; extra = peak RSS while pricing minus RSS before, "
             "the release bytes already held; x rel = extra / release bytes; mem x = base extra / new extra, "
             "at least 1 MiB; load = 1-minute load average)", ""]
    head = f"{'rows':>9} {'rel MiB':>7} | {'new s':>7} {'cpu s':>7} {'extra MiB':>9} {'x rel':>5} {'load':>4}"
    base = [k for k in codes if k != "new"]
    if base:
        head += (f" | {'base s':>7} {'cpu s':>7} {'extra MiB':>9} {'x rel':>5} {'load':>4} | {'wall x':>6} {'cpu x':>6} "
                 f"{'mem x':>6} {'|d eff|/eff':>11} {'d price':>7}")
    lines.append(head)
    for i, n in enumerate(rows):
        r = table["new"][i]
        line = (f"{n:>9,} {r['release_bytes'] / 2**20:>7.1f} | {r['seconds']:>7.2f} {r['cpu_seconds']:>7.2f} "
                f"{r['extra_bytes'] / 2**20:>9.1f} {r['extra_bytes'] / r['release_bytes']:>5.2f} {r['load']:>4.1f}")
        if base:
            b = table[base[0]][i]
            rel = abs(r["efficacy"] - b["efficacy"]) / max(abs(b["efficacy"]), 1e-300)
            line += (f" | {b['seconds']:>7.2f} {b['cpu_seconds']:>7.2f} {b['extra_bytes'] / 2**20:>9.1f} "
                     f"{b['extra_bytes'] / b['release_bytes']:>5.2f} {b['load']:>4.1f} | "
                     f"{b['seconds'] / r['seconds']:>5.2f}x "
                     f"{b['cpu_seconds'] / r['cpu_seconds']:>5.2f}x {b['extra_bytes'] / max(r['extra_bytes'], 2**20):>5.2f}x"
                     f" {rel:>11.2e} {r['price'] - b['price']:>7}")
        lines.append(line)
    text = "\n".join(lines)
    print(text)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "pricing_scale.txt").write_text(text + "\n")
    (out / "pricing_scale.json").write_text(json.dumps({"rows": rows, "results": table}, indent=1) + "\n")
    plot(rows, table, out / "pricing_scale.png")


if __name__ == "__main__":
    main(sys.argv[1:])
