"""The one rule for reading a data table written by a person's spreadsheet: which delimiter its
header line uses (commas, or the semicolons or tabs some locales write). Pure: a string in."""

from __future__ import annotations

__all__ = ["DELIMITERS", "delimiter_of"]

#: the delimiters a data file may use, the first the default
DELIMITERS = (",", ";", "\t")


def delimiter_of(header: str) -> str:
    """The delimiter a CSV header line uses: the one of `DELIMITERS` it holds most often (a comma
    when it holds none, a one-column file), so a tab file whose column names hold a semicolon
    still splits on tabs."""
    counts = [header.count(c) for c in DELIMITERS]
    return DELIMITERS[counts.index(max(counts))] if max(counts) else DELIMITERS[0]
