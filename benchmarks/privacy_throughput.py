"""Release throughput: records per second for a 1M-row, 10-column table.

Run: ``.venv/bin/python -m benchmarks.privacy_throughput`` (about a minute).

The table: 3 boolean (randomized response), 2 categorical with 5 string categories
(k-ary randomized response), 3 float (Laplace), 1 integer (discrete Laplace), 1 string
column with 10,000 distinct values (Apple's CMS, 64 x 1024). Two samplers:

* numpy (seeded ``Generator``): the whole 1M-row table is released, then serialised;
* OpenDP (exact, floating-point safe, the production default): randomized response
  (vectorised coins) and the CMS measured on the full 1M-row columns; Laplace and
  discrete Laplace (OpenDP's vector measurements, ~10-20 us a value) measured on a
  20,000-row slice and extrapolated; the per-element OpenDP RR measurement (one Python
  call a record) measured on a 5,000-row slice, as the baseline the vectorised path replaces.

Also an ML release (1M x 9 features + a binary label) with numpy, and the hub's quote
case with OpenDP: 10,000 records x 87 float features + a binary label at epsilon 1,
drawn as the hub draws it now (each float column one OpenDP call on a column-sized
domain with a coarse exact lattice, columns on one thread per CPU, and on one thread)
beside the path it replaced (each column one OpenDP call on the default 2^-1074 lattice,
columns in turn; measured on ``ML_BASELINE_COLS`` of the 87 columns and scaled by
87 / ``ML_BASELINE_COLS``, the label measured whole). Writes
``benchmarks/results/privacy_throughput.txt``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from privacy import Column, Schema, release_ml, release_table
from privacy.mechanisms import (clamp_to_bounds, discrete_laplace, laplace, randomized_response,
                                randomized_response_bool, rr_prob)
from privacy.mechanisms._columns import default_workers
from privacy.mechanisms._opendp import laplace_measurement, rr_bool_measurement

RESULTS = Path(__file__).resolve().parent / "results"
ROWS = 1_000_000
SLICE = 20_000
EPSILON = 10.0  # 1.0 per column; throughput does not depend on it
CATS = ("north", "south", "east", "west", "centre")


def table_schema() -> Schema:
    cols = [Column(f"flag{i}", "boolean") for i in range(3)]
    cols += [Column(f"region{i}", "categorical", categories=CATS) for i in range(2)]
    cols += [Column(f"amount{i}", "float", bounds=(0, 1000)) for i in range(3)]
    cols += [Column("visits", "integer", bounds=(0, 50)), Column("query", "string")]
    return Schema(columns=tuple(cols))


def table_data(rng: np.random.Generator, n: int) -> dict:
    data: dict = {f"flag{i}": rng.random(n) < 0.2 + 0.1 * i for i in range(3)}
    cats = np.array(CATS)
    data.update({f"region{i}": cats[rng.integers(0, len(CATS), n)] for i in range(2)})
    data.update({f"amount{i}": rng.uniform(0, 1000, n) for i in range(3)})
    data["visits"] = rng.integers(0, 51, n)
    vocab = np.array([f"q{i}" for i in range(10_000)])
    data["query"] = vocab[rng.zipf(1.3, n) % len(vocab)].tolist()
    return data


ML_ROWS, ML_FEATURES, ML_EPSILON = 10_000, 87, 1.0
ML_BASELINE_COLS = 10


def ml_quote_case(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, Schema]:
    """The hub's quote case: 10,000 x 87 features in [0, 1] and a binary label."""
    X = rng.uniform(0, 1, (ML_ROWS, ML_FEATURES))
    y = rng.integers(0, 2, ML_ROWS)
    schema = Schema(features=tuple(Column(f"x{i}", "float", bounds=(0, 1)) for i in range(ML_FEATURES)),
                    label=Column.categorical("y", 2))
    return X, y, schema


def laplace_before(values, bounds: tuple[float, float], epsilon: float) -> np.ndarray:
    """The float Laplace draw as it was before 2026-12-06: the same checks and calibration,
    one OpenDP call on an unsized domain, so OpenDP samples on its 2^-1074 lattice."""
    x = clamp_to_bounds(values, bounds, clamp=False)
    sensitivity = bounds[1] - bounds[0]
    meas, _ = laplace_measurement(sensitivity / epsilon, sensitivity, epsilon, False)
    return np.asarray(meas(x.tolist()), dtype=np.float64)


