"""Per-column dispatch shared by the table and ML mechanisms (sequential composition)."""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Mapping, Sequence

import numpy as np

from ..budget import split_epsilon, validate_epsilon
from ..errors import InvalidSchema, InvalidWorkers, UnknownCategory
from ..schema import Column
from .count_min_sketch import DEFAULT_DEPTH, DEFAULT_WIDTH, count_min_sketch
from .laplace import discrete_laplace, laplace
from .randomized_response import randomized_response, randomized_response_bool

NEIGHBOURING = "replace-one"


def encode_categorical(column: Column, values) -> np.ndarray:
    """Codes ``0..k-1`` of a categorical column's values (by the schema's category list)."""
    cats = column.categories
    x = np.asarray(values)
    if cats == tuple(range(len(cats))) and np.issubdtype(x.dtype, np.integer):
        codes = x.astype(np.int64)
        bad = (codes < 0) | (codes >= len(cats))
    else:
        index = {c: i for i, c in enumerate(cats)}
        flat = x.tolist()
        codes = np.fromiter((index.get(v, -1) for v in flat), dtype=np.int64, count=len(flat))
        bad = codes < 0
    if bad.any():
        raise UnknownCategory(column=column.name, count=int(bad.sum()), example=x[bad][0])
    return codes


def resolve_split(names: Sequence[str], epsilon: float, split) -> tuple[list[float], Any]:
    """Per-column epsilons (summing to the whole epsilon) and the split as recorded."""
    if split is None:
        return split_epsilon(epsilon, len(names)), "equal"
    if isinstance(split, Mapping):
        missing = set(names) ^ set(split)
        if missing:
            raise InvalidSchema(f"split names {sorted(split)} must be exactly the columns {list(names)}")
        weights = [float(split[n]) for n in names]
    else:
        weights = [float(w) for w in split]
        if len(weights) != len(names):
            raise InvalidSchema(f"split has {len(weights)} weights for {len(names)} columns {list(names)}")
    return split_epsilon(epsilon, weights), {n: w for n, w in zip(names, weights)}


def release_column(column: Column, values, epsilon: float, *, clamp: bool,
                   rng: np.random.Generator | None, cms: Mapping[str, Any] | None = None
                   ) -> tuple[np.ndarray, dict]:
    """Run the column kind's mechanism at ``epsilon``."""
    if column.kind == "boolean":
        return randomized_response_bool(values, epsilon, rng=rng)
    if column.kind == "categorical":
        out, params = randomized_response(encode_categorical(column, values), column.k, epsilon, rng=rng)
        return out, params
    if column.kind == "float":
        return laplace(values, column.bounds, epsilon, clamp=clamp, column=column.name, rng=rng)
    if column.kind == "integer":
        return discrete_laplace(values, column.bounds, epsilon, clamp=clamp, column=column.name, rng=rng)
    if column.kind == "string":
        opts = dict(cms or {})
        return count_min_sketch(list(values), epsilon, depth=int(opts.get("depth", DEFAULT_DEPTH)),
                                width=int(opts.get("width", DEFAULT_WIDTH)), rng=rng)
    raise InvalidSchema(f"column {column.name!r}: no mechanism for kind {column.kind!r}")


def default_workers() -> int:
    """Threads for the OpenDP column draws: the CPUs this process may run on."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # not Linux
        return max(1, os.cpu_count() or 1)


def release_columns(columns: Sequence[Column], data: Sequence[Any], epsilons: Sequence[float], *,
                    clamp: bool, rng: np.random.Generator | None,
                    cms: Mapping[str, Any] | None = None, workers: int | None = None
                    ) -> list[tuple[np.ndarray, dict]]:
    """:func:`release_column` for each column, in order.

    The OpenDP path (``rng=None``) draws columns on ``workers`` threads (default: the CPUs
    this process may use): OpenDP's samplers run in Rust through ctypes, which releases
    the GIL, and the columns' noise is independent, so the draws parallelise. A seeded
    ``rng`` is one stream consumed in column order, so that path stays sequential and its
    output for a given seed is unchanged. A column that fails raises its error, the first
    failing column's in order, as the sequential loop would.
    """
    jobs = list(zip(columns, data, epsilons))
    n_workers = default_workers() if workers is None else int(workers)
    if n_workers < 1:
        raise InvalidWorkers(workers)

    def draw(job: tuple[Column, Any, float]) -> tuple[np.ndarray, dict]:
        column, values, eps = job
        return release_column(column, values, eps, clamp=clamp, rng=rng, cms=cms)

    if rng is not None or n_workers == 1 or len(jobs) < 2:
        return [draw(job) for job in jobs]
    with ThreadPoolExecutor(max_workers=min(n_workers, len(jobs)), thread_name_prefix="opendp-column") as pool:
        futures = [pool.submit(draw, job) for job in jobs]
        try:
            return [f.result() for f in futures]
        except BaseException:
            pool.shutdown(cancel_futures=True)  # no point drawing the rest of a refused release
            raise


def check_rows(columns: Mapping[str, Any], names: Sequence[str]) -> int:
    missing = [n for n in names if n not in columns]
    if missing:
        raise InvalidSchema(f"data lack column(s) {missing}; the schema declares {list(names)}")
    lengths = {n: len(columns[n]) for n in names}
    if len(set(lengths.values())) > 1:
        raise InvalidSchema(f"columns have different lengths {lengths}; a table's columns must align")
    return next(iter(lengths.values())) if lengths else 0


def top_params(name: str, epsilon: float, split, per_column: dict, clamp: bool) -> dict:
    return {"name": name, "epsilon": validate_epsilon(epsilon), "split": split,
            "neighbouring": NEIGHBOURING, "composition": "sequential", "clamp": bool(clamp),
            "columns": per_column}
