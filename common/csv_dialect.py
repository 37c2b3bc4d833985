"""The one rule for reading a data table written by a person's spreadsheet: which delimiter its
header line uses (commas, or the semicolons or tabs some locales write), and how its text splits
into a header and rows. Pure: text in (a string, or the lines of a file the caller opened)."""

from __future__ import annotations

import csv
import io
import itertools
import re
from typing import Iterable, Iterator, NamedTuple

__all__ = ["DECIMAL_COMMA", "DELIMITERS", "RaggedRow", "Table", "delimiter_of", "is_number", "split_table", "table_chunks"]

#: the delimiters a data file may use, the first the default
DELIMITERS = (",", ";", "\t")

#: a number written with a decimal comma (read as one only where commas do not split fields)
DECIMAL_COMMA = re.compile(r"[+-]?(\d+,\d*|,\d+)([eE][+-]?\d+)?")


class RaggedRow(ValueError):
    """Raised when a row of a data table has more or fewer fields than its header; the message
    names the line and the counts, never a value."""


class Table(NamedTuple):
    """A data table's header and rows (or a chunk of them), every field stripped of surrounding
    spaces, with the line each row starts on (1 = the first line) for messages that point a
    person at the row."""

    header: list[str]
    rows: list[list[str]]
    lines: list[int]


def delimiter_of(header: str) -> str:
    """The delimiter a CSV header line uses: the one of `DELIMITERS` it holds most often (a comma
    when it holds none, a one-column file), so a tab file whose column names hold a semicolon
    still splits on tabs."""
    counts = [header.count(c) for c in DELIMITERS]
    return DELIMITERS[counts.index(max(counts))] if max(counts) else DELIMITERS[0]


def is_number(field: str) -> bool:
    """Whether `float` reads a field (what a numeric column's every value must do)."""
    try:
        float(field)
    except ValueError:
        return False
    return True


def table_chunks(lines: Iterable[str], rows_per_chunk: int = 16_384) -> Iterator[Table]:
    """The rows of a CSV text (an open file or a list of lines) in `Table`s of at most
    `rows_per_chunk` rows, each with the header, so a large file is read without holding every
    field as a string at once. The delimiter is `delimiter_of` the first line; a leading byte-order
    mark (spreadsheets' "CSV UTF-8") is dropped, blank lines skipped, fields stripped. A row whose
    field count differs from the header's raises `RaggedRow` naming its line. In a file not split
    on commas, a number written with a decimal comma (`0,25`, as spreadsheets in many locales
    write it) reads as `0.25`. The first chunk is yielded even when it holds no row (a header-only
    or empty text)."""
    it = iter(lines)
    first = next(it, "").removeprefix("\ufeff")
    delimiter = delimiter_of(first)
    decimal_commas = delimiter != ","  # a comma that does not split fields is a decimal comma: 0,25
    reader = csv.reader(itertools.chain([first], it), delimiter=delimiter)
    header: list[str] | None = None
    rows: list[list[str]] = []
    numbers: list[int] = []
    start, sent = 1, False
    for fields in reader:
        if len(fields) > 1 or (fields and fields[0].strip()):  # not a blank line
            fields = [f.strip() for f in fields]
            if decimal_commas and header is not None:
                fields = [f.replace(",", ".") if "," in f and DECIMAL_COMMA.fullmatch(f) else f for f in fields]
            if header is None:
                header = fields
            elif len(fields) != len(header):
                raise RaggedRow(f"line {start} has {len(fields)} fields, the header {len(header)}: "
                                "every row needs one value per column")
            else:
                rows.append(fields)
                numbers.append(start)
                if len(rows) == rows_per_chunk:
                    yield Table(header, rows, numbers)
                    rows, numbers, sent = [], [], True
        start = reader.line_num + 1
    if rows or not sent:
        yield Table(header or [], rows, numbers)


def split_table(text: str) -> Table:
    """The header and every row of a CSV text at once (`table_chunks` in one `Table`)."""
    header: list[str] = []
    rows: list[list[str]] = []
    lines: list[int] = []
    for chunk in table_chunks(io.StringIO(text, newline="")):
        header = chunk.header
        rows += chunk.rows
        lines += chunk.lines
    return Table(header, rows, lines)
