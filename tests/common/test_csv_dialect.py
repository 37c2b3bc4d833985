"""`common.csv_dialect.delimiter_of`: a header written with any of the delimiters is split on that
one, even when its column names hold another delimiter less often."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from common.csv_dialect import DELIMITERS, delimiter_of

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
