"""The release format, spartacus-release-v1 (docs/release-format.md): one reader, one writer.

A release is one safetensors file: tensors ``features`` float64 ``[n, d]`` and ``label``
int64/float64 ``[n]`` for an ML data set, ``col:<name>`` for the columns of a general table
(``[n]``, or ``[depth, width]`` for a count-min sketch), and one metadata key,
``spartacus``, holding canonical JSON ``{"format", "schema", "rows", "mechanism"}``.
`privacy` writes releases and its estimators read them; `pricing` prices them; both use
this class, so a release drawn by one is read by the other without conversion.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from .canonical_json import NotCanonical, canonical_json
from .json_bounded import JsonTooDeep, loads_bounded
from .safetensors_bytes import MalformedSafetensors, view_safetensors, write_safetensors

__all__ = ["FORMAT", "METADATA_KEY", "COLUMN_PREFIX", "MalformedRelease", "UnknownColumn", "Release",
           "column_tensor_name"]

FORMAT = "spartacus-release-v1"
METADATA_KEY = "spartacus"
#: the metadata JSON nests schema > features > column > bounds: a release never needs more than this
MAX_METADATA_DEPTH = 16
COLUMN_PREFIX = "col:"


class MalformedRelease(ValueError):
    """Raised when bytes, tensors or metadata do not follow spartacus-release-v1."""


class UnknownColumn(ValueError):
    """Raised when a release is asked for a column its schema does not have."""

    def __init__(self, name: str, known: list[str]) -> None:
        self.name, self.known = name, known
        super().__init__(f"release has no column {name!r}; its columns are {known}")


def column_tensor_name(name: str) -> str:
    """Tensor name of a general (non-ML) column: ``col:<name>``."""
    return f"{COLUMN_PREFIX}{name}"


def _names(entries: Any, where: str) -> list[str]:
    if not isinstance(entries, list) or not all(isinstance(c, Mapping) and isinstance(c.get("name"), str)
                                                for c in entries):
        raise MalformedRelease(f"schema {where} ({entries!r}) must be a list of objects with a string name")
    return [c["name"] for c in entries]


@dataclass(frozen=True, eq=False)
class Release:
    """A release: its tensors and metadata (the schema's JSON form, the row count, and the
    mechanism's parameters: everything a buyer needs to de-bias). Checked on construction;
    compared by identity (compare `to_bytes()` for equal content)."""

    tensors: Mapping[str, np.ndarray]
    schema: Mapping[str, Any]
    rows: int
    mechanism: Mapping[str, Any]

    def __post_init__(self) -> None:
        if not isinstance(self.schema, Mapping):
            raise MalformedRelease(f"release schema ({self.schema!r}) must be a JSON object; pass "
                                   "privacy's Schema as schema.to_json()")
        if isinstance(self.rows, bool) or not isinstance(self.rows, int) or self.rows < 0:
            raise MalformedRelease(f"release rows ({self.rows!r}) must be a non-negative integer")
        mech = self.mechanism
        if not isinstance(mech, Mapping) or not isinstance(mech.get("name"), str) or "epsilon" not in mech:
            raise MalformedRelease(f"mechanism metadata ({mech!r}) needs at least a name and the epsilon "
                                   "consumed (a number, or 'exact')")
        self._check_tensors()

    def _check_tensors(self) -> None:
        features = _names(self.schema.get("features", []), "features")
        label = self.schema.get("label")
        if label is not None and not (isinstance(label, Mapping) and isinstance(label.get("name"), str)):
            raise MalformedRelease(f"schema label ({label!r}) must be an object with a string name")
        columns = _names(self.schema.get("columns", []), "columns")
        expected = ({"features"} if features else set()) | ({"label"} if label is not None else set()) \
            | {column_tensor_name(c) for c in columns}
        for name, t in self.tensors.items():
            if name not in expected:
                raise MalformedRelease(f"tensor {name!r} is not in the schema: expected {sorted(expected)}")
            if not isinstance(t, np.ndarray):
                raise MalformedRelease(f"tensor {name!r} is a {type(t).__name__}, not a numpy array")
        for name in ("features", "label"):
            if name in expected and name not in self.tensors:
                what = f"label {label['name']!r}" if name == "label" else f"features {features}"
                raise MalformedRelease(f"release has no {name!r} tensor though its schema declares {what}")
        for name, t in self.tensors.items():
            sketch = name.startswith(COLUMN_PREFIX) and t.ndim == 2
            if not sketch and (t.ndim == 0 or t.shape[0] != self.rows):
                has = f"{t.shape[0]} rows" if t.ndim else "a scalar"
                raise MalformedRelease(f"metadata says {self.rows} rows, but tensor {name!r} has {has} "
                                       f"(shape {list(t.shape)}, expected shape {[self.rows, *t.shape[1:]]})")
        x, y = self.tensors.get("features"), self.tensors.get("label")
        if x is not None and (x.dtype != np.float64 or x.ndim != 2 or x.shape[1] != len(features)):
            raise MalformedRelease(f"tensor 'features' is {x.dtype} {list(x.shape)}; it must be float64 "
                                   f"[n, {len(features)}] (one column per schema feature)")
        if y is not None and (y.dtype not in (np.int64, np.float64) or y.ndim != 1):
            raise MalformedRelease(f"tensor 'label' is {y.dtype} {list(y.shape)}; it must be int64 or "
                                   f"float64 of shape [{self.rows}]")

    @property
    def features(self) -> np.ndarray:
        """The ``features`` tensor, float64 ``[n, d]``; raises `UnknownColumn` for a general table."""
        if "features" not in self.tensors:
            raise UnknownColumn("features", self.column_names)
        return self.tensors["features"]

    @property
    def label(self) -> np.ndarray:
        """The ``label`` tensor, ``[n]``; raises `UnknownColumn` when the schema has no label."""
        if "label" not in self.tensors:
            raise UnknownColumn("label", self.column_names)
        return self.tensors["label"]

    @property
    def epsilon(self) -> float | str:
        """The whole epsilon the release consumed (``"exact"`` for an exact release)."""
        return self.mechanism["epsilon"]

    @property
    def metadata(self) -> dict[str, Any]:
        """The ``spartacus`` metadata object (its canonical JSON is what `to_bytes` stores)."""
        return {"format": FORMAT, "schema": self.schema, "rows": self.rows, "mechanism": self.mechanism}

    @property
    def column_names(self) -> list[str]:
        """Every column of the schema: features, then the label, then the general columns."""
        label = self.schema.get("label")
        return ([c["name"] for c in self.schema.get("features", [])] + ([label["name"]] if label else [])
                + [c["name"] for c in self.schema.get("columns", [])])

    def column(self, name: str) -> np.ndarray:
        """The released values of one column, whichever tensor holds it."""
        for j, c in enumerate(self.schema.get("features", [])):
            if c["name"] == name:
                return self.tensors["features"][:, j]
        label = self.schema.get("label")
        if label is not None and label["name"] == name:
            return self.tensors["label"]
        key = column_tensor_name(name)
        if key in self.tensors:
            return self.tensors[key]
        raise UnknownColumn(name, self.column_names)

    def column_mechanism(self, name: str) -> dict[str, Any]:
        """The mechanism parameters that drew column ``name`` (what its estimator needs)."""
        if name not in self.column_names:
            raise UnknownColumn(name, self.column_names)
        if self.mechanism["name"] == "exact":
            return {"name": "exact", "epsilon": "exact"}
        cols = self.mechanism.get("columns", {})
        if name in cols:
            return dict(cols[name])
        raise MalformedRelease(f"mechanism metadata has no parameters for column {name!r}; "
                               f"it has {sorted(cols)}")

    def to_bytes(self) -> bytes:
        """The safetensors bytes of this release (equal content gives equal bytes)."""
        try:
            text = canonical_json(self.metadata)
        except NotCanonical as exc:
            raise MalformedRelease(f"release metadata: {exc}") from None
        return write_safetensors(self.tensors, {METADATA_KEY: text})

    @classmethod
    def from_bytes(cls, data: bytes) -> "Release":
        """Parse release bytes; raise `MalformedRelease` naming what is wrong. The tensors are
        read-only views into `data` (no copy of the columns: `view_safetensors`)."""
        try:
            tensors, meta = view_safetensors(data)
        except MalformedSafetensors as exc:
            raise MalformedRelease(f"release bytes: {exc}") from None
        if METADATA_KEY not in meta:
            raise MalformedRelease(f"release metadata has no {METADATA_KEY!r} key (it has {sorted(meta)}); "
                                   "write releases with Release.to_bytes")
        try:
            info = loads_bounded(meta[METADATA_KEY], max_depth=MAX_METADATA_DEPTH)
        except (json.JSONDecodeError, JsonTooDeep) as exc:
            raise MalformedRelease(f"release metadata {METADATA_KEY!r} is not JSON of this format: {exc}") from None
        if not isinstance(info, dict) or info.get("format") != FORMAT:
            found = info.get("format") if isinstance(info, dict) else info
            raise MalformedRelease(f"release format is {found!r}, expected {FORMAT!r}")
        if set(info) != {"format", "schema", "rows", "mechanism"}:
            raise MalformedRelease(f"release metadata has keys {sorted(info)}; spartacus-release-v1 has "
                                   "exactly format, mechanism, rows and schema")
        return cls(tensors=tensors, schema=info["schema"], rows=info["rows"], mechanism=info["mechanism"])
