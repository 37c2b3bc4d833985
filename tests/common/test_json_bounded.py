"""common.json_bounded: the nesting depth of another party's JSON is checked before json.loads runs."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, strategies as st

from common.json_bounded import JsonTooDeep, check_depth, loads_bounded

JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.text(alphabet="[]{}\"\\ab", max_size=6),
                    lambda kids: st.lists(kids, max_size=3) | st.dictionaries(st.text(max_size=4), kids, max_size=3),
                    max_leaves=20)


def _depth(v) -> int:
    if isinstance(v, list):
        return 1 + max((_depth(x) for x in v), default=0)
    if isinstance(v, dict):
        return 1 + max((_depth(x) for x in v.values()), default=0)
    return 0


@given(JSON)
def test_the_check_measures_the_documents_own_depth_strings_with_brackets_included(value) -> None:
    text = json.dumps(value)
    depth = _depth(value)
    check_depth(text.encode(), depth)  # exactly deep enough passes
    assert loads_bounded(text, max_depth=depth) == value
    if depth > 0:
        with pytest.raises(JsonTooDeep):
            check_depth(text.encode(), depth - 1)


def test_a_million_brackets_are_refused_without_recursion() -> None:
    with pytest.raises(JsonTooDeep, match="deeper than 64"):
        loads_bounded(b"[" * 1_000_000, max_depth=64)
