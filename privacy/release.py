"""Releases, as privacy writes and reads them: the format is `common.release`
(docs/release-format.md); this module re-exports it and gives the typed schema back.

Tensors: ``features`` float64 ``[n, d]`` and ``label`` int64/float64 ``[n]`` for an ML
data set; ``col:<name>`` for other columns (``[n]``, or ``[depth, width]`` for a
count-min sketch). Metadata: one key, ``spartacus``, holding canonical JSON with
``format``, ``schema``, ``rows`` and ``mechanism``. The metadata is everything a buyer
needs to de-bias; nothing is ever unpickled.
"""

from __future__ import annotations

from common.canonical_json import canonical_json
from common.release import FORMAT, METADATA_KEY, MalformedRelease, Release, UnknownColumn, column_tensor_name

from .errors import InvalidRelease, InvalidSchema
from .schema import Schema

__all__ = ["FORMAT", "METADATA_KEY", "MalformedRelease", "Release", "UnknownColumn", "canonical_json",
           "column_tensor_name", "schema_of"]


def schema_of(release: Release) -> Schema:
    """The typed `Schema` of a release (what the estimators read kinds, bounds and categories
    from); raises `InvalidRelease` when the release's schema is not one privacy can de-bias."""
    try:
        return Schema.from_json(release.schema)
    except (InvalidSchema, KeyError, TypeError, ValueError) as exc:
        raise InvalidRelease(f"release schema is not a privacy schema ({exc}); was it drawn by privacy/?") from None
