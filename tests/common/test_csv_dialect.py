"""`common.csv_dialect`: a header written with any of the delimiters is split on that one, even when
its column names hold another delimiter less often; a table splits back into its header and rows
whatever spreadsheet wrote it, and a ragged row is refused by its line."""

from __future__ import annotations

import io

import pytest
from hypothesis import given
from hypothesis import strategies as st

from common.csv_dialect import DELIMITERS, RaggedRow, Table, delimiter_of, split_table, table_chunks

NAME = st.text(st.characters(whitelist_categories=("L", "N"), whitelist_characters="_ -."), min_size=1, max_size=8)


@given(names=st.lists(NAME, min_size=2, max_size=12), sep=st.sampled_from(DELIMITERS),
       other=st.sampled_from(DELIMITERS), at=st.integers(0, 11))
def test_a_header_splits_on_the_delimiter_it_was_written_with(names, sep, other, at):
    header = sep.join(names) + "\n"
    assert delimiter_of(header) == sep
    if other != sep and len(names) >= 3:  # one column name holding another delimiter once
        names[at % len(names)] += other
        assert delimiter_of(sep.join(names)) == sep


def test_a_header_without_a_delimiter_is_one_column_read_with_commas():
    assert delimiter_of("label\n") == ","
    assert delimiter_of("") == ","


FIELD = st.text(st.characters(whitelist_categories=("L", "N"), whitelist_characters="_-."), min_size=1, max_size=6)


@given(header=st.lists(NAME.map(str.strip).filter(bool), min_size=1, max_size=6), data=st.data(),
       sep=st.sampled_from(DELIMITERS), bom=st.booleans(), crlf=st.booleans(), blank_at=st.integers(0, 8))
def test_a_table_splits_back_into_its_header_and_rows_whatever_wrote_it(header, data, sep, bom, crlf, blank_at):
    rows = data.draw(st.lists(st.lists(FIELD, min_size=len(header), max_size=len(header)), max_size=8))
    lines = [sep.join(header)] + [sep.join(f" {v} " if i % 2 else v for i, v in enumerate(r)) for r in rows]
    lines.insert(min(blank_at, len(lines)), "")  # a blank line anywhere (but before the header) is skipped
    if lines[0] == "":
        lines.pop(0)
    text = ("\ufeff" if bom else "") + ("\r\n" if crlf else "\n").join(lines) + "\n"
    table = split_table(text)
    assert table.header == header and table.rows == rows
    assert [text.removeprefix("\ufeff").splitlines()[n - 1].split(sep)[0].strip() for n in table.lines] == \
        [r[0] for r in rows]  # each row's line number points at that row


def test_a_row_with_a_field_too_many_or_too_few_names_its_line():
    with pytest.raises(RaggedRow, match="line 4 has 2 fields, the header 3"):
        split_table("a;b;label\n1;2;0\n\n3;4\n")
    with pytest.raises(RaggedRow, match="line 2 has 4 fields"):
        split_table("a,b,label\n1,2,0,9\n")
    assert split_table("") == Table([], [], [])


@given(n=st.integers(0, 12), size=st.integers(1, 5), blanks=st.lists(st.integers(0, 12), max_size=3))
def test_chunks_of_rows_join_back_into_the_whole_table_with_its_line_numbers(n, size, blanks):
    lines = ["a;b"] + [f"{i};{i * i}" for i in range(n)]
    for at in sorted(blanks, reverse=True):
        lines.insert(min(at, len(lines)) or 1, "")
    text = "\n".join(lines) + "\n"
    chunks = list(table_chunks(io.StringIO(text, newline=""), rows_per_chunk=size))
    whole = split_table(text)
    assert all(c.header == ["a", "b"] for c in chunks) and all(0 < len(c.rows) <= size for c in chunks[1:])
    assert [r for c in chunks for r in c.rows] == whole.rows == [[str(i), str(i * i)] for i in range(n)]
    assert [ln for c in chunks for ln in c.lines] == whole.lines
    assert [text.splitlines()[ln - 1].split(";")[0] for ln in whole.lines] == [str(i) for i in range(n)]


@given(values=st.lists(st.floats(-1e6, 1e6, allow_nan=False), min_size=1, max_size=6),
       sep=st.sampled_from([";", "\t"]))
def test_a_decimal_comma_reads_as_a_point_where_commas_do_not_split_fields(values, sep):
    """Spreadsheets in many locales write 0,25 in semicolon files; a comma file keeps a quoted "0,25"."""
    written = [repr(v).replace(".", ",") for v in values]
    table = split_table("x" + sep + "word\n" + "".join(f"{w}{sep}a,b\n" for w in written))
    assert [float(r[0]) for r in table.rows] == values and all(r[1] == "a,b" for r in table.rows)
    assert split_table('x,y\n"0,25",1\n').rows == [["0,25", "1"]]
