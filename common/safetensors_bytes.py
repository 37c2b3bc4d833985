"""safetensors bytes in and out, through the `safetensors` library: the one parser of the
spec bundle and the release (no files, no pickles).

Reading: the library validates the whole file (header length at most 100 MB, JSON header,
dtypes, shapes, offsets that tile the data exactly, no trailing bytes, string metadata).
It has no call that returns the metadata of in-memory bytes (`safe_open` takes a file name;
safetensors 0.8.0), so after it accepts the bytes we read `__metadata__` from the header it
has just validated, refusing a header that repeats a key (the library and `json` would each
keep one of the copies; refusing leaves no doubt which one the caller sees).

Measured against the hand-written parser this replaces (pricing/_safetensors.py, whose reason
was strictness, "every offset checked", not speed; 2026-12-06, shared 2-core machine, best of
15): a 60 MB spec bundle parses in 88 ms (was 17 ms: the library copies each tensor out of the
input and we copy once more into writable arrays, as the old parser did, so numba kernels see
the array type they were compiled for); a 1,000 x 20 release in 0.021 ms (was 0.020 ms). A
bundle is parsed once, at upload, beside quotes that take seconds: no reason to keep our own
parser. The library is also stricter (no trailing bytes, no holes or overlaps between tensors).

`view_safetensors` is the release's reader: the same checks, made here on the header, and
read-only arrays that are views into the caller's bytes, no copy at all (the library's `load`
copies every tensor out of the bytes; at a 500 MB release that copy, and the writable one
above it, were 2x the release in memory: docs/decisions/2026-12-07-million-row-memory.md).
A test holds it to the library: whatever it accepts, the library accepts with equal arrays.
"""

from __future__ import annotations

import json
import struct
from typing import Any, Mapping

import numpy as np
from safetensors.numpy import load as _st_load
from safetensors.numpy import save as _st_save

from .json_bounded import JsonTooDeep, loads_bounded

__all__ = ["MalformedSafetensors", "read_safetensors", "view_safetensors", "write_safetensors"]


class MalformedSafetensors(ValueError):
    """Raised when bytes are not a well-formed safetensors file with string metadata."""


