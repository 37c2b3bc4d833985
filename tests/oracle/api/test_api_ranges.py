"""parse_range: every satisfiable single range maps to the bytes RFC 9110 says, anything else is named."""

from __future__ import annotations

import pytest
from hypothesis import given, strategies as st

from oracle.api.ranges import RangeNotSatisfiable, parse_range
from oracle.errors import BadRequest


@given(size=st.integers(1, 10**12), a=st.integers(0, 2 * 10**12), b=st.integers(0, 2 * 10**12))
def test_first_last_ranges_clamp_to_the_file_or_are_refused(size: int, a: int, b: int) -> None:
    try:
        r = parse_range(f"bytes={a}-{b}", size)
    except BadRequest:
        assert b < a
    except RangeNotSatisfiable as e:
        assert a >= size and b >= a and e.size == size
    else:
        assert (r.start, r.end) == (a, min(b, size - 1)) and r.partial
        assert r.content_range == f"bytes {a}-{min(b, size - 1)}/{size}"


@given(size=st.integers(1, 10**9), k=st.integers(1, 2 * 10**9))
def test_suffix_ranges_are_the_last_k_bytes(size: int, k: int) -> None:
    r = parse_range(f"bytes=-{k}", size)
    assert r.end == size - 1 and r.length == min(k, size)


@given(size=st.integers(1, 10**9), a=st.integers(0, 2 * 10**9))
def test_open_ranges_run_to_the_end(size: int, a: int) -> None:
    if a >= size:
        with pytest.raises(RangeNotSatisfiable):
            parse_range(f"bytes={a}-", size)
    else:
        r = parse_range(f"bytes={a}-", size)
        assert (r.start, r.end, r.length) == (a, size - 1, size - a)


def test_no_range_is_the_whole_file_not_partial() -> None:
    r = parse_range(None, 10)
    assert (r.start, r.end, r.partial) == (0, 9, False)


@given(st.text(max_size=40))
def test_any_header_is_a_range_or_one_of_two_named_refusals(header: str) -> None:
    try:
        r = parse_range(header, 1000)
    except (BadRequest, RangeNotSatisfiable):
        return
    assert 0 <= r.start <= r.end < 1000
