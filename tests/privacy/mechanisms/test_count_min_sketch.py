"""Apple's private count-min sketch: hash family, aggregate sampler, unbiasedness."""

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from privacy import frequency_from_sketch
from privacy.mechanisms import cms_hash, count_min_sketch
from privacy.mechanisms.count_min_sketch import cms_hashes
from privacy.mechanisms.count_min_sketch import cms_constants


@given(st.text(max_size=20), st.integers(0, 1000), st.integers(2, 5000), st.binary(min_size=16, max_size=16))
def test_hash_is_deterministic_and_in_range(value, j, width, salt):
    h = cms_hash(value, j, width, salt)
    assert 0 <= h < width and h == cms_hash(value, j, width, salt)


@given(st.text(max_size=20), st.integers(1, 100), st.integers(2, 5000), st.binary(min_size=16, max_size=16))
def test_all_row_hashes_at_once_agree_with_each_row_hash(value, depth, width, salt):
    hs = cms_hashes(value, depth, width, salt)
    assert hs.tolist() == [cms_hash(value, j, width, salt) for j in range(depth)]


def _apple_client_sketch(values, eps, depth, width, salt, rng):
    """Apple's Algorithms 1-2 record by record (slow reference)."""
    flip, c = cms_constants(eps)
    M = np.zeros((depth, width))
    for d in values:
        j = rng.integers(depth)
        v = -np.ones(width)
        v[cms_hash(d, j, width, salt)] = 1
        v = v * np.where(rng.random(width) < flip, -1, 1)
        M[j] += depth * ((c / 2) * v + 0.5)
    return M


def test_aggregate_sampler_matches_apples_per_record_algorithm_in_distribution():
    rng = np.random.default_rng(1)
    values = ["a"] * 60 + ["b"] * 30 + ["c"] * 10
    depth, width, eps, reps, salt = 3, 8, 2.0, 300, b"\x01" * 16
    fast = np.array([count_min_sketch(values, eps, depth=depth, width=width, salt=salt, rng=rng)[0]
                     for _ in range(reps)])
    slow = np.array([_apple_client_sketch(values, eps, depth, width, salt, rng) for _ in range(reps)])
    sd = np.sqrt((fast.var(axis=0) + slow.var(axis=0)) / reps)
    assert np.all(np.abs(fast.mean(axis=0) - slow.mean(axis=0)) <= 5 * sd + 1e-9)
    ratio = fast.var(axis=0) / slow.var(axis=0)
    assert np.all(np.abs(np.log(ratio)) <= 5 * math.sqrt(4 / reps))


@pytest.mark.parametrize("eps", [1.0, 4.0])
def test_frequency_is_unbiased_over_releases_with_fresh_salts(eps):
    rng = np.random.default_rng(2)
    n, reps, depth, width = 5000, 200, 8, 64
    values = list(rng.choice(["apple", "pear", "fig", "kiwi", "plum"], n, p=[.5, .2, .15, .1, .05]))
    truth = {v: values.count(v) for v in ("apple", "fig", "lime")}
    for value, f in truth.items():
        ests = []
        for _ in range(reps):
            sketch, p = count_min_sketch(values, eps, depth=depth, width=width, rng=rng)
            ests.append(frequency_from_sketch(sketch, value, epsilon=eps, depth=depth, width=width,
                                              salt=p["salt"], rows=n))
        vals = np.array([e.value for e in ests])
        var = np.mean([e.variance for e in ests])
        assert abs(vals.mean() - f) <= 5 * math.sqrt(var / reps), value
        assert np.var(vals, ddof=1) / var == pytest.approx(1.0, abs=5 * math.sqrt(2 / reps)), value


def test_cms_records_every_parameter_the_buyer_needs():
    sketch, p = count_min_sketch(["x", "y"], 1.0, depth=4, width=16, rng=np.random.default_rng(0))
    assert sketch.shape == (4, 16)
    assert {"name", "epsilon", "depth", "width", "salt", "hash", "rows"} <= set(p)
    assert p["name"] == "count-min-sketch" and p["rows"] == 2 and len(bytes.fromhex(p["salt"])) == 16


def test_cms_rejects_degenerate_shapes():
    with pytest.raises(ValueError, match="width"):
        count_min_sketch(["x"], 1.0, depth=1, width=1, rng=np.random.default_rng(0))