def _no_repeats(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [k for k, _ in pairs]
    if len(set(keys)) != len(keys):
        repeated = sorted({k for k in keys if keys.count(k) > 1})
        raise MalformedSafetensors(f"safetensors header repeats the key(s) {repeated}; write each key once")
    return dict(pairs)


def read_safetensors(data: bytes) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """(tensors, metadata) of safetensors bytes; raise `MalformedSafetensors` naming the defect.

    Tensors are writable native-endian copies, independent of `data`."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise MalformedSafetensors(f"expected safetensors bytes, got {type(data).__name__}")
    data = bytes(data)
    try:
        views = _st_load(data)
    except Exception as exc:  # SafetensorError, or KeyError for a dtype numpy lacks (BF16, F8_*)
        raise MalformedSafetensors(f"not a valid safetensors file: {type(exc).__name__}: {exc}") from None
    (hlen,) = struct.unpack("<Q", data[:8])  # the library checked it
    try:
        header = json.loads(data[8:8 + hlen].decode("utf-8"), object_pairs_hook=_no_repeats)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:  # accepted by the library's JSON, not by ours
        raise MalformedSafetensors(f"safetensors header is not JSON: {exc}") from None
    meta = header.get("__metadata__") or {}
    tensors = {name: np.array(view, dtype=view.dtype.newbyteorder("="), copy=True) for name, view in views.items()}
    return tensors, dict(meta)


#: safetensors dtypes numpy has, as little-endian numpy dtypes (the format is little-endian)
_DTYPES = {"BOOL": "|b1", "U8": "|u1", "I8": "|i1", "U16": "<u2", "I16": "<i2", "F16": "<f2", "U32": "<u4",
           "I32": "<i4", "F32": "<f4", "U64": "<u8", "I64": "<i8", "F64": "<f8"}
_MAX_HEADER = 100_000_000  # the library's limit
#: a header is {name: {dtype, shape: [...], data_offsets: [...]}} and string metadata: depth 3
_MAX_HEADER_DEPTH = 8
_ENTRY = {"dtype", "shape", "data_offsets"}


def _count(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def _entry(name: str, info: Any) -> tuple[np.dtype, tuple[int, ...], int, int]:
    """(dtype, shape, begin, end) of one header entry, or `MalformedSafetensors` naming it."""
    if not isinstance(info, dict) or set(info) != _ENTRY:
        raise MalformedSafetensors(f"safetensors tensor {name!r} is {info!r}; it must be an object with exactly "
                                   f"{sorted(_ENTRY)}")
    dtype, shape, offsets = info["dtype"], info["shape"], info["data_offsets"]
    if dtype not in _DTYPES:
        raise MalformedSafetensors(f"safetensors tensor {name!r} has dtype {dtype!r}, which numpy cannot hold; "
                                   f"use one of {sorted(_DTYPES)}")
    if not isinstance(shape, list) or not all(_count(s) for s in shape):
        raise MalformedSafetensors(f"safetensors tensor {name!r} has shape {shape!r}; it must be a list of "
                                   "non-negative integers")
    if not (isinstance(offsets, list) and len(offsets) == 2 and all(_count(o) for o in offsets)
            and offsets[0] <= offsets[1]):
        raise MalformedSafetensors(f"safetensors tensor {name!r} has data_offsets {offsets!r}; they must be "
                                   "[begin, end] with 0 <= begin <= end")
    dt = np.dtype(_DTYPES[dtype])
    if int(np.prod(shape, dtype=object)) * dt.itemsize != offsets[1] - offsets[0]:
        raise MalformedSafetensors(f"invalid shape, data type, or offset for tensor {name!r}: {shape} {dtype} "
                                   f"needs {int(np.prod(shape, dtype=object)) * dt.itemsize} bytes, its offsets "
                                   f"{offsets} give {offsets[1] - offsets[0]}")
    return dt, tuple(shape), offsets[0], offsets[1]


def view_safetensors(data: bytes) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """(tensors, metadata) of safetensors bytes, each tensor a read-only view into `data` (no
    copy); raise `MalformedSafetensors` naming the defect. Checks what the library checks."""
    if isinstance(data, (bytearray, memoryview)):
        data = bytes(data)  # a buffer the caller could change under the views: one copy, immutable
    if not isinstance(data, bytes):
        raise MalformedSafetensors(f"expected safetensors bytes, got {type(data).__name__}")
    if len(data) < 8:
        raise MalformedSafetensors(f"not a valid safetensors file: header too small ({len(data)} bytes; the "
                                   "first 8 are the header's length)")
    (hlen,) = struct.unpack("<Q", data[:8])
    if hlen > _MAX_HEADER:
        raise MalformedSafetensors(f"not a valid safetensors file: header too large ({hlen} bytes, at most "
                                   f"{_MAX_HEADER})")
    if 8 + hlen > len(data):
        raise MalformedSafetensors(f"not a valid safetensors file: the header's length ({hlen}) runs past the "
                                   f"end of the {len(data)} bytes")
    try:
        header = loads_bounded(data[8:8 + hlen].decode("utf-8"), max_depth=_MAX_HEADER_DEPTH,
                               object_pairs_hook=_no_repeats)
    except JsonTooDeep as exc:  # json's C scanner would recurse once a level: checked before it runs
        raise MalformedSafetensors(f"not a valid safetensors file: its header has {exc}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise MalformedSafetensors(f"not a valid safetensors file: its header is not JSON: {exc}") from None
    if not isinstance(header, dict):
        raise MalformedSafetensors(f"not a valid safetensors file: its header is a {type(header).__name__}, "
                                   "not a JSON object")
    meta = header.pop("__metadata__", None) or {}
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise MalformedSafetensors(f"safetensors __metadata__ ({meta!r}) must map keys to strings: expected a "
                                   "string value for every key")
    entries = sorted(((name, *_entry(name, info)) for name, info in header.items()), key=lambda e: (e[3], e[4]))
    start, end = 8 + hlen, 8 + hlen
    for name, _, _, begin, stop in entries:
        if begin != end - start:
            raise MalformedSafetensors(f"invalid offset for tensor {name!r}: it begins at {begin}, the tensor "
                                       f"before it ends at {end - start} (tensors must tile the data)")
        end = start + stop
    if end != len(data):
        raise MalformedSafetensors(f"incomplete metadata, file not fully covered: the tensors end at byte {end}, "
                                   f"the file at {len(data)}")
    tensors = {}
    for name, dt, shape, begin, stop in entries:
        arr = np.frombuffer(data, dtype=dt, count=(stop - begin) // dt.itemsize, offset=start + begin).reshape(shape)
        if not arr.dtype.isnative or not arr.flags.aligned:  # a big-endian machine, or unaligned bytes: a copy
            arr = np.array(arr, dtype=dt.newbyteorder("="))
            arr.flags.writeable = False
        tensors[name] = arr
    return tensors, dict(meta)


def write_safetensors(tensors: Mapping[str, np.ndarray], metadata: Mapping[str, str]) -> bytes:
    """safetensors bytes of `tensors` and string `metadata`; equal content gives equal bytes
    (the library orders tensors by dtype, then name)."""
    return _st_save({k: np.ascontiguousarray(v) for k, v in sorted(tensors.items())}, metadata=dict(metadata))
