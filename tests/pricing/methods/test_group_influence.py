"""Group influence: exact on a quadratic loss, and saturating on duplicates."""

from __future__ import annotations

import numpy as np

from pricing import parse_spec
from pricing.methods import get_method
from pricing.numerics import linear_head


def test_group_influence_newton_step_is_exact_retraining_for_ridge(ridge_problem, ridge_spec, ridge_fit):
    p = ridge_problem
    spec = parse_spec(ridge_spec("group-influence", curvature_penalty=0.0))
    eff = get_method("group-influence").efficacy(spec, p["x_new"], p["y_new"])
    n = p["x_train"].shape[0]
    base = ridge_fit(linear_head.add_bias(p["x_train"]), p["y_train"], np.ones(n), p["l2"], n)
    phi = linear_head.add_bias(np.concatenate([p["x_train"], p["x_new"]]))
    theta = ridge_fit(phi, np.r_[p["y_train"], p["y_new"]], np.ones(phi.shape[0]), p["l2"], n)
    g_val = spec.tensors["group.grad_val"]
    assert np.isclose(eff.total, float(g_val @ (base - theta)), rtol=1e-8)


def test_group_influence_ten_copies_are_worth_far_less_than_ten_times(ridge_problem, ridge_spec):
    p = ridge_problem
    spec = parse_spec(ridge_spec("group-influence"))
    method = get_method("group-influence")
    x, y = p["x_new"][:3], p["y_new"][:3]
    one = method.efficacy(spec, x, y).total
    ten = method.efficacy(spec, np.tile(x, (10, 1)), np.tile(y, 10)).total
    assert one > 0
    hundred = method.efficacy(spec, np.tile(x, (100, 1)), np.tile(y, 100)).total
    assert ten < 0.6 * 10 * one  # first-order influence would give exactly 10x
    assert hundred / ten < ten / one  # diminishing: (H + k h)^{-1} k g converges in k


def test_group_influence_penalises_large_moves(ridge_problem, ridge_spec):
    p = ridge_problem
    method = get_method("group-influence")
    with_pen = method.efficacy(parse_spec(ridge_spec("group-influence")), p["x_new"], p["y_new"]).total
    without = method.efficacy(parse_spec(ridge_spec("group-influence", curvature_penalty=0.0)), p["x_new"], p["y_new"]).total
    assert with_pen < without
