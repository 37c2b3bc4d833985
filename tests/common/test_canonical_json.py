"""Canonical JSON (common/canonical_json.py) against literal bytes and its defining properties:
sorted keys, no white space, non-ASCII kept as UTF-8, NaN refused. Unsorted or spaced JSON fails here."""

import json
import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.canonical_json import NotCanonical, canonical_json, canonical_json_bytes

# A JSON string literal (with its escapes): what may legitimately hold spaces or any character.
_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=5),
    max_leaves=25,
)


@pytest.mark.parametrize("obj, expected", [
    ({"b": 1, "a": [1, 2.5, None, True], "c": {"z": "x", "y": {}}},
     b'{"a":[1,2.5,null,true],"b":1,"c":{"y":{},"z":"x"}}'),
    ({"name": "Zo\u00eb", "city": "M\u00fcnchen \u6771\u4eac", "note": "a b\tc\n"},
     b'{"city":"M\xc3\xbcnchen \xe6\x9d\xb1\xe4\xba\xac","name":"Zo\xc3\xab","note":"a b\\tc\\n"}'),
    ({"epsilon": 0.1, "big": 10**30, "neg": -0.0, "exp": 1e-7}, b'{"big":1000000000000000000000000000000,'
                                                                 b'"epsilon":0.1,"exp":1e-07,"neg":-0.0}'),
    ({"B": 1, "a": 2, "\u00e9": 3, "_": 4}, b'{"B":1,"_":4,"a":2,"\xc3\xa9":3}'),  # code-point order
    ([], b"[]"),
    ("quote \" and backslash \\", b'"quote \\" and backslash \\\\"'),
])
def test_canonical_json_bytes_are_exactly_these(obj, expected):
    assert canonical_json_bytes(obj) == expected
    assert canonical_json(obj) == expected.decode("utf-8")


def _keys_sorted_everywhere(value) -> bool:
    ok = True

    def hook(pairs):
        nonlocal ok
        keys = [k for k, _ in pairs]
        ok = ok and keys == sorted(keys)
        return dict(pairs)

    json.loads(value, object_pairs_hook=hook)
    return ok


@given(json_values)
def test_canonical_json_has_sorted_keys_no_white_space_and_round_trips(obj):
    text = canonical_json(obj)
    assert json.loads(text) == obj
    assert _keys_sorted_everywhere(text)
    outside_strings = _STRING.sub('""', text)
    assert not re.search(r"\s", outside_strings), text
    assert canonical_json(json.loads(text)) == text  # a fixed point: parse and re-write changes nothing


@given(st.text(alphabet=st.characters(min_codepoint=0x80, max_codepoint=0x2FFFF, exclude_categories=("Cs",)),
               min_size=1, max_size=10))
def test_non_ascii_is_kept_as_utf8_not_escaped(s):
    out = canonical_json_bytes({"k": s})
    assert out == b'{"k":"' + s.encode("utf-8") + b'"}'
    assert b"\\u" not in out


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_nan_and_infinities_are_refused_wherever_they_sit(bad):
    for obj in (bad, [1, bad], {"a": {"b": bad}}):
        with pytest.raises(NotCanonical, match="finite numbers only"):
            canonical_json(obj)
    assert issubclass(NotCanonical, ValueError)


def test_every_package_uses_this_one_function():
    import pricing.spec
    import privacy.release

    assert pricing.spec.canonical_json is canonical_json
    assert privacy.release.canonical_json is canonical_json
