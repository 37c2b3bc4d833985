"""`json.loads` for bytes another party wrote: the nesting depth is checked first. CPython's C scanner
recurses once a level; with the recursion limit a dependency raises (py_ecc sets 100,000) a document of
200 KB of brackets overflowed the C stack and killed the wallet (SIGSEGV), before any exception."""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["JsonTooDeep", "check_depth", "loads_bounded"]

_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.S)
_BRACKET = re.compile(rb"[\[\]{}]")


class JsonTooDeep(ValueError):
    """Raised when arrays and objects nest deeper than a document of that kind ever does."""

    def __init__(self, limit: int, at: int) -> None:
        self.limit, self.at = limit, at
        super().__init__(f"arrays and objects nested deeper than {limit} (at byte {at} with strings removed)")


def check_depth(data: bytes | str, max_depth: int) -> None:
    """Raise `JsonTooDeep` when `data` nests arrays and objects deeper than `max_depth` (strings,
    which may hold brackets, are blanked first); O(len(data)), no recursion."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else bytes(data)
    depth = 0
    for m in _BRACKET.finditer(_STRING.sub(b'""', raw)):
        depth += 1 if m[0] in b"[{" else -1
        if depth > max_depth:
            raise JsonTooDeep(max_depth, m.start())


def loads_bounded(data: bytes | str, *, max_depth: int, **kw: Any) -> Any:
    """`json.loads(data, **kw)` once `check_depth(data, max_depth)` passes."""
    check_depth(data, max_depth)
    return json.loads(data, **kw)
