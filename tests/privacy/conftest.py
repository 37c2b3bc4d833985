"""Shared fixtures for the privacy tests.

Statistical tolerances: an estimate is accepted when it lies within ``Z`` standard
errors of the truth, with the standard error taken from the estimator's own variance.
``Z = 5`` makes a false failure a ~6e-7 event per assertion; seeded (numpy) tests are
deterministic anyway, and OpenDP tests (OS randomness) rely on that margin.
"""

from __future__ import annotations

import numpy as np
import pytest

from privacy import Column, Schema

Z = 5.0

# Hypothesis settings come from the suite-wide profile in tests/conftest.py.


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(20261123)


@pytest.fixture
def ml_schema() -> Schema:
    return Schema(features=(Column("age", "float", bounds=(0, 100)),
                            Column("visits", "integer", bounds=(0, 10))),
                  label=Column.categorical("churn", 2))


@pytest.fixture
def table_schema() -> Schema:
    return Schema(columns=(Column("smoker", "boolean"),
                           Column("city", "categorical", categories=("oslo", "lima", "pune")),
                           Column("income", "float", bounds=(0, 1000)),
                           Column("query", "string")))


def _ml_data(rng: np.random.Generator, n: int) -> dict:
    X = np.column_stack([rng.uniform(0, 100, n), rng.integers(0, 11, n)])
    return {"features": X, "label": (rng.random(n) < 0.3).astype(np.int64)}


def _table_data(rng: np.random.Generator, n: int) -> dict:
    return {"smoker": rng.random(n) < 0.3,
            "city": rng.choice(["oslo", "lima", "pune"], n, p=[0.5, 0.3, 0.2]),
            "income": rng.uniform(0, 1000, n),
            "query": rng.choice(["apple", "pear", "fig", "kiwi"], n, p=[0.6, 0.2, 0.1, 0.1])}


def _within(estimate, truth: float, *, z: float = Z) -> bool:
    """``|estimate.value - truth| <= z * estimate.std_error``."""
    return abs(estimate.value - truth) <= z * estimate.std_error


@pytest.fixture
def ml_data():
    """``ml_data(rng, n)``: features (age uniform [0,100], visits 0..10) and a 30% label."""
    return _ml_data


@pytest.fixture
def table_data():
    """``table_data(rng, n)``: smoker 30%, city 50/30/20, income uniform, query strings."""
    return _table_data


@pytest.fixture
def within():
    """``within(estimate, truth, z=Z)``: the estimate is within z of its own standard errors."""
    return _within
