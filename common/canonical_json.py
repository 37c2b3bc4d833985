"""Canonical JSON: the one text form of every hashed or signed document (spec manifests,
release metadata, terms). Keys sorted, no insignificant white space, non-ASCII kept as
UTF-8, NaN and infinities refused, so equal content always gives equal bytes (docs/terms.md)."""

from __future__ import annotations

import json
from typing import Any

__all__ = ["NotCanonical", "canonical_json", "canonical_json_bytes"]


class NotCanonical(ValueError):
    """Raised when a value has no canonical JSON form (NaN, an infinity, a circular reference)."""


def canonical_json(obj: Any) -> str:
    """Canonical JSON text of `obj`: sorted keys, `,`/`:` separators, UTF-8 kept, no NaN."""
    try:
        return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError as exc:  # "Out of range float values are not JSON compliant", or a cycle
        raise NotCanonical(f"no canonical JSON for this value ({exc}); canonical JSON holds finite numbers "
                           "only: replace NaN and infinities (or leave the key out)") from None


def canonical_json_bytes(obj: Any) -> bytes:
    """`canonical_json(obj)` encoded as UTF-8: the bytes a hash or a signature covers."""
    return canonical_json(obj).encode("utf-8")
