"""network-newton's `hyper.support`: release rows outside the buyer's support carry no efficacy,
and the rows inside are priced exactly as a release of them alone would be."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricing import SpecError, parse_spec
from pricing.methods.network_newton import NetworkNewton
from pricing.methods.network_newton.support import Support
from pricing.price import efficacy_of
from pricing.proxies import Network
from tests.pricing.methods.network_newton.reference import small_problem, small_spec


def _standardized(net: Network, mean: np.ndarray, scale: np.ndarray) -> Network:
    return Network(["standardize", *net.kinds], [{"mean": mean, "scale": scale}, *net.params])


@settings(max_examples=50, deadline=None)
@given(seed=st.integers(0, 2**31), n=st.integers(2, 30), support=st.floats(1.0, 10.0))
def test_every_reference_row_is_inside_a_support_of_at_least_one(seed, n, support):
    rng = np.random.default_rng(seed)
    net, *_ = small_problem(seed=seed % 1000)
    ref = rng.normal(size=(n, 3)) * rng.uniform(0.1, 10.0, size=3) + rng.normal(size=3)
    net = _standardized(net, ref.mean(axis=0), rng.uniform(0.5, 2.0, size=3))
    s = Support(net, ref, support)
    assert s.inside(ref).all()
    far = ref.mean(axis=0) + 1e3 * (ref.max(axis=0) - ref.min(axis=0) + 1.0)
    assert not s.inside(far[None, :]).any()


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**31))
def test_distances_are_in_the_networks_input_units(seed):
    """Behind a standardize layer, a row's distance is that of its standardized self in a network
    without one: a column the buyer's scaler shrinks counts for less."""
    rng = np.random.default_rng(seed)
    net, x_tr, x, _ = small_problem(seed=seed % 1000)
    mean, scale = rng.normal(size=3), rng.uniform(0.1, 10.0, size=3)
    with_layer = Support(_standardized(net, mean, scale), x_tr, 1.0)
    plain = Support(net, (x_tr - mean) / scale, 1.0)
    np.testing.assert_allclose(with_layer.distance(x), plain.distance((x - mean) / scale), rtol=1e-12)
    assert with_layer.radius == pytest.approx(plain.radius, rel=1e-12)


def _spec(support: float, anchored: bool = True):
    net, x_tr, x, y = small_problem(seed=3, k=3, m=10)
    hyper = {"support": support, **({"anchor_weight": 1.0, "weight_decay": 1.0} if anchored else {})}
    tensors = {"anchor.features": x_tr} if anchored else {}
    return parse_spec(small_spec(net, x_tr, 3, hyper=hyper, tensors=tensors)), x, y


@pytest.mark.parametrize("anchored", [True, False])
def test_a_support_that_holds_every_row_prices_as_no_support(anchored):
    plain, x, y = _spec(0.0, anchored)
    wide, _, _ = _spec(1e6, anchored)
    a, b = efficacy_of(plain, x, y), efficacy_of(wide, x, y)
    assert a[0] != 0.0
    assert a[0] == b[0]
    np.testing.assert_array_equal(a[1], b[1])


@pytest.mark.parametrize("anchored", [True, False])
def test_rows_outside_the_support_are_dropped_before_the_refit(anchored):
    spec, x, y = _spec(1.5, anchored)
    far = x * 1e3
    mixed_x, mixed_y = np.concatenate([x, far]), np.concatenate([y, y])
    inside = NetworkNewton._prepared(spec)["support"].inside(mixed_x)
    assert inside[len(x):].sum() == 0 and inside[: len(x)].sum() > 0
    alone = efficacy_of(spec, mixed_x[inside], mixed_y[inside])
    total, scores, _ = efficacy_of(spec, mixed_x, mixed_y)
    assert total == alone[0] != 0.0
    assert np.all(scores[~inside] == 0.0)
    np.testing.assert_array_equal(scores[inside], alone[1])


def test_a_release_wholly_outside_the_support_is_worth_nothing():
    spec, x, y = _spec(1.0)
    total, scores, _ = efficacy_of(spec, x * 1e3, y)
    assert total == 0.0 and not scores.any()


@pytest.mark.parametrize("bad", [-1.0, -1e-9])
def test_a_negative_support_is_refused_with_its_meaning(bad):
    with pytest.raises(SpecError, match="hyper.support must be >= 0"):
        _spec(bad)
