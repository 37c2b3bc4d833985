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
