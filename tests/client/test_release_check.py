"""client.release_check: the protocol's release is a safetensors file of named tensors with metadata."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, strategies as st

from client.release_check import release_problem
from common.safetensors_bytes import write_safetensors

GOOD = write_safetensors({"features": np.zeros((3, 2)), "label": np.arange(3)}, {"spartacus": "{}"})


def test_a_release_passes() -> None:
    assert release_problem(GOOD) is None


@pytest.mark.parametrize("data, words", [
    (b"age,income\n41,52000\n", "not a safetensors file"),
    (b"", "not a safetensors file"),
    (GOOD[:-8], "not a safetensors file"),
    (write_safetensors({"x": np.zeros(3)}, {}), "without metadata"),
    (write_safetensors({}, {"a": "b"}), "no tensor"),
])
def test_what_is_not_a_release_is_named(data: bytes, words: str) -> None:
    assert words in release_problem(data)


@given(st.binary(max_size=200))
def test_random_bytes_never_pass_and_never_raise(data: bytes) -> None:
    assert release_problem(data) is not None


def test_a_header_nested_without_end_is_named_not_parsed() -> None:
    """A hostile hub's 'release' with a deeply nested safetensors header crashed the wallet after the key
    was revealed (json's C scanner), on every resume, until the seller finalized."""
    import struct

    header = b'{"a":' * 50_000 + b"1" + b"}" * 50_000
    data = struct.pack("<Q", len(header)) + header
    assert "nested deeper than" in release_problem(data)
