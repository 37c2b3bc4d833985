"""Tree extraction: a two-leaf tree checked by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from pricing import SpecError, make_spec, parse_spec
from pricing.methods import get_method

TREE = {"feature": [0, 0, 0], "threshold": [0.0, 0.0, 0.0], "left": [1, -1, -1], "right": [2, -1, -1],
        "value": [[10.0, 10.0], [9.0, 1.0], [1.0, 1.0]]}


def _spec(schema, tree=TREE):
    return make_spec({"method": "tree", "schema": schema(2, 2), "tree": tree}, {})


def test_tree_scores_match_hand_computation(schema):
    spec = parse_spec(_spec(schema))
    x = np.array([[-1.0, 0.0], [-1.0, 0.0], [1.0, 0.0]])
    y = np.array([0, 1, 0])
    eff = get_method("tree").efficacy(spec, x, y)
    u = -(0.9 * math.log(0.9) + 0.1 * math.log(0.1)) / math.log(2)
    expected = [u * 0.9 - (1 - u) * 0.1, u * 0.1 - (1 - u) * 0.9, 1.0 * 0.5 - 0.0]
    assert np.allclose(eff.scores, expected)
    pos_left = max(expected[0], 0) + max(expected[1], 0)
    assert np.isclose(eff.total, math.log1p(pos_left) + math.log1p(0.5) + sum(min(e, 0) for e in expected))


def test_tree_disagreeing_with_a_confident_leaf_costs(schema):
    spec = parse_spec(_spec(schema))
    eff = get_method("tree").efficacy(spec, np.array([[-1.0, 0.0]]), np.array([1]))
    assert eff.total < 0


def test_tree_rejects_a_cycle(schema):
    bad = {**TREE, "left": [1, 0, -1], "right": [2, 0, -1]}
    with pytest.raises(SpecError, match="children"):
        _spec(schema, bad)


def test_tree_rejects_feature_outside_the_schema(schema):
    bad = {**TREE, "feature": [5, 0, 0]}
    with pytest.raises(SpecError, match="feature 5"):
        _spec(schema, bad)
