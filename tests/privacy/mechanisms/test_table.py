"""General tables: every column kind, metadata enough for every estimator."""

import numpy as np
import pytest

from privacy import (InvalidSchema, Release, UnknownCategory, estimate_frequency, estimate_histogram, estimate_mean,
                     estimate_proportion, release_exact, release_table)
from privacy import Column, Schema


def test_table_release_round_trips_and_every_column_estimates(table_schema, table_data, rng, within):
    data = table_data(rng, 20000)
    r = Release.from_bytes(release_table(data, table_schema, 8.0, cms={"depth": 16, "width": 256},
                                         rng=rng).to_bytes())
    assert set(r.tensors) == {"col:smoker", "col:city", "col:income", "col:query"}
    assert r.tensors["col:query"].shape == (16, 256)
    assert within(estimate_proportion(r, "smoker"), data["smoker"].mean())
    hist = estimate_histogram(r, "city")
    for city in ("oslo", "lima", "pune"):
        assert within(hist[city], np.mean(data["city"] == city))
    assert within(estimate_mean(r, "income"), data["income"].mean())
    assert within(estimate_frequency(r, "query", "apple"), int(np.sum(data["query"] == "apple")))


def test_unknown_category_is_refused_naming_the_column_not_the_value(table_schema, table_data, rng):
    data = table_data(rng, 10)
    data["city"][2] = "rome"
    with pytest.raises(UnknownCategory, match="column 'city': 1 value") as err:
        release_table(data, table_schema, 1.0, rng=rng)
    assert isinstance(err.value, InvalidSchema)
    assert "rome" not in str(err.value)  # a raw value never leaves the hub
    assert (err.value.column, err.value.count, err.value.example) == ("city", 1, "rome")


def test_misaligned_columns_are_refused(table_schema, table_data, rng):
    data = table_data(rng, 10)
    data["income"] = data["income"][:5]
    with pytest.raises(InvalidSchema, match="different lengths"):
        release_table(data, table_schema, 1.0, rng=rng)


def test_exact_release_estimates_have_zero_noise_variance():
    schema = Schema(columns=(Column("b", "boolean"), Column("v", "float", bounds=(0, 10))))
    data = {"b": np.array([True, False, True, True]), "v": np.array([1.0, 2.0, 3.0, 4.0])}
    r = Release.from_bytes(release_exact(data, schema).to_bytes())
    assert r.epsilon == "exact"
    assert estimate_proportion(r, "b").value == 0.75 and estimate_proportion(r, "b").variance == 0
    assert estimate_mean(r, "v").value == 2.5 and estimate_mean(r, "v").variance == 0
