"""The compiled passes over V agree with the same sums in numpy, on every shape a curvature
can have: one basis vector, row counts on both sides of a block, and skipped rows."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricing.methods.network_newton import lowrank as lr


def test_kernels_are_compiled():
    if not lr.COMPILED:
        pytest.fail("numba is a declared dependency and the curvature products need it: reinstall with `make distclean test`")


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(1, 3 * lr._BLOCK + 7), r=st.integers(1, 9), skipped=st.integers(0, 40))
def test_compiled_passes_match_numpy(seed, n, r, skipped):
    rng = np.random.default_rng(seed)
    size = n + skipped
    idx = np.sort(rng.permutation(size)[:n]).astype(np.int64)
    v = rng.normal(size=(n, r))
    vt = np.ascontiguousarray(v.T)
    w = rng.uniform(0.1, 3.0, size=n)
    x = rng.normal(size=size)
    a, b = rng.normal(size=r), rng.normal(size=r)
    c, e = lr.project_pair(v, x, w, idx)
    c_ref, e_ref = lr._project_pair_py(v, x, w, idx)
    scale = np.abs(v).sum(axis=0) * np.abs(x).max()
    assert np.all(np.abs(c - c_ref) <= 1e-13 * scale) and np.all(np.abs(e - e_ref) <= 3e-13 * scale)
    base = rng.normal(size=size)
    out = lr.expand_pair_into(base.copy(), vt, a, b, w, idx)
    ref = base.copy()
    lr._expand_pair_into_py(ref, vt, a, b, w, idx)
    assert np.allclose(out, ref, rtol=1e-12, atol=1e-12 * r * (np.abs(a).max() + 3 * np.abs(b).max()))
    untouched = np.setdiff1d(np.arange(size), idx)
    assert np.array_equal(out[untouched], base[untouched])  # skipped rows keep what they held


def test_compiled_expansion_sums_each_row_in_basis_order():
    """The sum over basis vectors runs k = 0, 1, ... for every row, whatever its block: the
    result is the left-to-right float sum, the same on any machine and thread count."""
    rng = np.random.default_rng(3)
    n, r = lr._BLOCK + 5, 6
    vt = rng.normal(size=(r, n)) * np.logspace(0, 12, r)[:, None]
    a, zero = rng.normal(size=r), np.zeros(r)
    out = lr.expand_pair_into(np.zeros(n), vt, a, zero, np.ones(n), np.arange(n, dtype=np.int64))
    want = np.zeros(n)
    for k in range(r):
        want = want + vt[k] * a[k]
    assert np.array_equal(out, want)
