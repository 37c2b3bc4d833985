"""Reading and writing releases: one safetensors file per docs/release-format.md.

Tensors: ``features`` float64 ``[n, d]`` and ``label`` int64/float64 ``[n]`` for an ML
data set; ``col:<name>`` for other columns (``[n]``, or ``[depth, width]`` for a
count-min sketch). Metadata: one key, ``spartacus``, holding canonical JSON with
``format``, ``schema``, ``rows`` and ``mechanism``. The metadata is everything a buyer
needs to de-bias; nothing is ever unpickled.
"""

from __future__ import annotations

import json
import struct
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
from safetensors.numpy import load as _st_load
from safetensors.numpy import save as _st_save

from .errors import InvalidRelease, InvalidSchema
from .schema import Schema

__all__ = ["FORMAT", "METADATA_KEY", "Release", "canonical_json", "column_tensor_name"]

FORMAT = "spartacus-release-v1"
METADATA_KEY = "spartacus"


def canonical_json(obj: Any) -> str:
    """Canonical JSON text: keys sorted, no insignificant white space, no NaN."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def column_tensor_name(name: str) -> str:
    """Tensor name of a general (non-ML) column."""
    return f"col:{name}"


@dataclass
class Release:
    """A release: its tensors plus the metadata (schema, rows, mechanism parameters)."""

    tensors: dict[str, np.ndarray]
    schema: Schema
    rows: int
    mechanism: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if "name" not in self.mechanism or "epsilon" not in self.mechanism:
            raise InvalidRelease(f"mechanism metadata ({self.mechanism!r}) needs at least name and epsilon")

    @property
    def epsilon(self) -> float | str:
        """The whole epsilon the release consumed (``"exact"`` for an exact release)."""
        return self.mechanism["epsilon"]

    @property
    def metadata(self) -> dict:
        return {"format": FORMAT, "schema": self.schema.to_json(), "rows": self.rows,
                "mechanism": self.mechanism}

    def column(self, name: str) -> np.ndarray:
        """The released values of one column, whichever tensor holds it."""
        for j, c in enumerate(self.schema.features):
            if c.name == name:
                return self.tensors["features"][:, j]
        if self.schema.label is not None and self.schema.label.name == name:
            return self.tensors["label"]
        key = column_tensor_name(name)
        if key in self.tensors:
            return self.tensors[key]
        raise InvalidRelease(f"release has no column {name!r}; columns are "
                             f"{[c.name for c in self.schema.all_columns]}")

    def column_mechanism(self, name: str) -> dict:
        """The mechanism parameters that drew column ``name`` (what its estimator needs)."""
        self.schema.column(name)  # raises for an unknown name
        mech = self.mechanism
        if mech["name"] == "exact":
            return {"name": "exact", "epsilon": "exact"}
        cols = mech.get("columns", {})
        if name in cols:
            return cols[name]
        raise InvalidRelease(f"mechanism metadata has no parameters for column {name!r}")

    def to_bytes(self) -> bytes:
        """The safetensors bytes of this release (deterministic for equal content)."""
        tensors = {k: np.ascontiguousarray(v) for k, v in self.tensors.items()}
        return _st_save(tensors, metadata={METADATA_KEY: canonical_json(self.metadata)})

    @classmethod
    def from_bytes(cls, data: bytes) -> "Release":
        """Parse release bytes; raises :class:`InvalidRelease` on anything malformed."""
        meta = read_metadata(data)
        try:
            tensors = dict(_st_load(bytes(data)))
        except Exception as exc:  # safetensors raises its own error types
            raise InvalidRelease(f"release bytes are not a valid safetensors file: {exc}") from exc
        try:
            schema = Schema.from_json(meta["schema"])
        except (KeyError, InvalidSchema, TypeError) as exc:
            raise InvalidRelease(f"release schema is malformed: {exc}") from exc
        rows = meta.get("rows")
        if not isinstance(rows, int) or rows < 0:
            raise InvalidRelease(f"release rows ({rows!r}) must be a non-negative integer")
        for name, t in tensors.items():
            sketch = name.startswith("col:") and t.ndim == 2
            if not sketch and (t.ndim == 0 or t.shape[0] != rows):
                raise InvalidRelease(f"tensor {name!r} has shape {list(t.shape)}; metadata says {rows} rows")
        return cls(tensors=tensors, schema=schema, rows=rows, mechanism=meta.get("mechanism", {}))


def read_metadata(data: bytes) -> dict:
    """The ``spartacus`` metadata of release bytes, without loading the tensors."""
    if len(data) < 8:
        raise InvalidRelease(f"release is {len(data)} bytes; a safetensors file has at least 8")
    (hlen,) = struct.unpack("<Q", bytes(data[:8]))
    if hlen > len(data) - 8:
        raise InvalidRelease(f"safetensors header length ({hlen}) exceeds the file ({len(data)} bytes)")
    try:
        header = json.loads(bytes(data[8:8 + hlen]).decode("utf-8"))
        text = header["__metadata__"][METADATA_KEY]
        meta = json.loads(text)
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidRelease(f"release has no readable '{METADATA_KEY}' metadata: {exc}") from exc
    if not isinstance(meta, Mapping) or meta.get("format") != FORMAT:
        raise InvalidRelease(f"release format ({meta.get('format') if isinstance(meta, Mapping) else meta!r}) "
                             f"is not {FORMAT!r}")
    return dict(meta)
