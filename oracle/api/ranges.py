"""HTTP byte ranges for the two downloads (protocol.md "Hub HTTP API"): one range of the forms
`bytes=a-b`, `bytes=a-` and `bytes=-k`, so an interrupted download resumes where it stopped."""

from __future__ import annotations

import re
from dataclasses import dataclass

from oracle.errors import BadRequest, HubError

__all__ = ["ByteRange", "RangeNotSatisfiable", "parse_range"]

_RANGE = re.compile(r"bytes=(?:(?P<first>[0-9]+)-(?P<last>[0-9]*)|-(?P<suffix>[0-9]+))\Z")
_MAX_DIGITS = 20  # 10**20 bytes is beyond any release; longer numbers are not worth parsing


class RangeNotSatisfiable(HubError):
    """Raised for a range that starts at or beyond the end of the file (or a zero-length suffix)."""

    status, code = 416, "range_not_satisfiable"

    def __init__(self, detail: str, *, size: int) -> None:
        super().__init__(detail)
        self.size = size


@dataclass(frozen=True)
class ByteRange:
    """The bytes `start` .. `end` (inclusive) of a file of `size` bytes; `partial` when a Range asked for them."""

    start: int
    end: int
    size: int
    partial: bool

    @property
    def length(self) -> int:
        """How many bytes the response carries."""
        return self.end - self.start + 1

    @property
    def content_range(self) -> str:
        """The `Content-Range` header of a 206 answer."""
        return f"bytes {self.start}-{self.end}/{self.size}"


def parse_range(header: str | None, size: int) -> ByteRange:
    """The part of a `size`-byte file a `Range` header asks for (the whole file when there is none).

    Raises `BadRequest` for a header that is not one range of the three forms (several ranges,
    another unit, last before first) and `RangeNotSatisfiable` for a range wholly past the end."""
    if size <= 0:
        raise ValueError(f"a download has at least one byte, got a file of {size} bytes")
    if header is None:
        return ByteRange(0, size - 1, size, partial=False)
    m = _RANGE.match(header.strip())
    if m is None or any(len(v) > _MAX_DIGITS for v in m.groupdict("").values()):
        raise BadRequest(
            "the Range header must be one byte range: 'bytes=a-b', 'bytes=a-' or 'bytes=-k' "
            "(several ranges or other units are not served); send it again with one range")
    if m["suffix"] is not None:
        k = int(m["suffix"])
        if k == 0:
            raise RangeNotSatisfiable(f"'bytes=-0' asks for no bytes; the file has {size} bytes", size=size)
        return ByteRange(max(0, size - k), size - 1, size, partial=True)
    first = int(m["first"])
    last = int(m["last"]) if m["last"] else None
    if last is not None and last < first:
        raise BadRequest(f"the Range's last byte ({last}) is before its first ({first}); write 'bytes=first-last' with first <= last")
    if first >= size:
        raise RangeNotSatisfiable(f"the range starts at byte {first} but the file has {size} bytes (0..{size - 1})", size=size)
    return ByteRange(first, size - 1 if last is None else min(last, size - 1), size, partial=True)