def ml_quote_times(rng: np.random.Generator) -> dict[str, tuple[float, float]]:
    """(wall, CPU) seconds to draw the quote case's OpenDP release: before (scaled from a
    slice of columns), after on one thread, after on one thread per CPU."""
    X, y, schema = ml_quote_case(rng)
    eps_col = ML_EPSILON / (ML_FEATURES + 1)
    scale = ML_FEATURES / ML_BASELINE_COLS
    w_slice, c_slice = _wall_cpu(lambda: [laplace_before(X[:, j], (0.0, 1.0), eps_col)
                                          for j in range(ML_BASELINE_COLS)])
    w_label, c_label = _wall_cpu(lambda: randomized_response_bool(y.astype(bool), eps_col))
    return {"before": (w_slice * scale + w_label, c_slice * scale + c_label),
            "after, 1 thread": _wall_cpu(lambda: release_ml(X, y, schema, ML_EPSILON, workers=1)),
            "after, threads": _wall_cpu(lambda: release_ml(X, y, schema, ML_EPSILON))}


def _wall_cpu(fn) -> tuple[float, float]:
    """Wall-clock and process CPU seconds of ``fn()`` (CPU counts every thread)."""
    t0, c0 = time.perf_counter(), time.process_time()
    fn()
    return time.perf_counter() - t0, time.process_time() - c0


def _timed(fn):
    t0 = time.perf_counter()
    out = fn()
    return out, time.perf_counter() - t0


