"""safetensors bytes (common/safetensors_bytes.py): the library's checks, plus ours, each named."""

import json
import struct

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.safetensors_bytes import MalformedSafetensors, read_safetensors, write_safetensors


def _raw(header: bytes, body: bytes = b"\0" * 8) -> bytes:
    return struct.pack("<Q", len(header)) + header + body


def test_round_trip_gives_writable_independent_copies():
    blob = write_safetensors({"b": np.arange(3, dtype=np.int64), "a": np.eye(2)}, {"k": "v"})
    tensors, meta = read_safetensors(blob)
    assert meta == {"k": "v"} and np.array_equal(tensors["a"], np.eye(2)) and tensors["b"].dtype == np.int64
    tensors["a"][0, 0] = 7.0  # writable, and the bytes are untouched
    assert read_safetensors(blob)[0]["a"][0, 0] == 1.0


@pytest.mark.parametrize("blob, match", [
    (_raw(b'{"x":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}', b"\0" * 9), "not fully covered"),
    (_raw(b'{"x":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}}'), "not fully covered"),
    (_raw(b'{"__metadata__":{"a":1},"x":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}'), "expected a string"),
    (_raw(b'{"x":{"dtype":"BF16","shape":[4],"data_offsets":[0,8]}}'), "KeyError"),
    (struct.pack("<Q", 2**40) + b"{}", "header too large"),
    (b"\x80\x04}q\x00.", "header too small"),  # a pickle is never unpickled
])
def test_malformed_bytes_are_named(blob, match):
    with pytest.raises(MalformedSafetensors, match=match):
        read_safetensors(blob)


def test_a_header_that_repeats_a_key_is_refused():
    entry = b'{"dtype":"F64","shape":[1],"data_offsets":[0,8]}'
    with pytest.raises(MalformedSafetensors, match=r"repeats the key\(s\) \['x'\]"):
        read_safetensors(_raw(b'{"x":' + entry + b',"x":' + entry + b"}"))
    meta = b'{"__metadata__":{"spartacus":"a"},"__metadata__":{"spartacus":"b"},"x":' + entry + b"}"
    with pytest.raises(MalformedSafetensors, match="__metadata__"):
        read_safetensors(_raw(meta))


def test_only_bytes_are_read():
    with pytest.raises(MalformedSafetensors, match="got str"):
        read_safetensors("not bytes")


@given(st.dictionaries(st.text("abcxyz", min_size=1, max_size=4), st.integers(0, 5), min_size=1, max_size=6))
def test_equal_content_gives_equal_bytes_in_any_insertion_order(sizes):
    tensors = {k: np.arange(n, dtype=np.float64 if len(k) % 2 else np.int64) for k, n in sizes.items()}
    reordered = dict(reversed(list(tensors.items())))
    assert write_safetensors(tensors, {"m": "1"}) == write_safetensors(reordered, {"m": "1"})
    back, meta = read_safetensors(write_safetensors(tensors, {"m": json.dumps(sizes)}))
    assert set(back) == set(tensors) and json.loads(meta["m"]) == sizes


# --- view_safetensors: the release's reader, views into the bytes, the library's checks ---

from safetensors.numpy import load as _library_load  # noqa: E402

from common.safetensors_bytes import view_safetensors  # noqa: E402


def test_views_alias_the_bytes_and_refuse_writes():
    blob = write_safetensors({"b": np.arange(3, dtype=np.int64), "a": np.eye(2)}, {"k": "v"})
    tensors, meta = view_safetensors(blob)
    raw = np.frombuffer(blob, np.uint8)
    assert meta == {"k": "v"} and np.array_equal(tensors["a"], np.eye(2)) and tensors["b"].tolist() == [0, 1, 2]
    for t in tensors.values():
        assert np.shares_memory(t, raw) and not t.flags.writeable
        with pytest.raises(ValueError, match="read-only"):
            t[0] = 7


