"""The raw data's on-disk form at the hub: a safetensors file (never a pickle) holding `features`
[n, d] float64 and `label` [n] for an ML dataset, or `col:<name>` [n] per column of a table, so
the pipeline hands `privacy.draw_release` exactly the mapping it takes. Also the CSV and
safetensors readers `spartacus dataset add` uses. Nothing here logs or raises with a data value."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Callable, Mapping

import numpy as np
from eth_hash.auto import keccak
from safetensors.numpy import load as st_load
from safetensors.numpy import save as st_save

from common.csv_dialect import RaggedRow, is_number, table_chunks
from privacy import Column, Schema

__all__ = ["RawDataError", "encode_raw", "decode_raw", "read_csv", "read_safetensors_data", "dataset_id_for",
           "category_values", "rows_fingerprint"]


class RawDataError(ValueError):
    """Raised when raw data do not fit their schema; the message names columns, never values."""


def dataset_id_for(seller: str, name: str) -> str:
    """A dataset id (0x + 64 hex) derived from the seller and the dataset's name."""
    return "0x" + keccak(b"spartacus-dataset\x00" + seller.lower().encode() + b"\x00" + name.encode()).hex()


def encode_raw(data: Mapping[str, Any], schema: Schema) -> bytes:
    """The stored bytes of `data` (the mapping draw_release takes) under `schema`."""
    tensors: dict[str, np.ndarray] = {}
    if schema.features:
        x = np.ascontiguousarray(np.asarray(data["features"], dtype=np.float64))
        if x.ndim != 2 or x.shape[1] != len(schema.features):
            raise RawDataError(f"features have shape {list(x.shape)}; the schema declares {len(schema.features)} columns")
        tensors["features"] = x
        if schema.label is not None:
            y = np.asarray(data["label"])
            y = y.astype(np.float64 if schema.label.kind in ("float",) else np.int64)
            if y.shape != (x.shape[0],):
                raise RawDataError(f"label has shape {list(y.shape)}; expected [{x.shape[0]}]")
            tensors["label"] = np.ascontiguousarray(y)
    for c in schema.columns:
        v = np.asarray(data[c.name])
        if v.dtype.kind not in "biuf":
            raise RawDataError(f"column {c.name!r} is not numeric; the hub stores numeric columns only "
                               "(encode categories as their index)")
        tensors[f"col:{c.name}"] = np.ascontiguousarray(v)
    return st_save(tensors)


def rows_fingerprint(raw: bytes) -> bytes:
    """A digest of the stored rows' values, the same whatever their order or column names: two datasets
    with one fingerprint hold the same rows, and each name has a privacy budget of its own. Each row's
    bytes are folded to a 64-bit polynomial hash (O(rows) memory, not a second copy of the data), the
    hashes sorted and digested."""
    tensors = dict(st_load(bytes(raw)))
    rows = {len(t) for t in tensors.values()}
    if len(rows) != 1:
        return hashlib.sha256(bytes(raw)).digest()  # no common row count: the bytes themselves
    n = rows.pop()
    acc = np.zeros(n, dtype=np.uint64)
    with np.errstate(over="ignore"):
        for name in sorted(tensors):
            b = np.ascontiguousarray(tensors[name]).reshape(n, -1).view(np.uint8)
            if b.shape[1] % 8:  # a narrow dtype (bool, int32): zero-padded to whole words, a small copy
                b = np.concatenate([b, np.zeros((n, 8 - b.shape[1] % 8), dtype=np.uint8)], axis=1)
            words = b.view(np.uint64)  # float64 and int64 tensors: a view, no copy
            for j in range(words.shape[1]):
                acc = acc * np.uint64(0x100000001B3) + words[:, j]
    return hashlib.sha256(np.sort(acc).tobytes()).digest()


def decode_raw(raw: bytes, schema: Schema) -> dict[str, Any]:
    """The mapping draw_release takes, from stored bytes."""
    t = dict(st_load(bytes(raw)))
    out: dict[str, Any] = {}
    if "features" in t:
        out["features"] = t["features"]
    if "label" in t:
        out["label"] = t["label"]
    for c in schema.columns:
        out[c.name] = t[f"col:{c.name}"]
    return out


def category_values(data: Mapping[str, Any], schema: Schema) -> dict[str, Any]:
    """`data` as the hub stores it (categorical label and columns as category indices, `read_csv`) with
    those indices mapped back to the schema's categories, which is what `privacy.draw_release` and
    the sanitizer read (integer categories 0..k-1 are their own indices and pass unchanged)."""
    out = dict(data)
    cols = [schema.label] if schema.label is not None and "label" in data else []
    for col in [*cols, *(c for c in schema.columns if c.name in data)]:
        key = "label" if col is schema.label else col.name
        cats = tuple(col.categories or ()) if col.kind == "categorical" else ()
        if cats and cats != tuple(range(len(cats))):
            out[key] = np.asarray(cats, dtype=object)[np.asarray(data[key], dtype=np.int64)]
    return out


def _check_bounds(data: Mapping[str, Any], schema: Schema) -> list[str]:
    """Names of numeric columns with a value outside the declared bounds (no values reported)."""
    bad = []
    if schema.features:
        x = np.asarray(data["features"])
        for j, c in enumerate(schema.features):
            lo, hi = c.bounds
            if np.any(x[:, j] < lo) or np.any(x[:, j] > hi):
                bad.append(c.name)
    for c in schema.columns:
        if c.bounds is not None:
            v = np.asarray(data[c.name])
            if np.any(v < c.bounds[0]) or np.any(v > c.bounds[1]):
                bad.append(c.name)
    return bad


