"""Column and table schemas: what a release's data look like, and the declared bounds.

Bounds are part of the offer: they fix each numeric column's sensitivity, and data
outside them are either refused (:class:`~privacy.errors.OutOfBounds`) or clamped when
the caller asks for it explicitly (``clamp=True``), never silently.

JSON form (inside a release's ``spartacus`` metadata, docs/release-format.md)::

    {"features": [{"name": "age", "kind": "float", "bounds": [0, 100]}, ...],
     "label": {"name": "income", "kind": "categorical", "classes": 2},
     "columns": [{"name": "smoker", "kind": "boolean"},
                 {"name": "city", "kind": "categorical", "categories": ["a", "b"]},
                 {"name": "query", "kind": "string"}]}

``features``/``label`` describe an ML data set, ``columns`` a general table; a schema
has one or the other (or both).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

from .errors import InvalidSchema

__all__ = ["KINDS", "Column", "Schema"]

KINDS = ("boolean", "categorical", "float", "integer", "string")


@dataclass(frozen=True)
class Column:
    """One column: ``kind`` in :data:`KINDS`; ``bounds`` for float/integer;
    ``categories`` (labels) or ``classes`` (count, labels ``0..classes-1``) for categorical."""

    name: str
    kind: str
    bounds: tuple[float, float] | None = None
    categories: tuple[Any, ...] | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise InvalidSchema(f"column name ({self.name!r}) must be a non-empty string")
        if self.kind not in KINDS:
            raise InvalidSchema(f"column {self.name!r}: kind ({self.kind!r}) must be one of {KINDS}")
        if self.kind in ("float", "integer"):
            if self.bounds is None or len(self.bounds) != 2:
                raise InvalidSchema(f"column {self.name!r} ({self.kind}) needs bounds=(lower, upper)")
            lo, hi = self.bounds
            if self.kind == "integer":
                if int(lo) != lo or int(hi) != hi:
                    raise InvalidSchema(f"column {self.name!r}: integer bounds ({lo}, {hi}) must be whole numbers")
                lo, hi = int(lo), int(hi)
            else:
                lo, hi = float(lo), float(hi)
            if not (math.isfinite(lo) and math.isfinite(hi)) or not lo < hi:
                raise InvalidSchema(
                    f"column {self.name!r}: bounds ({lo}, {hi}) must be finite with lower < upper")
            object.__setattr__(self, "bounds", (lo, hi))
        elif self.bounds is not None:
            raise InvalidSchema(f"column {self.name!r} ({self.kind}) takes no bounds")
        if self.kind == "categorical":
            if self.categories is None or len(self.categories) < 2:
                raise InvalidSchema(f"column {self.name!r}: categorical needs at least 2 categories")
            cats = tuple(self.categories)
            if len(set(cats)) != len(cats):
                raise InvalidSchema(f"column {self.name!r}: categories {cats!r} repeat a value")
            object.__setattr__(self, "categories", cats)
        elif self.categories is not None:
            raise InvalidSchema(f"column {self.name!r} ({self.kind}) takes no categories")

    @classmethod
    def categorical(cls, name: str, classes: int | Sequence[Any]) -> "Column":
        """A categorical column with ``classes`` labels ``0..classes-1``, or the given labels."""
        cats = tuple(range(classes)) if isinstance(classes, int) else tuple(classes)
        return cls(name, "categorical", categories=cats)

    @property
    def sensitivity(self) -> float:
        """``upper - lower``: how far one record's value can move (replace-one)."""
        if self.bounds is None:
            raise InvalidSchema(f"column {self.name!r} ({self.kind}) has no bounds, hence no sensitivity")
        return self.bounds[1] - self.bounds[0]

    @property
    def k(self) -> int:
        """Number of categories (2 for boolean)."""
        if self.kind == "boolean":
            return 2
        if self.categories is None:
            raise InvalidSchema(f"column {self.name!r} ({self.kind}) is not categorical")
        return len(self.categories)

    def to_json(self) -> dict:
        out: dict[str, Any] = {"name": self.name, "kind": self.kind}
        if self.bounds is not None:
            out["bounds"] = list(self.bounds)
        if self.categories is not None:
            if self.categories == tuple(range(len(self.categories))):
                out["classes"] = len(self.categories)
            else:
                out["categories"] = list(self.categories)
        return out

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> "Column":
        if not isinstance(obj, Mapping) or "name" not in obj:
            raise InvalidSchema(f"column ({obj!r}) must be an object with a name")
        kind = obj.get("kind", "float")
        cats = obj.get("categories")
        if cats is None and "classes" in obj:
            cats = tuple(range(int(obj["classes"])))
        bounds = tuple(obj["bounds"]) if obj.get("bounds") is not None else None
        return cls(obj["name"], kind, bounds=bounds, categories=tuple(cats) if cats is not None else None)


@dataclass(frozen=True)
class Schema:
    """A table's schema: ML ``features`` (float/integer with bounds) and ``label``, or ``columns``."""

    features: tuple[Column, ...] = ()
    label: Column | None = None
    columns: tuple[Column, ...] = field(default=())

    def __post_init__(self) -> None:
        object.__setattr__(self, "features", tuple(self.features))
        object.__setattr__(self, "columns", tuple(self.columns))
        for c in self.features:
            if c.kind not in ("float", "integer"):
                raise InvalidSchema(f"feature {c.name!r} is {c.kind}; features must be float or integer with bounds")
        if self.label is not None and self.label.kind not in ("categorical", "boolean", "float", "integer"):
            raise InvalidSchema(f"label {self.label.name!r} is {self.label.kind}; use categorical or numeric")
        names = [c.name for c in self.all_columns]
        if len(set(names)) != len(names):
            raise InvalidSchema(f"column names {names!r} repeat a name")
        if not names:
            raise InvalidSchema("a schema needs at least one column")

    @property
    def all_columns(self) -> tuple[Column, ...]:
        return self.features + ((self.label,) if self.label is not None else ()) + self.columns

    @property
    def is_ml(self) -> bool:
        return bool(self.features)

    def column(self, name: str) -> Column:
        for c in self.all_columns:
            if c.name == name:
                return c
        raise InvalidSchema(f"no column {name!r} in schema; columns are {[c.name for c in self.all_columns]}")

    def to_json(self) -> dict:
        out: dict[str, Any] = {}
        if self.features:
            out["features"] = [c.to_json() for c in self.features]
        if self.label is not None:
            out["label"] = self.label.to_json()
        if self.columns:
            out["columns"] = [c.to_json() for c in self.columns]
        return out

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> "Schema":
        if not isinstance(obj, Mapping):
            raise InvalidSchema(f"schema ({obj!r}) must be a JSON object")
        return cls(
            features=tuple(Column.from_json(c) for c in obj.get("features", [])),
            label=Column.from_json(obj["label"]) if obj.get("label") is not None else None,
            columns=tuple(Column.from_json(c) for c in obj.get("columns", [])),
        )
