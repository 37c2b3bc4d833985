"""Read the `features` and `label` of a spartacus-release-v1 safetensors byte string."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._safetensors import read_safetensors, write_safetensors
from .errors import ReleaseError

__all__ = ["RELEASE_FORMAT", "Release", "read_release", "write_release"]

RELEASE_FORMAT = "spartacus-release-v1"


@dataclass(frozen=True)
class Release:
    """What pricing needs from a release: features [n, d] float64, label [n], the metadata."""

    features: np.ndarray
    label: np.ndarray
    meta: dict[str, Any]

    @property
    def schema(self) -> dict[str, Any]:
        return self.meta.get("schema", {})


def read_release(data: bytes) -> Release:
    """Parse release bytes per docs/release-format.md; raise `ReleaseError` naming the defect."""
    tensors, meta = read_safetensors(data, ReleaseError)
    if "spartacus" not in meta:
        raise ReleaseError("release metadata has no 'spartacus' key; was it written by privacy/?")
    try:
        info = json.loads(meta["spartacus"])
    except json.JSONDecodeError as exc:
        raise ReleaseError(f"release metadata 'spartacus' is not JSON: {exc}") from None
    if not isinstance(info, dict) or info.get("format") != RELEASE_FORMAT:
        raise ReleaseError(f"release format is {info.get('format') if isinstance(info, dict) else info!r}, expected {RELEASE_FORMAT!r}")
    x = tensors.get("features")
    if x is None or x.dtype != np.float64 or x.ndim != 2:
        raise ReleaseError("release needs a 'features' tensor, float64 [n, d]")
    y = tensors.get("label")
    if y is None:
        raise ReleaseError("release has no 'label' tensor; MDE pricing needs labelled data")
    if y.dtype not in (np.int64, np.float64) or y.shape != (x.shape[0],):
        raise ReleaseError(f"label must be int64 or float64 of shape [{x.shape[0]}], got {y.dtype} {list(y.shape)}")
    if "rows" in info and info["rows"] != x.shape[0]:
        raise ReleaseError(f"metadata says {info['rows']} rows, the tensors hold {x.shape[0]}")
    if not np.isfinite(x).all() or (y.dtype == np.float64 and not np.isfinite(y).all()):
        raise ReleaseError("release holds NaN or infinite values")
    return Release(features=x, label=y, meta=info)


def write_release(features: np.ndarray, label: np.ndarray, schema: dict[str, Any], *,
                  mechanism: dict[str, Any] | None = None) -> bytes:
    """Write a minimal release (for tests and benchmarks; privacy/ writes the real ones)."""
    info = {"format": RELEASE_FORMAT, "schema": schema, "rows": int(features.shape[0]),
            "mechanism": mechanism or {"name": "exact"}}
    text = json.dumps(info, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    return write_safetensors({"features": np.asarray(features, np.float64), "label": np.asarray(label)},
                             {"spartacus": text})
