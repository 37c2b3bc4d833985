"""End to end: what every privacy mechanism draws is priced by `pricing.price` as it comes, bytes
and all; a release with no records to retrain on (a table, a count-min sketch) is refused by name.

The specs are the smallest the pricing tests build (tests/pricing/conftest.py `ridge_spec`):
an `influence` spec on a linear head over the raw features, built here with numpy alone.
"""

from __future__ import annotations

import numpy as np
import pytest

from pricing import UnpriceableRelease, make_spec, price, write_release
from privacy import (Column, Offer, PrivacyLedger, Release, Schema, draw_release, release_exact, release_ml,
                     release_table)

TERMS = {"pricing": {"method": "influence", "curve": {"kind": "linear", "slope": "100000000"}}, "maxPrice": "1000000"}
FEATURES = (Column("age", "float", bounds=(0, 100)), Column("visits", "integer", bounds=(0, 10)))


def _influence_spec(classes: int) -> bytes:
    """A ridge (classes=0) or softmax-head influence spec over [age, visits, 1], seeded."""
    rng = np.random.default_rng(5)
    x = np.column_stack([rng.uniform(0, 100, 60), rng.integers(0, 11, 60)]) / np.array([50.0, 5.0]) - 1.0
    phi = np.column_stack([x, np.ones(len(x))])
    k = classes or 1
    if classes:
        w = 0.3 * rng.normal(size=(k, 3))
        ihvp = rng.normal(size=k * 3)
    else:
        y = x @ np.array([1.0, -2.0]) + 0.3 * rng.normal(size=len(x))
        hess = phi[:40].T @ phi[:40] / 40 + 0.1 * np.eye(3)
        w = np.linalg.solve(hess, phi[:40].T @ y[:40] / 40)[None, :]
        ihvp = np.linalg.solve(hess, (phi[40:] @ w[0] - y[40:]) @ phi[40:] / 20)
    label = {"name": "y", "kind": "categorical", "classes": classes} if classes else {"name": "y", "kind": "continuous"}
    manifest = {"method": "influence", "proxy": {"layers": []}, "hyper": {"n_train": 40.0},
                "schema": {"features": [{"name": "age"}, {"name": "visits"}], "label": label}}
    return make_spec(manifest, {"head.weight": w, "influence.ihvp": ihvp})


@pytest.fixture(scope="module")
def classifier_spec() -> bytes:
    return _influence_spec(2)


@pytest.fixture(scope="module")
def regression_spec() -> bytes:
    return _influence_spec(0)


@pytest.fixture
def data() -> dict:
    rng = np.random.default_rng(11)
    n = 30
    return {"features": np.column_stack([rng.uniform(0, 100, n), rng.integers(0, 11, n)]),
            "churn": (rng.random(n) < 0.4).astype(np.int64), "income": rng.uniform(0, 1, n)}


def _priced_as_drawn(spec: bytes, release: Release, spec_label: dict) -> None:
    """The release's bytes price exactly like its records written by pricing's own writer, and
    the efficacy is a real number (not an empty release priced at zero)."""
    blob = release.to_bytes()
    got = price(spec, blob, TERMS)
    schema = {"features": [{"name": "age"}, {"name": "visits"}], "label": spec_label}
    same = price(spec, write_release(release.features, release.label, schema), TERMS)
    assert (got.price, got.efficacy, got.unique_records) == (same.price, same.efficacy, same.unique_records)
    assert np.array_equal(got.scores, same.scores) and got.scores.shape == (release.rows,)
    assert np.isfinite(got.efficacy) and got.efficacy != 0.0


CLASSES_2 = {"name": "y", "kind": "categorical", "classes": 2}
CONTINUOUS = {"name": "y", "kind": "continuous"}


def test_ml_release_prices_as_drawn(classifier_spec, data):
    """release_ml: Laplace on the float feature, discrete Laplace on the integer one, k-ary
    randomized response on the label."""
    schema = Schema(features=FEATURES, label=Column.categorical("churn", 2))
    r = release_ml(data["features"], data["churn"], schema, 2.0, rng=np.random.default_rng(1))
    assert {p["name"] for p in r.mechanism["columns"].values()} == {"laplace", "discrete-laplace",
                                                                   "randomized-response"}
    _priced_as_drawn(classifier_spec, r, CLASSES_2)


