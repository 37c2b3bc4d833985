"""SparseRows stands in for the dense standardised input: the same products, slices and
values, and the refit that reads it is the dense refit (to rounding)."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricing.builders.curvature import network_curvature
from pricing.methods import network_newton as nn
from pricing.methods.network_newton import calculus as nc
from pricing.methods.network_newton import compiled
from pricing.methods.network_newton.sparse_rows import DENSITY, SparseRows
from pricing.proxies import Network


def _rows(rng, m, d, density):
    x = rng.normal(size=(m, d)) * (rng.random((m, d)) < density)
    return x, rng.normal(size=d), rng.uniform(0.2, 3.0, size=d)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**31), m=st.integers(1, 40), d=st.integers(1, 30), k=st.integers(1, 9),
       density=st.floats(0.0, 1.0), cut=st.integers(0, 40))
def test_products_and_slices_match_the_dense_rows(seed, m, d, k, density, cut):
    rng = np.random.default_rng(seed)
    x, mean, scale = _rows(rng, m, d, density)
    h = (x - mean) / scale
    s = SparseRows.standardized(x, mean, scale)
    assert s.shape == h.shape and np.allclose(s.dense(), h, rtol=1e-14, atol=1e-14)
    b, g = rng.normal(size=(d, k)), rng.normal(size=(m, k))
    tol = 1e-12 * (1 + np.abs(h).max()) * d
    assert np.allclose(s @ b, h @ b, rtol=0, atol=tol)
    assert np.allclose(s @ np.asfortranarray(b), h @ b, rtol=0, atol=tol)  # any layout of B
    assert np.allclose(g.T @ s, g.T @ h, rtol=0, atol=1e-12 * (1 + np.abs(h).max()) * m)
    c = min(cut, m)
    assert np.allclose(s[:c].dense(), h[:c], rtol=1e-14, atol=1e-14) and s[:c].shape == (c, d)


def test_only_leading_row_slices_are_supported():
    s = SparseRows.standardized(np.eye(3), np.zeros(3), np.ones(3))
    with pytest.raises(TypeError, match="leading-row"):
        s[1:]


def test_worthwhile_only_below_the_density():
    x = np.zeros((10, 10))
    x.flat[:int(DENSITY * 100)] = 1.0
    assert SparseRows.worthwhile(x)
    x.flat[int(DENSITY * 100)] = 1.0
    assert not SparseRows.worthwhile(x)
    assert not SparseRows.worthwhile(np.zeros((0, 4)))


def test_refit_on_sparse_one_hot_rows_is_the_dense_refit(monkeypatch):
    """One-hot inputs behind a scaler (Adult's shape): the refit takes the sparse path, and
    forcing the dense one changes its result by rounding only, with and without an anchor."""
    rng = np.random.default_rng(5)
    d, hidden, n = 24, 6, 80

    def one_hot(rows):
        x = np.zeros((rows, d))
        x[np.arange(rows), rng.integers(0, d, size=rows)] = 1.0
        return x

    x_tr, x, y = one_hot(n), one_hot(30), rng.integers(0, 2, size=30)
    net = Network(["standardize", "linear", "relu", "linear"],
                  [{"mean": x_tr.mean(axis=0), "scale": x_tr.std(axis=0) + 0.1},
                   {"weight": rng.normal(size=(hidden, d)) * 0.5, "bias": rng.normal(size=hidden) * 0.1}, {},
                   {"weight": rng.normal(size=(1, hidden)), "bias": np.zeros(1)}])
    t = network_curvature(net, x_tr, weight_decay=1.0, rank=5)
    curv = nn.Curvature(t["curvature.eigvecs"], t["curvature.eigvals"], t["curvature.diag"])
    theta0 = nc.flat(net)
    anchor = nn.Anchor(net, x_tr, weight=1.0, weight_decay=1.0)
    seen = []

    def spying(real):
        def spy(*args):
            src = real(*args)
            seen.append(src[0])  # the refit's rows, whole-array or streamed: sparse or dense
            return src
        return spy

    def spy_on_rows():  # a small refit runs the whole-array kernel, a large one streams
        monkeypatch.setattr(compiled, "_row_source", spying(compiled._row_source))
        monkeypatch.setattr(compiled, "_row_operands", spying(compiled._row_operands))

    spy_on_rows()
    for a in (None, anchor):
        sparse = nn.network_refit(net, x, y, theta0, curv, 3, cg_iters=8, cg_tol=1e-10, anchor=a)
        monkeypatch.setattr(SparseRows, "worthwhile", staticmethod(lambda *raw: False))
        dense = nn.network_refit(net, x, y, theta0, curv, 3, cg_iters=8, cg_tol=1e-10, anchor=a)
        monkeypatch.undo()
        spy_on_rows()
        assert np.abs(sparse - theta0).max() > 1e-3  # the bundle moves the network
        assert np.abs(sparse - dense).max() < 1e-9
    assert seen == [True, False, True, False]