def main() -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(1)
    schema = table_schema()
    steps = tqdm(total=5, desc="throughput", file=sys.stderr)
    data, t_gen = _timed(lambda: table_data(rng, ROWS))
    steps.update()
    release, t_np = _timed(lambda: release_table(data, schema, EPSILON, rng=rng))
    steps.update()
    blob, t_ser = _timed(release.to_bytes)
    steps.update()

    # OpenDP: RR on the full columns (vectorised coins), Laplace kinds on a slice, then extrapolate
    eps_col = EPSILON / 10
    per_value = {}
    full_codes = np.searchsorted(np.array(sorted(CATS)), data["region0"])
    _, t = _timed(lambda: randomized_response_bool(data["flag0"], eps_col))
    per_value["boolean (RR)"] = t / ROWS
    _, t = _timed(lambda: randomized_response(full_codes, len(CATS), eps_col))
    per_value["categorical (k-RR)"] = t / ROWS
    _, t = _timed(lambda: laplace(data["amount0"][:SLICE], (0, 1000), eps_col))
    per_value["float (Laplace)"] = t / SLICE
    _, t = _timed(lambda: discrete_laplace(data["visits"][:SLICE], (0, 50), eps_col))
    per_value["integer (discrete Laplace)"] = t / SLICE
    meas, _ = rr_bool_measurement(rr_prob(eps_col), eps_col)
    flags = data["flag0"][:5000].tolist()
    _, t = _timed(lambda: [meas(bool(v)) for v in flags])
    per_element_rr = t / len(flags)
    steps.update()
    # numpy per-value cost of the same kinds on the full column, for the side-by-side ratio
    np_per_value = {}
    _, t = _timed(lambda: randomized_response_bool(data["flag0"], eps_col, rng=rng))
    np_per_value["boolean (RR)"] = t / ROWS
    _, t = _timed(lambda: randomized_response(full_codes, len(CATS), eps_col, rng=rng))
    np_per_value["categorical (k-RR)"] = t / ROWS
    _, t = _timed(lambda: laplace(data["amount0"], (0, 1000), eps_col, rng=rng))
    np_per_value["float (Laplace)"] = t / ROWS
    _, t = _timed(lambda: discrete_laplace(data["visits"], (0, 50), eps_col, rng=rng))
    np_per_value["integer (discrete Laplace)"] = t / ROWS
    from privacy.mechanisms import count_min_sketch
    _, t_cms = _timed(lambda: count_min_sketch(data["query"], eps_col, rng=rng))

    counts = {"boolean (RR)": 3, "categorical (k-RR)": 2, "float (Laplace)": 3, "integer (discrete Laplace)": 1}
    t_opendp = sum(per_value[k] * counts[k] * ROWS for k in counts) + t_cms

    X = rng.uniform(0, 1, (ROWS, 9))
    y = rng.integers(0, 2, ROWS)
    ml_schema = Schema(features=tuple(Column(f"x{i}", "float", bounds=(0, 1)) for i in range(9)),
                       label=Column.categorical("y", 2))
    ml_rel, t_ml = _timed(lambda: release_ml(X, y, ml_schema, EPSILON, rng=rng))
    ml_blob, t_ml_ser = _timed(ml_rel.to_bytes)
    quote = ml_quote_times(rng)
    steps.update()
    steps.close()

    lines = [f"privacy release throughput: {ROWS:,} rows x 10 columns "
             "(3 boolean, 2 categorical k=5, 3 float, 1 integer, 1 string/CMS 64x1024)", ""]
    lines.append(f"{'path':<44}{'seconds':>10}{'records/s':>14}{'vs numpy':>10}")
    lines.append(f"{'numpy sampler, full table (measured)':<44}{t_np:>10.2f}{ROWS / t_np:>14,.0f}{1.0:>10.2f}")
    lines.append(f"{'  + serialise to safetensors (' + format(len(blob) / 1e6, '.0f') + ' MB)':<44}"
                 f"{t_ser:>10.2f}{ROWS / (t_np + t_ser):>14,.0f}{'':>10}")
    lines.append(f"{'OpenDP samplers (Laplace kinds extrapolated)':<44}{t_opendp:>10.1f}{ROWS / t_opendp:>14,.0f}"
                 f"{t_np / t_opendp:>10.4f}")
    t_old = t_opendp + (per_element_rr - per_value["boolean (RR)"]) * 5 * ROWS
    lines.append(f"{'  same, RR by per-element OpenDP calls':<44}{t_old:>10.1f}{ROWS / t_old:>14,.0f}"
                 f"{t_np / t_old:>10.4f}")
    lines.append(f"{'ML release 1M x (9 features + label), numpy':<44}{t_ml:>10.2f}{ROWS / t_ml:>14,.0f}")
    lines.append(f"{'  + serialise (' + format(len(ml_blob) / 1e6, '.0f') + ' MB)':<44}{t_ml_ser:>10.2f}")
    lines.append("")
    values = ML_ROWS * (ML_FEATURES + 1)
    lines.append(f"hub quote case, OpenDP: {ML_ROWS:,} records x ({ML_FEATURES} float features + binary label), "
                 f"epsilon {ML_EPSILON:g}, {default_workers()} CPU(s)")
    lines.append(f"{'path':<60}{'seconds':>9}{'CPU s':>8}{'us/value':>10}{'before/x':>10}")
    labels = {"before": f"before: 2^-1074 lattice, columns in turn ({ML_BASELINE_COLS}/{ML_FEATURES} cols, scaled)",
              "after, 1 thread": "after: sized domain, coarse lattice, 1 thread",
              "after, threads": f"after: same, {default_workers()} thread(s)"}
    for key, label in labels.items():
        wall, cpu = quote[key]
        lines.append(f"{label:<60}{wall:>9.2f}{cpu:>8.2f}{wall / values * 1e6:>10.2f}"
                     f"{quote['before'][0] / wall:>10.2f}")
    lines.append("(wall clock; CPU s counts every thread: on a machine shared with other jobs, threads "
                 "gain only the CPU share the process gets)")
    lines.append("")
    lines.append(f"{'per value, by column kind':<32}{'OpenDP us':>12}{'numpy us':>12}{'OpenDP/numpy':>14}")
    for k in per_value:
        lines.append(f"{k:<32}{per_value[k] * 1e6:>12.2f}{np_per_value[k] * 1e6:>12.4f}"
                     f"{per_value[k] / np_per_value[k]:>14.0f}")
    lines.append(f"{'boolean (RR), per-element OpenDP':<32}{per_element_rr * 1e6:>12.2f}"
                 f"{np_per_value['boolean (RR)'] * 1e6:>12.4f}{per_element_rr / np_per_value['boolean (RR)']:>14.0f}")
    lines.append(f"{'string (CMS, numpy both paths)':<32}{t_cms / ROWS * 1e6:>12.2f}{t_cms / ROWS * 1e6:>12.4f}"
                 f"{1:>14}")
    lines.append("")
    lines.append(f"(generating the synthetic table took {t_gen:.1f} s, not counted)")
    report = "\n".join(lines) + "\n"
    (RESULTS / "privacy_throughput.txt").write_text(report)
    print(report)


if __name__ == "__main__":
    main()