def test_laplace_label_release_prices_against_a_regression_spec(regression_spec, data):
    schema = Schema(features=FEATURES, label=Column("income", "float", bounds=(0, 1)))
    r = release_ml(data["features"], data["income"], schema, 3.0, rng=np.random.default_rng(2))
    assert r.mechanism["columns"]["income"]["name"] == "laplace"
    _priced_as_drawn(regression_spec, r, CONTINUOUS)


@pytest.mark.parametrize("label", [Column("churn", "boolean"), Column.categorical("churn", ("stays", "leaves"))])
def test_randomized_response_label_release_prices(classifier_spec, data, label):
    """A boolean label (binary randomized response) and a categorical one named by its categories."""
    values = data["churn"].astype(bool) if label.kind == "boolean" else np.where(data["churn"], "leaves", "stays")
    r = release_ml(data["features"], values, Schema(features=FEATURES, label=label), 2.0,
                   rng=np.random.default_rng(3))
    assert r.mechanism["columns"]["churn"]["name"].startswith("randomized-response")
    _priced_as_drawn(classifier_spec, r, CLASSES_2)


def test_exact_release_prices_like_the_raw_data(classifier_spec, data):
    schema = Schema(features=FEATURES, label=Column.categorical("churn", 2))
    r = release_exact({"features": data["features"], "label": data["churn"]}, schema)
    _priced_as_drawn(classifier_spec, r, CLASSES_2)
    raw = write_release(data["features"], data["churn"], {"features": [{"name": "age"}, {"name": "visits"}],
                                                         "label": CLASSES_2})
    assert price(classifier_spec, r.to_bytes(), TERMS).price == price(classifier_spec, raw, TERMS).price


@pytest.mark.parametrize("offer", [Offer(price_rule={}, epsilon=1.5, mechanism="ml-laplace-rr"),
                                   Offer(price_rule={}, epsilon="exact", mechanism="exact")])
def test_the_hubs_draw_release_prices(classifier_spec, data, offer):
    schema = Schema(features=FEATURES, label=Column.categorical("churn", 2))
    ledger = PrivacyLedger(cap_milli=2**32 - 1)
    r = draw_release(offer, schema, {"features": data["features"], "label": data["churn"]}, ledger=ledger,
                     rng=np.random.default_rng(4))
    _priced_as_drawn(classifier_spec, Release.from_bytes(r.to_bytes()), CLASSES_2)


def _refused(spec: bytes, release: Release, what: str) -> None:
    with pytest.raises(UnpriceableRelease) as err:
        price(spec, release.to_bytes(), TERMS)
    msg = str(err.value)
    assert what in msg
    assert "an MDE spec prices records: a release with tensors 'features' (float64 [n, d]) and 'label' ([n])" in msg
    assert "release_ml" in msg and "release_exact" in msg
    assert err.value.mechanism == release.mechanism["name"] and err.value.tensors == sorted(release.tensors)


def test_a_count_min_sketch_is_refused_naming_what_can_be_priced(classifier_spec):
    schema = Schema(columns=(Column("query", "string"),))
    r = release_table({"query": ["a", "b", "a"] * 10}, schema, 1.0, cms={"depth": 4, "width": 16},
                      rng=np.random.default_rng(6))
    assert r.mechanism["columns"]["query"]["name"] == "count-min-sketch"
    _refused(classifier_spec, r, "holds tensors ['col:query'], no features")


def test_a_table_is_refused_naming_what_can_be_priced(classifier_spec, data):
    schema = Schema(columns=(Column("smoker", "boolean"), Column("income", "float", bounds=(0, 1))))
    columns = {"smoker": data["churn"].astype(bool), "income": data["income"]}
    _refused(classifier_spec, release_table(columns, schema, 1.0, rng=np.random.default_rng(7)),
             "release of mechanism 'table' holds tensors ['col:income', 'col:smoker']")
    _refused(classifier_spec, release_exact(columns, schema), "release of mechanism 'exact'")


def test_features_without_a_label_are_refused(classifier_spec, data):
    r = release_ml(data["features"], None, Schema(features=FEATURES), 1.0, rng=np.random.default_rng(8))
    _refused(classifier_spec, r, "holds tensors ['features'], no label")
