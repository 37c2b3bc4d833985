"""`oracle.rawdata.read_csv`, what `spartacus dataset add` reads: a table a spreadsheet wrote
(semicolons or tabs, Excel's byte-order mark, CRLF, blank lines, spaces around fields) reads as
its comma twin does; a bad row is refused by its line and column, never its value."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from oracle.rawdata import RawDataError, read_csv
from privacy import Schema

SCHEMA = Schema.from_json({
    "features": [{"name": "x0", "kind": "float", "bounds": [0, 1]}, {"name": "x1", "kind": "float", "bounds": [0, 1]}],
    "label": {"name": "y", "kind": "categorical", "categories": ["no", "yes"]}})
ROWS = [("0.1", "0.5", "yes"), ("0.25", "1", "no"), ("0", "0.75", "yes")]


def _write(tmp_path, lines, *, sep=",", bom=False, newline="\n", name="d.csv"):
    text = ("\ufeff" if bom else "") + newline.join(sep.join(r) for r in lines) + newline
    path = tmp_path / name
    path.write_bytes(text.encode("utf-8"))
    return path


@settings(max_examples=25, deadline=None)
@given(sep=st.sampled_from([",", ";", "\t"]), bom=st.booleans(), newline=st.sampled_from(["\n", "\r\n"]),
       padded=st.booleans(), blank=st.booleans())
def test_a_spreadsheets_file_reads_as_its_comma_twin(tmp_path_factory, sep, bom, newline, padded, blank):
    tmp = tmp_path_factory.mktemp("csv")
    plain, _ = read_csv(_write(tmp, [("x0", "x1", "y"), *ROWS], name="plain.csv"), SCHEMA)
    rows = [tuple(f" {v} " for v in r) if padded else r for r in ROWS]
    lines = [("x0", "x1", "y"), *rows[:1], *([("",)] if blank else []), *rows[1:]]
    data, n = read_csv(_write(tmp, lines, sep=sep, bom=bom, newline=newline), SCHEMA)
    assert n == 3
    np.testing.assert_array_equal(data["features"], plain["features"])
    np.testing.assert_array_equal(data["label"], plain["label"])
    assert data["label"].tolist() == [1, 0, 1]


@pytest.mark.parametrize("bad, message", [
    ([("x0", "x1", "y"), ROWS[0], ("0.2", "yes")], "line 3 has 2 fields, the header 3"),
    ([("x0", "x1", "y"), ROWS[0], ("0.2", "abc", "no")], "column 'x1' .* not a number on line 3"),
    ([("x0", "x1", "y"), ("nan", "0.5", "no")], "column 'x0' .* missing value \\(NaN\\) on line 2"),
    ([("x0", "x1", "y"), ROWS[0], ("0.5", "", "no")], "column 'x1' .* is empty on line 3: fill it or drop the row"),
    ([("x0", "x1", "y"), ("0.5", "0.1", "")], "column 'y' .* is empty on line 2"),
    ([("x0", "x1", "y"), ROWS[0], ROWS[1], ("0.2", "0.3", "maybe")], "outside its categories on line 4"),
    ([("x0", "y"), ("0.2", "no")], "no column\\(s\\) \\['x1'\\]"),
])
def test_a_bad_row_is_refused_by_its_line_and_column_never_its_value(tmp_path, bad, message):
    with pytest.raises(RawDataError, match=message) as err:
        read_csv(_write(tmp_path, bad), SCHEMA)
    assert "abc" not in str(err.value) and "maybe" not in str(err.value)


def test_a_file_not_in_utf8_names_the_fix(tmp_path):
    path = tmp_path / "latin.csv"
    path.write_bytes("x0,x1,y\n0.1,0.2,né\n".encode("latin-1"))
    with pytest.raises(RawDataError, match="not UTF-8 text: save it as CSV UTF-8"):
        read_csv(path, SCHEMA)


TABLE = Schema.from_json({"columns": [
    {"name": "smoker", "kind": "categorical", "categories": ["no", "yes"]},
    {"name": "km", "kind": "float", "bounds": [0, 100]},
    {"name": "age", "kind": "integer", "bounds": [0, 120]},
    {"name": "owns_car", "kind": "boolean"}]})


def test_a_tables_columns_are_stored_by_kind_words_booleans_and_integers_included(tmp_path):
    """A table's categorical column of words was refused as 'not a number' (only the label mapped
    categories); booleans written TRUE/no/1 and whole integers now read too, as the draw takes them."""
    path = _write(tmp_path, [("km", "smoker", "age", "owns_car"), ("12.5", "yes", "30", "TRUE"),
                             ("0", "no", "41", "no"), ("99", "yes", "18", "1")], sep=";")
    data, n = read_csv(path, TABLE)
    assert n == 3 and data["smoker"].tolist() == [1, 0, 1] and data["owns_car"].tolist() == [1, 0, 1]
    assert data["age"].dtype == np.int64 and data["age"].tolist() == [30, 41, 18]
    assert data["km"].tolist() == [12.5, 0.0, 99.0]
    from oracle.rawdata import category_values, decode_raw, encode_raw

    back = category_values(decode_raw(encode_raw(data, TABLE), TABLE), TABLE)
    assert back["smoker"].tolist() == ["yes", "no", "yes"]  # what privacy's draw reads


@pytest.mark.parametrize("row, message", [
    (("1", "maybe", "30", "true"), "column 'smoker' .* outside its categories on line 2"),
    (("1", "no", "30.5", "true"), "column 'age' .* integer column but has a fraction on line 2"),
    (("1", "no", "30", "perhaps"), "column 'owns_car' .* on line 2 that is not a boolean"),
])
def test_a_tables_bad_field_is_refused_by_its_kind_and_line(tmp_path, row, message):
    path = _write(tmp_path, [("km", "smoker", "age", "owns_car"), row])
    with pytest.raises(RawDataError, match=message) as err:
        read_csv(path, TABLE)
    assert "maybe" not in str(err.value) and "perhaps" not in str(err.value)


def test_a_string_column_names_why_the_hub_cannot_keep_it(tmp_path):
    schema = Schema.from_json({"columns": [{"name": "city", "kind": "string"}, {"name": "km", "bounds": [0, 9]}]})
    with pytest.raises(RawDataError, match="'city' .* string column; the hub stores numeric columns only: declare "
                                           "it categorical"):
        read_csv(_write(tmp_path, [("city", "km"), ("Oslo", "1")]), schema)


def test_a_file_read_in_chunks_reads_as_a_whole_and_names_a_late_rows_line(tmp_path, monkeypatch):
    """read_csv streams the file in chunks of rows; with chunks of two rows the data are the same and
    a bad row in a later chunk is still named by its line in the file."""
    from functools import partial

    import oracle.rawdata as rawdata

    rows = [("x0", "x1", "y")] + [(f"{i / 10}", f"{(i % 3) / 3}", "yes" if i % 2 else "no") for i in range(7)]
    whole, n = read_csv(_write(tmp_path, rows, name="whole.csv"), SCHEMA)
    monkeypatch.setattr(rawdata, "table_chunks", partial(rawdata.table_chunks, rows_per_chunk=2))
    told = []
    chunked, m = read_csv(_write(tmp_path, rows, name="chunked.csv"), SCHEMA, progress=told.append)
    assert n == m == 7 and told == [2, 4, 6, 7]  # the rows read so far, after each chunk
    np.testing.assert_array_equal(chunked["features"], whole["features"])
    np.testing.assert_array_equal(chunked["label"], whole["label"])
    bad = rows[:6] + [("0.5", "x", "no")] + rows[6:]
    with pytest.raises(RawDataError, match="column 'x1' .* not a number on line 7"):
        read_csv(_write(tmp_path, bad, name="bad.csv"), SCHEMA)


def test_integer_classes_written_as_floats_read_as_their_class(tmp_path):
    schema = Schema.from_json({"features": [{"name": "x0", "bounds": [0, 1]}],
                               "label": {"name": "y", "kind": "categorical", "classes": 3}})
    data, _ = read_csv(_write(tmp_path, [("x0", "y"), ("0.5", "2.0"), ("0.1", "0"), ("0.2", "1.0")]), schema)
    assert data["label"].tolist() == [2, 0, 1]
    with pytest.raises(RawDataError, match="outside its categories on line 2"):
        read_csv(_write(tmp_path, [("x0", "y"), ("0.5", "2.5")], name="half.csv"), schema)


def test_a_semicolon_file_with_decimal_commas_reads_as_its_comma_twin(tmp_path):
    plain, _ = read_csv(_write(tmp_path, [("x0", "x1", "y"), *ROWS], name="plain.csv"), SCHEMA)
    commas = [(a.replace(".", ","), b.replace(".", ","), c) for a, b, c in ROWS]
    data, _ = read_csv(_write(tmp_path, [("x0", "x1", "y"), *commas], sep=";", name="de.csv"), SCHEMA)
    np.testing.assert_array_equal(data["features"], plain["features"])


@settings(max_examples=40, deadline=None)
@given(n=st.integers(1, 40), d=st.integers(1, 5), seed=st.integers(0, 2**32 - 1))
def test_rows_fingerprint_ignores_row_order_and_sees_any_changed_value(n, d, seed) -> None:
    """The hub warns when a dataset holds the same rows as another (`dataset add`): the fingerprint is
    the same under any row order and changes when one value does."""
    import numpy as np
    from safetensors.numpy import save

    from oracle.rawdata import rows_fingerprint

    rng = np.random.default_rng(seed)
    x, y = rng.normal(size=(n, d)), rng.integers(0, 3, n)
    flag = rng.integers(0, 2, n).astype(bool)
    perm = rng.permutation(n)
    base = rows_fingerprint(save({"features": x, "label": y, "col:flag": flag}))
    assert rows_fingerprint(save({"features": x[perm], "label": y[perm], "col:flag": flag[perm]})) == base
    i, j = rng.integers(0, n), rng.integers(0, d)
    changed = x.copy()
    changed[i, j] = np.nextafter(changed[i, j], np.inf)
    assert rows_fingerprint(save({"features": changed, "label": y, "col:flag": flag})) != base
