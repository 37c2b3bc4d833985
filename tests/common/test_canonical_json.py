"""Canonical JSON (common/canonical_json.py) against literal bytes and its defining properties:
RFC 8785 key order (UTF-16 code units), no white space, non-ASCII kept as UTF-8, NaN and lone
surrogates refused, and the bytes json.dumps(sort_keys=True) wrote before wherever keys stay in
the BMP (so spec hashes and release bytes did not move). Unsorted or spaced JSON fails here."""

import json
import math
import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.canonical_json import NotCanonical, canonical_json, canonical_json_bytes, jcs_key

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
        ok = ok and keys == sorted(keys, key=lambda k: k.encode("utf-16-be"))
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


def test_rfc8785_key_order_example_sorts_by_utf16_code_units():
    # RFC 8785 section 3.2.3: U+1F600 is the pair D83D DE00, so it sorts before U+FB33 (a code point sort puts it after)
    obj = {"\u20ac": "Euro Sign", "\r": "Carriage Return", "\ufb33": "Hebrew Letter Dalet With Dagesh", "1": "One",
           "\U0001f600": "Emoji: Grinning Face", "\u0080": "Control", "\u00f6": "Latin Small Letter O With Diaeresis"}
    expected = ('{"\\r":"Carriage Return","1":"One","\u0080":"Control","\u00f6":"Latin Small Letter O With Diaeresis",'
                '"\u20ac":"Euro Sign","\U0001f600":"Emoji: Grinning Face","\ufb33":"Hebrew Letter Dalet With Dagesh"}')
    assert canonical_json(obj) == expected
    assert canonical_json(obj) != json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@pytest.mark.parametrize("above, bmp", [("\U00010000", "\uffff"), ("\U0001f600", "\ue000"), ("a\U0010ffff", "a\uf900")])
def test_keys_beyond_the_bmp_sort_before_the_top_of_the_bmp(above, bmp):
    assert above > bmp  # by code point, the character beyond U+FFFF is the larger
    text = canonical_json({bmp: 1, above: 2, "0": {bmp: [], above: {}}})
    assert text == '{"0":{"' + above + '":{},"' + bmp + '":[]},"' + above + '":2,"' + bmp + '":1}'
    assert jcs_key(above) < jcs_key(bmp)


_ANY_KEY = st.text(alphabet=st.characters(exclude_categories=("Cs",)), max_size=4)


@given(st.lists(_ANY_KEY, unique=True, max_size=8))
def test_key_order_is_javascripts_default_sort(keys):
    # Array.prototype.sort without a comparator compares UTF-16 code units: model it on the code unit lists
    def code_units(k: str) -> list[int]:
        b = k.encode("utf-16-be")
        return [int.from_bytes(b[i:i + 2], "big") for i in range(0, len(b), 2)]

    js_sorted = sorted(keys, key=code_units)
    got = list(json.loads(canonical_json({k: 0 for k in keys})))
    assert got == js_sorted


_BMP_TEXT = st.text(alphabet=st.characters(max_codepoint=0xFFFF, exclude_categories=("Cs",)), max_size=8)
bmp_values = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(_BMP_TEXT, inner, max_size=5),
    max_leaves=25,
)


@given(bmp_values)
def test_bytes_are_what_json_dumps_sort_keys_wrote_when_keys_stay_in_the_bmp(obj):
    # spec manifests and release metadata were written by json.dumps(sort_keys=True): their bytes must not move
    old = json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    assert canonical_json(obj) == old


def test_floats_keep_pythons_repr_where_jcs_would_print_ecmascript_numbers():
    # the documented difference: manifests hold 400.0 and bounds like [0.0, 50.0], pinned by spec hashes
    assert canonical_json({"n_train": 400.0, "b": [0.0, 50.0]}) == '{"b":[0.0,50.0],"n_train":400.0}'
    assert canonical_json([1e-05, 1e-07, 1e16, 1e21, -0.0, 0.1]) == "[1e-05,1e-07,1e+16,1e+21,-0.0,0.1]"
    assert canonical_json(2**60) == "1152921504606846976"  # every digit (JCS would print the nearest double)


def test_lone_surrogates_are_refused_in_values_and_keys_with_their_path():
    with pytest.raises(NotCanonical, match=r"at a\.b\[1\].*lone surrogate '\\ud800'.*remove it") as err:
        canonical_json({"a": {"b": ["ok", "x\ud800"]}})
    assert err.value.path == "a.b[1]" and err.value.value == "x\ud800"
    with pytest.raises(NotCanonical, match="lone surrogate"):
        canonical_json_bytes({"\udfff": 1})


def test_a_cycle_is_refused_and_a_shared_value_is_not():
    shared = [1, 2]
    assert canonical_json({"a": shared, "b": shared}) == '{"a":[1,2],"b":[1,2]}'
    loop: list = [1]
    loop.append(loop)
    with pytest.raises(NotCanonical, match=r"circular reference at \[1\]"):
        canonical_json(loop)


@pytest.mark.parametrize("obj, what", [({1: "a"}, "object key 1 is of type int"), ({"a": {None: 1}}, "object key None"),
                                       ({"a": b"x"}, "bytes b'x' at a has no JSON form"), ({1, 2}, "set")])
def test_what_has_no_json_form_is_a_type_error_naming_it(obj, what):
    with pytest.raises(TypeError, match=re.escape(what)):
        canonical_json(obj)


def test_client_terms_uses_this_serializer():
    import client.terms

    doc = {"\ufb01": "a", "\U0001f600": ["b", True, None], "chainId": 1}
    assert client.terms.canonical_bytes(doc) == canonical_json_bytes(doc)
    assert client.terms.canonical_json is canonical_json