def test_a_mutable_buffer_is_copied_once_so_the_views_cannot_change():
    buf = bytearray(write_safetensors({"a": np.arange(4.0)}, {}))
    tensors, _ = view_safetensors(buf)
    buf[-8:] = np.float64(99.0).tobytes()
    assert tensors["a"].tolist() == [0.0, 1.0, 2.0, 3.0]


@pytest.mark.parametrize("blob, match", [
    (_raw(b'{"x":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}', b"\0" * 9), "not fully covered"),
    (_raw(b'{"x":{"dtype":"F64","shape":[2],"data_offsets":[0,16]}}'), "runs past|not fully covered"),
    (_raw(b'{"x":{"dtype":"F64","shape":[2],"data_offsets":[0,8]}}'), "invalid shape"),
    (_raw(b'{"__metadata__":{"a":1},"x":{"dtype":"F64","shape":[1],"data_offsets":[0,8]}}'), "expected a string"),
    (_raw(b'{"x":{"dtype":"BF16","shape":[4],"data_offsets":[0,8]}}'), "numpy cannot hold"),
    (_raw(b'{"x":{"dtype":"F64","shape":[1],"data_offsets":[0,8]},"y":{"dtype":"F64","shape":[1],'
          b'"data_offsets":[0,8]}}'), "invalid offset"),
    (_raw(b'{"x":{"dtype":"F64","shape":[-1],"data_offsets":[0,8]}}'), "non-negative"),
    (_raw(b'[]', b""), "not a JSON object"),
    (struct.pack("<Q", 2**40) + b"{}", "header too large"),
    (struct.pack("<Q", 10**6) + b"{}", "runs past the end"),
    (b"\x80\x04}q\x00.", "header too small"),
])
def test_malformed_bytes_are_refused_by_the_views_too(blob, match):
    with pytest.raises(MalformedSafetensors, match=match):
        view_safetensors(blob)


_DT = st.sampled_from(["F64", "I64", "F32", "U8", "BOOL", "BF16", "f64"])
_ENTRY = st.fixed_dictionaries({"dtype": _DT, "shape": st.lists(st.integers(-1, 3), max_size=3),
                                "data_offsets": st.lists(st.integers(-1, 40), min_size=1, max_size=3)})


@given(st.dictionaries(st.text("ab", min_size=1, max_size=2), _ENTRY, max_size=3), st.integers(0, 48),
       st.sampled_from([None, {"m": "1"}, {"m": 1}]), st.binary(min_size=48, max_size=48))
def test_whatever_the_views_accept_the_library_accepts_with_equal_arrays(entries, body, meta, fill):
    header = dict(entries)
    if meta is not None:
        header["__metadata__"] = meta
    blob = _raw(json.dumps(header).encode(), fill[:body])
    try:
        views, vmeta = view_safetensors(blob)
    except MalformedSafetensors:
        return
    lib = _library_load(blob)
    assert set(lib) == set(views)
    for name, arr in lib.items():
        assert arr.dtype == views[name].dtype and arr.shape == views[name].shape
        assert arr.tobytes() == views[name].tobytes()
    assert vmeta == (meta or {})


@given(st.dictionaries(st.text("abc", min_size=1, max_size=3),
                       st.tuples(st.sampled_from([np.float64, np.int64, np.float32, np.uint8]),
                                 st.lists(st.integers(0, 4), min_size=1, max_size=2)), max_size=4))
def test_the_views_accept_every_file_the_writer_writes(spec):
    """(ndim >= 1: the writer's ascontiguousarray makes a 0-d array 1-d.)"""
    tensors = {k: np.arange(int(np.prod(shape)), dtype=dt).reshape(shape) for k, (dt, shape) in spec.items()}
    views, _ = view_safetensors(write_safetensors(tensors, {"m": "1"}))
    assert set(views) == set(tensors)
    for k, t in tensors.items():
        assert views[k].dtype == t.dtype and np.array_equal(views[k], t)
