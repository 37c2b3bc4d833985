"""Preconditioned CG: exact on small systems, and with reorthogonalisation stable under rounding."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricing.numerics.cg import pcg


def _spd(rng: np.random.Generator, n: int, cond: float) -> np.ndarray:
    q = np.linalg.qr(rng.normal(size=(n, n)))[0]
    return q @ np.diag(np.geomspace(1.0, cond, n)) @ q.T


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(2, 12), reorth=st.booleans())
def test_pcg_solves_a_small_spd_system_in_n_iterations(seed, n, reorth):
    rng = np.random.default_rng(seed)
    a = _spd(rng, n, 100.0)
    b = rng.normal(size=n)
    m = np.diag(1.0 / np.diag(a))
    x = pcg(lambda v: a @ v, b, lambda r: m @ r, rtol=1e-12, max_iter=4 * n, reorth=reorth)
    assert np.linalg.norm(a @ x - b) <= 1e-8 * np.linalg.norm(b)


def test_reorthogonalised_iterates_do_not_amplify_a_rounding_change():
    """On an ill-conditioned system plain CG loses the residuals' orthogonality, and a 1e-15
    change of the right-hand side grows over its iterations; with reorth it stays small."""
    rng = np.random.default_rng(0)
    n = 400
    a = _spd(rng, n, 1e9)
    b = rng.normal(size=n)
    b2 = b * (1 + 1e-15 * rng.choice([-1.0, 1.0], size=n))
    solve = lambda rhs: pcg(lambda v: a @ v, rhs, lambda r: r, rtol=0.0, max_iter=40, reorth=True)
    x, x2 = solve(b), solve(b2)
    assert np.linalg.norm(x - x2) <= 1e-11 * np.linalg.norm(x)
    # it is the iterate of exact arithmetic: the Galerkin solution on the Krylov space
    # K_40(A, b), from a twice-orthogonalised basis; CG minimises the A-norm of the error
    # (not the residual's norm, which plain CG's lost conjugacy can leave lower or higher)
    q = np.zeros((n, 40))
    v = b / np.linalg.norm(b)
    for k in range(40):
        q[:, k] = v
        w = a @ v
        for _ in range(2):
            w -= q[:, :k + 1] @ (q[:, :k + 1].T @ w)
        v = w / np.linalg.norm(w)
    galerkin = q @ np.linalg.solve(q.T @ a @ q, q.T @ b)
    assert np.linalg.norm(x - galerkin) <= 1e-9 * np.linalg.norm(galerkin)
    exact = np.linalg.solve(a, b)
    a_err = lambda z: float(np.sqrt((z - exact) @ a @ (z - exact)))
    plain = pcg(lambda v: a @ v, b, lambda r: r, rtol=0.0, max_iter=40)
    assert a_err(x) <= a_err(plain) * (1 + 1e-9)


def test_reorth_needs_a_bound_on_the_iterations():
    with pytest.raises(ValueError, match="max_iter"):
        pcg(lambda v: v, np.ones(3), lambda r: r, reorth=True)


@settings(max_examples=20, deadline=None)
@given(seed=st.integers(0, 2**31), iters=st.integers(1, 8), reorth=st.booleans(), carry_h=st.booleans())
def test_pcg_applies_the_preconditioner_once_per_direction_it_takes(seed, iters, reorth, carry_h):
    """k iterations take k directions, so M is applied k times: never to the last residual,
    whose direction no iteration would take (the costliest product of a Newton refit)."""
    rng = np.random.default_rng(seed)
    n = 30
    a = _spd(rng, n, 1e4)
    m = np.diag(1.0 / np.diag(a))
    b = rng.normal(size=n)
    calls = []

    def precond(r):
        calls.append(1)
        return m @ r

    # with carry_h, matvec applies A - M^-1 alone
    matvec = (lambda v: a @ v - np.linalg.solve(m, v)) if carry_h else (lambda v: a @ v)
    x = pcg(matvec, b, precond, rtol=0.0, max_iter=iters, reorth=reorth, carry_h=carry_h)
    assert len(calls) == iters
    # and x is still the k-th iterate: the A-norm of its error falls with k (CG's optimality)
    if iters > 1:
        exact = np.linalg.solve(a, b)
        x_prev = pcg(matvec, b, lambda r: m @ r, rtol=0.0, max_iter=iters - 1, reorth=reorth, carry_h=carry_h)
        a_err = lambda z: float((z - exact) @ a @ (z - exact))
        assert a_err(x) < a_err(x_prev)


def test_pcg_on_a_zero_right_hand_side_applies_nothing():
    calls = []
    x = pcg(lambda v: v, np.zeros(4), lambda r: calls.append(1) or r, rtol=1e-3, max_iter=5, reorth=True)
    assert not calls and not x.any()


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
