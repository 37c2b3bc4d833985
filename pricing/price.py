"""`price(spec, release, terms)`: the one function the hub quotes with and the buyer replays.

Deterministic by construction: float64 numpy only, seeds from the spec, BLAS pinned to one
thread while pricing (so the summation order never depends on the machine's thread
count), exact integer money. Copies never raise a price: a release with exact (and, with
``dedup.tol``, near-) duplicate records is priced at the lower of its distinct records and the
release as delivered (spec `dedup.copies` "lower", the default; "drop" prices the distinct
records alone). Copies over-weight what they repeat, and retraining on them often hurts.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from .numerics.dedup import first_of_groups
from .numerics.threads import one_thread
from .curves import apply_curve, parse_max_price
from .errors import TermsError
from .methods import get_method
from .release import read_release
from .spec import DEFAULT_MAX_BYTES, Spec, parse_spec

__all__ = ["PriceResult", "price", "efficacy_of", "dedup_index", "one_thread"]


@dataclass(frozen=True)
class PriceResult:
    """The quote: price (int, token's smallest unit), efficacy, per-record scores, method."""

    price: int
    efficacy: float
    scores: np.ndarray
    method: str
    spec_hash: str
    unique_records: int


def dedup_index(x: np.ndarray, y: np.ndarray, tol: float = 0.0) -> np.ndarray:
    """Sorted indices of the first record of each duplicate group (same label, and features
    equal, or equal on a grid of step `tol`).

    Exact equality of the rows' float64 bytes (after folding -0.0 into 0.0), found with a
    compiled hash table (`numerics.dedup`): linear in the release, with no copy of its rows,
    where `np.unique(axis=0)` sorts rows lexicographically (13 ms for 400 MNIST rows) and a dict
    of row bytes held every row again (docs/decisions/2026-12-06-million-row-pricing.md)."""
    return first_of_groups(x, y, tol)


def efficacy_of(spec: Spec, x: np.ndarray, y: np.ndarray) -> tuple[float, np.ndarray, int]:
    """(efficacy, per-record scores, unique records) of records under a parsed spec.

    Without duplicates, the method's efficacy of the records. With them, the efficacy of the
    distinct records (each group's first; the copies score 0), or, under `dedup.copies`
    "lower", that of the records as delivered when it is lower (each row scored): so k copies
    are never worth more than one, and are worth less when the buyer's model, trained on the
    release as it comes, would over-fit them (the benchmark's repeated bundles)."""
    method = get_method(spec.method)
    keep = dedup_index(x, y, spec.dedup_tol)
    with one_thread():
        copies = keep.shape[0] < x.shape[0]
        eff = method.efficacy(spec, x[keep], y[keep]) if copies else method.efficacy(spec, x, y)  # no copy of x
        scores = np.zeros(x.shape[0])
        scores[keep] = eff.scores
        total = eff.total
        if copies and spec.copies == "lower":
            delivered = method.efficacy(spec, x, y)
            if delivered.total < total:
                total, scores = delivered.total, np.asarray(delivered.scores, dtype=np.float64)
    return total, scores, int(keep.shape[0])


def price(spec_bytes: bytes | Spec, release_bytes: bytes, terms: Mapping[str, Any], *,
          max_bytes: int = DEFAULT_MAX_BYTES) -> PriceResult:
    """curve(MDE(spec, release)) as shared/protocol.md "Release and pricing" defines it.

    `spec_bytes` may also be a `Spec` that `parse_spec` returned earlier (the hub parses and
    hashes a bundle once, when it is uploaded); the result is the same either way."""
    spec = spec_bytes if isinstance(spec_bytes, Spec) else parse_spec(spec_bytes, max_bytes=max_bytes)
    if not isinstance(terms, Mapping):
        raise TermsError(f"terms must be a mapping (the parsed terms document), got {type(terms).__name__}")
    pricing = terms.get("pricing")
    if not isinstance(pricing, Mapping) or "curve" not in pricing:
        raise TermsError("terms need 'pricing': {'method': ..., 'curve': {...}}")
    if pricing.get("method") != spec.method:
        raise TermsError(f"terms name method {pricing.get('method')!r} but the spec is for {spec.method!r}")
    if "specHash" in terms and str(terms["specHash"]).lower() != spec.hash:
        raise TermsError(f"terms specHash {terms['specHash']} is not this spec's hash {spec.hash}")
    max_price = parse_max_price(terms.get("maxPrice"))
    release = read_release(release_bytes)
    spec.check_schema(release.schema)
    eff, scores, unique = efficacy_of(spec, release.features, release.label)
    return PriceResult(
        price=apply_curve(pricing["curve"], eff, max_price), efficacy=eff, scores=scores,
        method=spec.method, spec_hash=spec.hash, unique_records=unique,
    )
