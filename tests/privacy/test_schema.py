import pytest
from hypothesis import given
from hypothesis import strategies as st

from privacy import Column, InvalidSchema, Schema


@given(st.floats(-1e6, 1e6), st.floats(1e-3, 1e6), st.integers(2, 20))
def test_schema_json_round_trips(lo, width, k):
    s = Schema(features=(Column("a", "float", bounds=(lo, lo + width)), Column("b", "integer", bounds=(0, k))),
               label=Column.categorical("y", k), columns=(Column("c", "categorical", categories=("u", "v")),))
    assert Schema.from_json(s.to_json()) == s


def test_release_format_example_without_kind_reads_as_float():
    s = Schema.from_json({"features": [{"name": "age", "bounds": [0, 100]}],
                          "label": {"name": "income", "kind": "categorical", "classes": 2}})
    assert s.features[0].kind == "float" and s.label.k == 2


@pytest.mark.parametrize("kwargs, message", [
    ({"name": "x", "kind": "float"}, "needs bounds"),
    ({"name": "x", "kind": "float", "bounds": (3, 1)}, "lower < upper"),
    ({"name": "x", "kind": "integer", "bounds": (0, 1.5)}, "whole numbers"),
    ({"name": "x", "kind": "categorical", "categories": ("a",)}, "at least 2"),
    ({"name": "x", "kind": "categorical", "categories": ("a", "a")}, "repeat"),
    ({"name": "x", "kind": "boolean", "bounds": (0, 1)}, "takes no bounds"),
    ({"name": "x", "kind": "blob"}, "kind"),
])
def test_bad_columns_are_refused_with_the_fix(kwargs, message):
    with pytest.raises(InvalidSchema, match=message):
        Column(**kwargs)


def test_duplicate_names_and_string_features_are_refused():
    with pytest.raises(InvalidSchema, match="repeat"):
        Schema(columns=(Column("a", "boolean"), Column("a", "string")))
    with pytest.raises(InvalidSchema, match="features must be"):
        Schema(features=(Column("a", "string"),))