#: how a boolean column may be written in a CSV (case-insensitive)
_TRUE, _FALSE = ("true", "yes", "1", "1.0"), ("false", "no", "0", "0.0")


def _column_values(column: Column, rows: list[list[str]], j: int, lines: list[int], path: Path) -> np.ndarray:
    """Field j of every row as the stored form of `column`'s kind: float64 for float, int64 for an
    integer, a boolean (0/1) or a category's index; a field that is none of these is refused by
    its line, never its value."""
    where = f"column {column.name!r} of {path}"
    fields = [r[j] for r in rows]
    if "" in fields:
        raise RawDataError(f"{where} is empty on line {lines[fields.index('')]}: fill it or drop the row")
    if column.kind == "categorical":
        index = {str(c): i for i, c in enumerate(column.categories or ())}
        index.update({f"{c}.0": i for i, c in enumerate(column.categories or ()) if isinstance(c, int)})  # 1.0
        codes = np.fromiter((index.get(v, -1) for v in fields), dtype=np.int64, count=len(fields))
        if (codes < 0).any():
            raise RawDataError(f"{where} has a value outside its categories on line {lines[int(np.argmin(codes))]}: "
                               "add it to the schema's categories or drop the row")
        return codes
    if column.kind == "boolean":
        words = {**dict.fromkeys(_TRUE, 1), **dict.fromkeys(_FALSE, 0)}
        flags = np.fromiter((words.get(v.lower(), -1) for v in fields), dtype=np.int64, count=len(fields))
        if (flags < 0).any():
            raise RawDataError(f"{where} has a value on line {lines[int(np.argmin(flags))]} that is not a boolean "
                               "(true/false, yes/no or 1/0)")
        return flags
    if column.kind == "string":
        raise RawDataError(f"{where} is a string column; the hub stores numeric columns only: declare it "
                           "categorical with its categories, or drop it from the schema")
    try:
        out = np.fromiter(map(float, fields), dtype=np.float64, count=len(fields))
    except ValueError:
        bad = next(i for i, v in enumerate(fields) if not is_number(v))
        raise RawDataError(f"{where} has a value that is not a number on line {lines[bad]}") from None
    if np.isnan(out).any():
        raise RawDataError(f"{where} has a missing value (NaN) on line {lines[int(np.argmax(np.isnan(out)))]}: fill "
                           "it or drop the row")
    if column.kind == "integer":
        fraction = out != np.round(out)
        if fraction.any():
            raise RawDataError(f"{where} is an integer column but has a fraction on line "
                               f"{lines[int(np.argmax(fraction))]}")
        return out.astype(np.int64)
    return out


def read_csv(path: Path, schema: Schema, progress: Callable[[int], None] | None = None) -> tuple[dict[str, Any], int]:
    """Read a CSV with a header naming the schema's columns (comma, semicolon or tab separated, UTF-8
    with or without a byte-order mark); return (data, rows). Categorical values (label or column)
    are stored as their category's index, booleans as 0/1. Values outside declared bounds are
    refused by column name. The file is read in chunks of rows, so no more than one chunk's
    fields are ever held as strings; `progress` is told the rows read after each."""
    path = Path(path)
    parts: dict[str, list[np.ndarray]] = {c.name: [] for c in schema.all_columns}
    read = 0
    try:
        with path.open(encoding="utf-8", newline="") as f:
            for chunk in table_chunks(f):
                missing = [n for n in parts if n not in chunk.header]
                if missing:
                    raise RawDataError(f"{path} has no column(s) {missing}; its header is {chunk.header}")
                for c in schema.all_columns:
                    parts[c.name].append(_column_values(c, chunk.rows, chunk.header.index(c.name), chunk.lines, path))
                read += len(chunk.rows)
                if progress is not None:
                    progress(read)
    except UnicodeDecodeError:
        raise RawDataError(f"{path} is not UTF-8 text: save it as CSV UTF-8") from None
    except RaggedRow as err:
        raise RawDataError(f"{path}: {err}") from None
    data: dict[str, Any] = {}
    if schema.features:  # filled a column at a time, each column's chunks let go once copied in
        features = np.empty((read, len(schema.features)), dtype=np.float64)
        for j, c in enumerate(schema.features):
            features[:, j] = np.concatenate(parts.pop(c.name))
        data["features"] = features
        if schema.label is not None:
            data["label"] = np.concatenate(parts.pop(schema.label.name))
    for c in schema.columns:
        data[c.name] = np.concatenate(parts.pop(c.name))
    bad = _check_bounds(data, schema)
    if bad:
        raise RawDataError(f"column(s) {bad} have values outside their declared bounds: widen the bounds in "
                           "the schema file or clean the data")
    return data, read


def read_safetensors_data(path: Path, schema: Schema) -> tuple[dict[str, Any], int]:
    """Read a safetensors file in the stored form (`features`/`label` or `col:<name>`); (data, rows)."""
    data = decode_raw(Path(path).read_bytes(), schema)
    if schema.features and "features" not in data:
        raise RawDataError(f"{path} has no 'features' tensor for the schema's feature columns")
    bad = _check_bounds(data, schema)
    if bad:
        raise RawDataError(f"column(s) {bad} have values outside their declared bounds")
    rows = int(np.asarray(data["features"]).shape[0]) if schema.features else \
        int(np.asarray(data[schema.columns[0].name]).shape[0])
    return data, rows
