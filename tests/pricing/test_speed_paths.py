"""The fast paths of pricing: byte-keyed dedup, the cached spec, one BLAS thread, Newton-CG."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st
from threadpoolctl import threadpool_info, threadpool_limits

from pricing import SpecError, parse_spec, price
from pricing._threads import one_thread
from pricing.methods import get_method
from pricing._cg import pcg
from pricing.methods.feature_newton import newton_refit
from pricing.price import dedup_index


def _reference_dedup(x, y, tol):
    key = x + 0.0
    if tol > 0:
        key = np.floor(key / tol + 0.5) + 0.0
    rows = np.concatenate([key, np.asarray(y, dtype=np.float64)[:, None]], axis=1)
    _, first = np.unique(rows, axis=0, return_index=True)
    return np.sort(first)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), m=st.integers(1, 40), tol=st.sampled_from([0.0, 0.5]))
def test_dedup_index_matches_sorting_reference(seed, m, tol):
    rng = np.random.default_rng(seed)
    base = rng.integers(-2, 3, size=(max(1, m // 3), 3)).astype(np.float64)
    x = base[rng.integers(0, base.shape[0], size=m)] + rng.choice([0.0, 0.2, 1e-9], size=(m, 3))
    x[x == 0] *= rng.choice([1.0, -1.0], size=int((x == 0).sum()))  # -0.0 equals 0.0
    y = rng.integers(0, 2, size=m)
    assert dedup_index(x, y, tol).tolist() == _reference_dedup(x, y, tol).tolist()


def test_dedup_index_treats_negative_zero_as_zero_and_labels_apart():
    x = np.array([[0.0, 1.0], [-0.0, 1.0], [0.0, 1.0]])
    assert dedup_index(x, np.array([0, 0, 1])).tolist() == [0, 2]


def test_one_thread_pins_blas_and_restores():
    with threadpool_limits(limits=2):
        before = [i["num_threads"] for i in threadpool_info()]
        with one_thread():
            assert all(i["num_threads"] == 1 for i in threadpool_info() if i["user_api"] == "blas")
        assert [i["num_threads"] for i in threadpool_info()] == before


def test_pcg_solves_spd_system_with_a_rough_preconditioner():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(40, 40))
    a = a @ a.T + 0.1 * np.eye(40)
    b = rng.normal(size=40)
    m = np.diag(1.0 / np.diag(a)).astype(np.float32)
    pre = lambda r: (m @ r.astype(np.float32)).astype(np.float64)
    x = pcg(lambda v: a @ v, b, pre, rtol=1e-8)
    assert np.linalg.norm(a @ x - b) <= 1e-8 * np.linalg.norm(b)
    assert np.linalg.norm(a @ pcg(lambda v: a @ v, b, pre, rtol=1e-2) - b) > 1e-8 * np.linalg.norm(b)


def test_newton_cg_matches_cholesky_newton():
    rng = np.random.default_rng(1)
    from pricing import _head
    phi = _head.add_bias(rng.normal(size=(50, 6)))
    y = rng.integers(0, 3, size=50)
    w0 = rng.normal(size=(3, 7)) * 0.1
    g = rng.normal(size=(21, 21))
    h = g @ g.T / 21 + 0.05 * np.eye(21)
    exact = newton_refit(phi, y, w0, h, 80.0, True, 3)
    inv, h32 = np.linalg.inv(h).astype(np.float32), h.astype(np.float32)
    cg = newton_refit(phi, y, w0, h, 80.0, True, 3, h_inv=lambda r: (inv @ r.astype(np.float32)).astype(np.float64),
                      h_cg=lambda v: (h32 @ v.astype(np.float32)).astype(np.float64), cg_tol=1e-10)
    assert np.allclose(cg, exact, rtol=1e-6, atol=1e-8)
    assert not np.allclose(w0, exact)


def test_feature_newton_cg_default_agrees_with_cholesky_on_digits(digits_small, digits_specs):
    """Same efficacy as the Cholesky path; scores are influence at the refitted head, with its
    own Hessian (the Cholesky path reuses the last Newton Hessian, one step behind)."""
    from pricing import _head

    ds = digits_small
    pool = ds["pool"][:60]
    m = get_method("feature-newton")
    spec_cg = parse_spec(digits_specs["feature-newton"])
    spec_ch = parse_spec(digits_specs["feature-newton"])
    assert spec_cg.hyper["solver"] == 1.0
    spec_ch.hyper["solver"] = 0.0
    x = ds["x"][pool]
    phi = m.features(spec_cg, x)
    px, py = m.probe(spec_cg)
    probe = m.features(spec_cg, px)
    h, n = spec_cg.tensors["newton.hessian"], spec_cg.hyper["n_train"]
    for y in (ds["y"][pool], (ds["y"][pool] + 1) % 3):
        a = m.efficacy(spec_cg, x, y)
        b = m.efficacy(spec_ch, x, y)
        assert np.isclose(a.total, b.total, rtol=1e-4, atol=1e-9)
        w = newton_refit(phi, y, m.head(spec_cg), h, n, True, int(spec_cg.hyper["steps"]))
        s = np.linalg.solve(h + _head.hessian_sum(phi, w, True) / n, _head.grad_sum(probe, py, w, True) / len(py))
        ref = _head.record_grads(phi, y, w, True) @ s / n
        assert np.allclose(a.scores, ref, rtol=1e-3, atol=1e-4 * np.abs(ref).max())


@pytest.mark.parametrize("method", ["feature-newton", "influence", "distilled", "network-newton"])
def test_parsed_spec_with_warm_cache_prices_bit_for_bit_as_bytes(method, digits_small, digits_specs, release_of, terms):
    ds = digits_small
    spec = parse_spec(digits_specs[method])
    releases = [release_of(ds["x"][ds["pool"][i:i + 30]], ds["y"][ds["pool"][i:i + 30]], 3) for i in (0, 30)]
    with threadpool_limits(limits=2):  # a cache warmed on two threads must not differ
        warm = [price(spec, r, terms(method)) for r in releases]
    cold = [price(digits_specs[method], r, terms(method)) for r in releases]
    again = [price(spec, r, terms(method)) for r in releases]
    for a, b, c in zip(warm, cold, again):
        assert a.efficacy == b.efficacy == c.efficacy and a.price == b.price == c.price
        assert a.scores.tobytes() == b.scores.tobytes() == c.scores.tobytes()
    if method == "feature-newton":
        assert "feature-newton" in spec.cache


@pytest.mark.parametrize("hyper", [{"solver": 2.0}, {"cg_tol": 0.0}, {"cg_tol": 1.5}, {"frozen_hessian": 1.0}])
def test_feature_newton_rejects_bad_solver_settings(ridge_spec, hyper):
    with pytest.raises(SpecError, match="solver|cg_tol"):
        ridge_spec("feature-newton", **hyper)


def test_feature_newton_chord_steps_still_parse_with_the_cholesky_solver(ridge_spec):
    assert parse_spec(ridge_spec("feature-newton", frozen_hessian=1.0, solver=0.0)).hyper["frozen_hessian"] == 1.0


def test_feature_newton_cg_rejects_a_hessian_that_is_not_positive_definite(digits_small, digits_specs):
    from pricing import PricingError

    ds = digits_small
    spec = parse_spec(digits_specs["feature-newton"])
    spec.tensors["newton.hessian"] = -np.eye(spec.tensors["newton.hessian"].shape[0])
    with pytest.raises(PricingError, match="positive definite"):
        get_method("feature-newton").efficacy(spec, ds["x"][ds["pool"][:5]], ds["y"][ds["pool"][:5]])


def test_pcg_carrying_h_by_recursion_solves_h_plus_b():
    rng = np.random.default_rng(5)
    g = rng.normal(size=(30, 30))
    h = g @ g.T / 30 + 0.1 * np.eye(30)
    u = rng.normal(size=(30, 8))
    bmat = u @ u.T
    b = rng.normal(size=30)
    hinv = np.linalg.inv(h)
    x = pcg(lambda v: bmat @ v, b, lambda r: hinv @ r, rtol=1e-12, carry_h=True)
    assert np.allclose((h + bmat) @ x, b, atol=1e-9)
    wrong = pcg(lambda v: bmat @ v, b, lambda r: hinv @ r, rtol=1e-12)  # B alone is singular: not the answer
    assert not np.allclose((h + bmat) @ wrong, b, atol=1e-3)
