"""privacy/release.py: privacy's view of the shared release format (the typed schema back)."""

import numpy as np
import pytest

from pricing import write_release
from privacy import InvalidRelease, Release, estimate_mean, release_ml, release_table, schema_of
from privacy.release import FORMAT


def test_estimate_from_bytes_equals_estimate_from_the_object(ml_schema, ml_data, rng):
    data = ml_data(rng, 100)
    r = release_ml(data["features"], data["label"], ml_schema, 1.0, rng=rng)
    assert estimate_mean(Release.from_bytes(r.to_bytes()), "age") == estimate_mean(r, "age")


def test_schema_of_gives_the_drawn_schema_back(ml_schema, table_schema, ml_data, table_data, rng):
    data = ml_data(rng, 5)
    ml = release_ml(data["features"], data["label"], ml_schema, 1.0, rng=rng)
    table = release_table(table_data(rng, 5), table_schema, 1.0, cms={"depth": 2, "width": 8}, rng=rng)
    assert schema_of(Release.from_bytes(ml.to_bytes())) == ml_schema
    assert schema_of(Release.from_bytes(table.to_bytes())) == table_schema
    assert FORMAT == "spartacus-release-v1"


def test_a_release_without_a_privacy_schema_is_named():
    # pricing's test writer declares no bounds: a valid release, but not a privacy schema
    blob = write_release(np.zeros((2, 1)), np.zeros(2), {"features": [{"name": "x"}],
                                                         "label": {"name": "y", "kind": "continuous"}})
    with pytest.raises(InvalidRelease, match="not a privacy schema.*'x'.*bounds"):
        schema_of(Release.from_bytes(blob))
