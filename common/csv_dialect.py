"""The one rule for reading a data table written by a person's spreadsheet: which delimiter its
header line uses (commas, or the semicolons or tabs some locales write), and how its text splits
into a header and rows. Pure: a string in."""

from __future__ import annotations

import csv
import io
from typing import NamedTuple

__all__ = ["DELIMITERS", "RaggedRow", "Table", "delimiter_of", "split_table"]

#: the delimiters a data file may use, the first the default
DELIMITERS = (",", ";", "\t")


class RaggedRow(ValueError):
    """Raised when a row of a data table has more or fewer fields than its header; the message
    names the line and the counts, never a value."""


class Table(NamedTuple):
    """A data table's header and rows, every field stripped of surrounding spaces, with the line
    each row starts on (1 = the header) for messages that point a person at the row."""

    header: list[str]
    rows: list[list[str]]
    lines: list[int]


def delimiter_of(header: str) -> str:
    """The delimiter a CSV header line uses: the one of `DELIMITERS` it holds most often (a comma
    when it holds none, a one-column file), so a tab file whose column names hold a semicolon
    still splits on tabs."""
    counts = [header.count(c) for c in DELIMITERS]
    return DELIMITERS[counts.index(max(counts))] if max(counts) else DELIMITERS[0]


def split_table(text: str) -> Table:
    """The header and rows of a CSV text: split on `delimiter_of` its first line, a leading
    byte-order mark (spreadsheets' "CSV UTF-8") dropped, blank lines skipped, fields stripped.
    A row whose field count differs from the header's raises `RaggedRow` naming its line."""
    text = text.removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter_of(text.split("\n", 1)[0]))
    header: list[str] | None = None
    rows: list[list[str]] = []
    lines: list[int] = []
    start = 1
    for fields in reader:
        if len(fields) > 1 or (fields and fields[0].strip()):  # not a blank line
            fields = [f.strip() for f in fields]
            if header is None:
                header = fields
            elif len(fields) != len(header):
                raise RaggedRow(f"line {start} has {len(fields)} fields, the header {len(header)}: "
                                "every row needs one value per column")
            else:
                rows.append(fields)
                lines.append(start)
        start = reader.line_num + 1
    return Table(header or [], rows, lines)
