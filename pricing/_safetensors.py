"""A tiny, strict safetensors reader over bytes: no files, no pickles, every offset checked."""

from __future__ import annotations

import json
import struct

import numpy as np
from safetensors.numpy import save

__all__ = ["read_safetensors", "write_safetensors"]

_DTYPES = {
    "F64": np.dtype("<f8"), "F32": np.dtype("<f4"), "F16": np.dtype("<f2"),
    "I64": np.dtype("<i8"), "I32": np.dtype("<i4"), "I16": np.dtype("<i2"), "I8": np.dtype("i1"),
    "U64": np.dtype("<u8"), "U32": np.dtype("<u4"), "U16": np.dtype("<u2"), "U8": np.dtype("u1"),
    "BOOL": np.dtype("?"),
}
_MAX_HEADER = 100 * 1024 * 1024


def read_safetensors(data: bytes, error: type[Exception]) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """Parse safetensors bytes into (tensors, metadata); raise `error` naming what is wrong."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise error(f"expected bytes, got {type(data).__name__}")
    data = bytes(data)
    if len(data) < 8:
        raise error(f"{len(data)} bytes is too short for a safetensors header")
    (hlen,) = struct.unpack("<Q", data[:8])
    if hlen > min(_MAX_HEADER, len(data) - 8):
        raise error(f"header length {hlen} runs past the {len(data)} bytes given")
    try:
        header = json.loads(data[8 : 8 + hlen].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise error(f"header is not UTF-8 JSON: {exc}") from None
    if not isinstance(header, dict):
        raise error("header is not a JSON object")
    meta = header.pop("__metadata__", None) or {}
    if not isinstance(meta, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in meta.items()):
        raise error("__metadata__ must map strings to strings")
    body = memoryview(data)[8 + hlen :]
    tensors: dict[str, np.ndarray] = {}
    for name, info in header.items():
        if not isinstance(info, dict) or set(info) != {"dtype", "shape", "data_offsets"}:
            raise error(f"tensor {name!r}: header entry must have dtype, shape and data_offsets")
        dt = _DTYPES.get(info["dtype"])
        if dt is None:
            raise error(f"tensor {name!r}: unsupported dtype {info['dtype']!r}")
        shape, offs = info["shape"], info["data_offsets"]
        if not (isinstance(shape, list) and all(isinstance(s, int) and s >= 0 for s in shape)):
            raise error(f"tensor {name!r}: shape {shape!r} is not a list of non-negative ints")
        if not (isinstance(offs, list) and len(offs) == 2 and all(isinstance(o, int) for o in offs)):
            raise error(f"tensor {name!r}: data_offsets {offs!r} is not two ints")
        begin, end = offs
        count = int(np.prod(shape, dtype=np.int64)) if shape else 1
        if not (0 <= begin <= end <= len(body)) or end - begin != count * dt.itemsize:
            raise error(f"tensor {name!r}: data_offsets {offs} do not fit its shape {shape} and the data")
        arr = np.frombuffer(body[begin:end], dtype=dt).reshape(shape).astype(dt.newbyteorder("="), copy=True)
        tensors[name] = arr
    return tensors, meta


def write_safetensors(tensors: dict[str, np.ndarray], metadata: dict[str, str]) -> bytes:
    """Serialize contiguous arrays and string metadata to safetensors bytes (deterministic)."""
    return save({k: np.ascontiguousarray(v) for k, v in sorted(tensors.items())}, metadata=metadata)
