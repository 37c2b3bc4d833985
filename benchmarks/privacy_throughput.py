"""Release throughput: records per second for a 1M-row, 10-column table.

Run: ``.venv/bin/python -m benchmarks.privacy_throughput`` (about a minute).

The table: 3 boolean (randomized response), 2 categorical with 5 string categories
(k-ary randomized response), 3 float (Laplace), 1 integer (discrete Laplace), 1 string
column with 10,000 distinct values (Apple's CMS, 64 x 1024). Two samplers:

* numpy (seeded ``Generator``): the whole 1M-row table is released, then serialised;
* OpenDP (exact, floating-point safe, the production default): randomized response
  (vectorised coins) and the CMS measured on the full 1M-row columns; Laplace and
  discrete Laplace (OpenDP's vector measurements, ~20-50 us a value) measured on a
  20,000-row slice and extrapolated; the per-element OpenDP RR measurement (one Python
  call a record) measured on a 5,000-row slice, as the baseline the vectorised path replaces.

Also an ML release (1M x 9 features + a binary label) with numpy. Writes
``benchmarks/results/privacy_throughput.txt``.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from privacy import Column, Schema, release_ml, release_table
from privacy.mechanisms import discrete_laplace, laplace, randomized_response, randomized_response_bool, rr_prob
from privacy.mechanisms._opendp import rr_bool_measurement

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
