"""ML releases: tensors the pricing package reads, epsilon split, de-biasing from metadata alone."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from privacy import (Column, InvalidSchema, OutOfBounds, Release, Schema, estimate_mean, estimate_proportion,
                     release_ml)


def test_ml_release_has_features_float64_and_label_int64(ml_schema, ml_data, rng):
    data = ml_data(rng, 300)
    r = Release.from_bytes(release_ml(data["features"], data["label"], ml_schema, 1.0, rng=rng).to_bytes())
    assert r.tensors["features"].dtype == np.float64 and r.tensors["features"].shape == (300, 2)
    assert r.tensors["label"].dtype == np.int64 and r.tensors["label"].shape == (300,)
    assert set(np.unique(r.tensors["label"])) <= {0, 1}
    assert r.rows == 300 and r.mechanism["name"] == "ml-laplace-rr"


@given(st.floats(0.01, 50), st.integers(1, 6))
def test_default_split_gives_each_of_d_plus_1_columns_epsilon_over_d_plus_1(eps, d):
    schema = Schema(features=tuple(Column(f"x{i}", "float", bounds=(0, 1)) for i in range(d)),
                    label=Column.categorical("y", 3))
    r = release_ml(np.zeros((5, d)), np.zeros(5, dtype=int), schema, eps, rng=np.random.default_rng(0))
    shares = [p["epsilon"] for p in r.mechanism["columns"].values()]
    assert len(shares) == d + 1
    assert math.fsum(shares) <= eps and math.fsum(shares) == pytest.approx(eps, rel=1e-12)
    assert max(shares) == pytest.approx(eps / (d + 1), rel=1e-12)
    assert r.mechanism["epsilon"] == eps and r.mechanism["neighbouring"] == "replace-one"


def test_user_split_is_recorded_and_used(ml_schema, ml_data, rng):
    data = ml_data(rng, 10)
    r = release_ml(data["features"], data["label"], ml_schema, 2.0, split={"age": 2, "visits": 1, "churn": 1},
                   rng=rng)
    assert r.mechanism["split"] == {"age": 2.0, "visits": 1.0, "churn": 1.0}
    assert r.mechanism["columns"]["age"]["epsilon"] == pytest.approx(1.0)
    assert r.mechanism["columns"]["churn"]["epsilon"] == pytest.approx(0.5)


def test_split_naming_the_wrong_columns_is_refused(ml_schema, ml_data, rng):
    data = ml_data(rng, 10)
    with pytest.raises(InvalidSchema, match="exactly the columns"):
        release_ml(data["features"], data["label"], ml_schema, 1.0, split={"age": 1}, rng=rng)


def test_feature_outside_bounds_is_refused_naming_the_column(ml_schema, ml_data, rng):
    data = ml_data(rng, 10)
    data["features"][3, 0] = 140.0
    with pytest.raises(OutOfBounds, match=r"column 'age': 1 value\(s\) outside the declared bounds \[0.0, 100.0\]") as err:
        release_ml(data["features"], data["label"], ml_schema, 1.0, rng=rng)
    assert "140" not in str(err.value) and err.value.example == 140.0
    r = release_ml(data["features"], data["label"], ml_schema, 1.0, clamp=True, rng=rng)
    assert r.mechanism["clamp"] is True and r.mechanism["columns"]["age"]["clamped"] is True


def test_wrong_feature_width_is_refused(ml_schema, rng):
    with pytest.raises(InvalidSchema, match="feature columns"):
        release_ml(np.zeros((4, 3)), np.zeros(4, dtype=int), ml_schema, 1.0, rng=rng)


def test_estimates_from_release_bytes_alone_are_unbiased(ml_schema, ml_data):
    rng = np.random.default_rng(44)
    data = ml_data(rng, 3000)
    reps = 150
    est = {"age": [], "visits": [], "churn": []}
    for _ in range(reps):
        blob = release_ml(data["features"], data["label"], ml_schema, 3.0, rng=rng).to_bytes()
        r = Release.from_bytes(blob)  # the buyer's view: bytes and nothing else
        est["age"].append(estimate_mean(r, "age"))
        est["visits"].append(estimate_mean(r, "visits"))
        est["churn"].append(estimate_proportion(r, "churn", category=1))
    truth = {"age": data["features"][:, 0].mean(), "visits": data["features"][:, 1].mean(),
             "churn": data["label"].mean()}
    for name, es in est.items():
        values = np.array([e.value for e in es])
        var = np.mean([e.variance for e in es])
        assert abs(values.mean() - truth[name]) <= 5 * math.sqrt(var / reps), name


def test_regression_label_gets_laplace():
    schema = Schema(features=(Column("x", "float", bounds=(0, 1)),), label=Column("y", "float", bounds=(-1, 1)))
    r = release_ml(np.zeros((20, 1)), np.zeros(20), schema, 1.0, rng=np.random.default_rng(0))
    assert r.tensors["label"].dtype == np.float64
    assert r.mechanism["columns"]["y"]["name"] == "laplace"


def test_opendp_ml_release_smoke(ml_schema, ml_data, rng, within):
    data = ml_data(rng, 2000)
    r = release_ml(data["features"], data["label"], ml_schema, 6.0)
    assert {p["sampler"] for p in r.mechanism["columns"].values()} == {"opendp"}
    assert within(estimate_mean(r, "age"), data["features"][:, 0].mean())


# --- OpenDP columns drawn on threads; the seeded path unchanged ---------------------------

def _wide_schema(d: int, label: bool = True) -> Schema:
    return Schema(features=tuple(Column(f"x{j}", "float", bounds=(0, 1000)) for j in range(d)),
                  label=Column.categorical("y", 2) if label else None)


def test_seeded_release_is_the_column_by_column_draw_of_one_stream(ml_schema, ml_data, rng):
    from privacy.mechanisms._columns import release_column
    data = ml_data(rng, 500)
    r = release_ml(data["features"], data["label"], ml_schema, 2.0, rng=np.random.default_rng(7), workers=4)
    again = np.random.default_rng(7)
    cols = [*ml_schema.features, ml_schema.label]
    values = [data["features"][:, 0], data["features"][:, 1], data["label"]]
    expected = [release_column(c, v, 2.0 / 3, clamp=False, rng=again)[0] for c, v in zip(cols, values)]
    assert np.array_equal(r.tensors["features"], np.column_stack(expected[:2]).astype(np.float64))
    assert np.array_equal(r.tensors["label"], expected[2])


@pytest.mark.parametrize("workers", [1, 3, None])
def test_threaded_opendp_columns_land_in_their_own_place(workers):
    d, n = 6, 400
    X = np.tile(np.arange(d) * 150.0, (n, 1))          # column j holds 150 j everywhere
    r = release_ml(X, np.ones(n, dtype=int), _wide_schema(d), 700.0, workers=workers)  # scale 10
    means = r.tensors["features"].mean(axis=0)
    se = math.sqrt(2 * 10.0 ** 2 / n)
    assert np.all(np.abs(means - np.arange(d) * 150.0) <= 5 * se)
    assert [p["sampler"] for p in r.mechanism["columns"].values()] == ["opendp"] * (d + 1)


def test_opendp_and_seeded_releases_record_the_same_parameters():
    d, n = 5, 50
    X = np.random.default_rng(3).uniform(0, 1000, (n, d))
    y = np.zeros(n, dtype=int)
    a = release_ml(X, y, _wide_schema(d), 1.0, workers=2).mechanism
    b = release_ml(X, y, _wide_schema(d), 1.0, rng=np.random.default_rng(0)).mechanism
    for name, pa in a["columns"].items():
        pb = dict(b["columns"][name], sampler="opendp")
        assert pa.keys() == pb.keys()
        for key in pa:  # OpenDP's calibration may nudge scale / prob by ulps, nothing more
            assert pa[key] == (pytest.approx(pb[key], rel=1e-12) if isinstance(pb[key], float) else pb[key])
    assert {k: v for k, v in a.items() if k != "columns"} == {k: v for k, v in b.items() if k != "columns"}


def test_threaded_release_raises_the_first_failing_column_in_order():
    d, n = 6, 30
    X = np.full((n, d), 10.0)
    X[0, 4] = -1.0
    X[0, 2] = 2000.0
    with pytest.raises(OutOfBounds) as err:
        release_ml(X, np.zeros(n, dtype=int), _wide_schema(d), 1.0, workers=3)
    assert err.value.column == "x2"


def test_fewer_than_one_worker_is_refused():
    from privacy.errors import InvalidWorkers
    with pytest.raises(InvalidWorkers, match=r"workers \(0\) must be at least 1, or None for one thread per CPU"):
        release_ml(np.zeros((3, 2)), np.zeros(3, dtype=int), _wide_schema(2), 1.0, workers=0)
