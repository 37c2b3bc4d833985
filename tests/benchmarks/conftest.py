"""A small validation run, shared by the harness's tests and the re-pricing tool's."""

from __future__ import annotations

import pytest

from benchmarks._mde_data import load
from benchmarks.mde_validation import validate

# validate()'s configuration for the small run; the re-pricing tool must be given the same
SMALL = dict(n_train=100, n_val=150, sizes=(10, 20, 40, 80), hidden=64, max_iter=300)


@pytest.fixture(scope="session")
def small_report():
    x, y = load("breast_cancer")
    return validate(x, y, name="bc-small", seeds=2, jobs=1, progress=False,
                    methods=("influence", "feature-newton", "feature-newton@steps=1", "network-newton",
                             "network-anchored"), calibration={"folds": 3, "seeds": 1}, **SMALL)
