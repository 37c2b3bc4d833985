"""Spec validation bounds what a quote can be made to do (the security review's B1 and B3).

Every iteration count and size a spec sets is bounded (a distilled spec with epochs and max_steps
of 1e12 and a batch of 1 kept the hub's pipeline busy for ever), and group-influence's eigenvectors
must be orthonormal (scaled ones made its Cholesky factorisation fail on some releases and not on
others, so whether pricing raised was a bit of the release)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import given, settings, strategies as st

from common.safetensors_bytes import write_safetensors
from pricing import HyperOutOfRange, NonOrthonormalBasis, PricingError, SpecError, parse_spec
from pricing.methods import get_method
from pricing.methods.distilled import MAX_BATCH, MAX_EPOCHS, MAX_STEPS
from pricing.methods.feature_newton import MAX_STEPS as NEWTON_STEPS
from pricing.methods.group_influence import MAX_PARAMS, ORTHONORMAL_TOL
from pricing.methods.tree import MAX_DEPTH, MAX_NODES
from pricing.spec import MANIFEST_KEY

#: (method, hyper key, lowest, highest): the integer counts a spec sets, with their bounds.
BOUNDED = [("distilled", "max_steps", 1, MAX_STEPS), ("distilled", "batch", 1, MAX_BATCH),
           ("feature-newton", "steps", 1, NEWTON_STEPS), ("network-newton", "steps", 1, 100),
           ("network-newton", "cg_iters", 1, 100)]


def _raw(manifest: dict, tensors: dict) -> bytes:
    """Bundle bytes without make_spec's validation."""
    return write_safetensors(tensors, {MANIFEST_KEY: json.dumps({"format": "spartacus-spec-v1", **manifest})})


def _with_hyper(bundle: bytes, **hyper: float) -> bytes:
    spec = parse_spec(bundle)
    return _raw({**spec.manifest, "hyper": {**spec.manifest.get("hyper", {}), **hyper}}, dict(spec.tensors))


def _outside(lo: int, hi: int) -> st.SearchStrategy:
    """Values a bounded count refuses: past either end, or a fraction inside."""
    return st.one_of(st.integers(hi + 1, 10**15), st.integers(-10**6, lo - 1),
                     st.floats(lo, hi, exclude_min=True, exclude_max=True).filter(lambda v: v != int(v)))


@settings(max_examples=60, deadline=None)
@given(case=st.sampled_from(BOUNDED), data=st.data())
def test_every_count_is_kept_within_its_bound_and_refused_past_it_naming_the_bound(digits_specs, case, data) -> None:
    method, key, lo, hi = case
    inside = data.draw(st.integers(lo, hi), label="inside")
    assert parse_spec(_with_hyper(digits_specs[method], **{key: float(inside)})).hyper[key] == inside
    outside = data.draw(_outside(lo, hi), label="outside")
    with pytest.raises(HyperOutOfRange) as err:
        parse_spec(_with_hyper(digits_specs[method], **{key: float(outside)}))
    assert f"hyper.{key}" in str(err.value) and f"[{lo}, {hi}]" in str(err.value)


@settings(max_examples=40, deadline=None)
@given(inside=st.floats(0, MAX_EPOCHS, exclude_min=True),
       outside=st.one_of(st.floats(MAX_EPOCHS, 1e300, exclude_min=True), st.floats(-1e300, 0)))
def test_distilled_epochs_are_a_positive_number_up_to_the_bound(digits_specs, inside, outside) -> None:
    assert parse_spec(_with_hyper(digits_specs["distilled"], epochs=inside)).hyper["epochs"] == inside
    with pytest.raises(HyperOutOfRange, match=f"hyper.epochs must be a number in \\(0, {MAX_EPOCHS:g}\\]"):
        parse_spec(_with_hyper(digits_specs["distilled"], epochs=outside))


def test_the_reviews_endless_distilled_spec_is_refused_at_parsing(digits_specs) -> None:
    with pytest.raises(HyperOutOfRange, match="hyper.max_steps must be an integer in \\[1, 10000\\]"):
        parse_spec(_with_hyper(digits_specs["distilled"], epochs=1e12, max_steps=1e12, batch=1.0))


def test_the_builders_specs_and_defaults_are_within_every_bound(digits_specs) -> None:
    for method, bundle in digits_specs.items():
        parse_spec(bundle)  # what build_spec makes for the benchmarks passes
    for method, key, lo, hi in BOUNDED:
        assert lo <= get_method(method).defaults[key] <= hi


def _tree(nodes: int, chain: bool) -> dict:
    """A valid tree of `nodes` (odd) nodes: a chain (each inner node's right child the next inner one,
    (nodes - 1) / 2 levels) or balanced (node i's children 2i + 1 and 2i + 2, log2 levels)."""
    if chain:
        left = [i + 1 if i % 2 == 0 and i < nodes - 1 else -1 for i in range(nodes)]
        right = [i + 2 if i % 2 == 0 and i < nodes - 1 else -1 for i in range(nodes)]
    else:
        left = [2 * i + 1 if 2 * i + 2 < nodes else -1 for i in range(nodes)]
        right = [2 * i + 2 if 2 * i + 2 < nodes else -1 for i in range(nodes)]
    return {"feature": [0] * nodes, "threshold": [0.0] * nodes, "left": left, "right": right,
            "value": [[1.0, 1.0]] * nodes}


@pytest.mark.parametrize("nodes, chain, refused", [
    (MAX_NODES - 1, False, None), (MAX_NODES + 1, False, f"node count must be at most {MAX_NODES}"),
    (2 * MAX_DEPTH + 1, True, None), (2 * MAX_DEPTH + 3, True, f"depth must be at most {MAX_DEPTH}")])
def test_a_tree_has_at_most_max_nodes_and_max_depth(nodes, chain, refused) -> None:
    manifest = {"method": "tree", "proxy": {"layers": []}, "tree": _tree(nodes, chain),
                "schema": {"features": [{"name": "x0"}], "label": {"name": "y", "kind": "categorical", "classes": 2}}}
    if refused is None:
        parse_spec(_raw(manifest, {}))
    else:
        with pytest.raises(HyperOutOfRange, match=refused):
            parse_spec(_raw(manifest, {}))


def _group_spec(v: np.ndarray, lam: np.ndarray, residual: float, d: int, classes: int) -> bytes:
    """A group-influence spec with no hidden layers: p = k (d + 1) head parameters."""
    k = classes or 1
    label = {"name": "y", "kind": "categorical", "classes": classes} if classes else {"name": "y", "kind": "continuous"}
    manifest = {"method": "group-influence", "proxy": {"layers": []}, "hyper": {"n_train": 50.0, "residual": residual},
                "schema": {"features": [{"name": f"x{i}"} for i in range(d)], "label": label}}
    p = k * (d + 1)
    rng = np.random.default_rng(p)
    return _raw(manifest, {"head.weight": rng.normal(size=(k, d + 1)), "group.grad_val": rng.normal(size=p),
                           "group.eigvals": lam, "group.eigvecs": v})


_problems = dict(d=st.integers(1, 6), classes=st.sampled_from([0, 2, 3]), seed=st.integers(0, 2**32 - 1),
                 rank_share=st.floats(0.01, 1.0), log_residual=st.floats(-6, 6))


@settings(max_examples=60, deadline=None)
@given(**_problems, log_eig=st.floats(-6, 6), rows=st.integers(1, 40), scale=st.floats(1e-3, 1e3))
def test_an_accepted_group_influence_spec_prices_every_release(d, classes, seed, rank_share, log_residual, log_eig,
                                                               rows, scale) -> None:
    """The invariant the orthonormality check buys: with orthonormal V, positive eigenvalues and a positive
    residual, pricing a release never raises, whatever the release (so it discloses nothing by failing)."""
    k = classes or 1
    p = k * (d + 1)
    rng = np.random.default_rng(seed)
    rank = max(1, int(rank_share * p))
    v = np.linalg.qr(rng.normal(size=(p, p)))[0][:, :rank]
    lam = 10.0 ** rng.uniform(log_eig - 1, log_eig + 1, size=rank)
    spec = parse_spec(_group_spec(v, lam, 10.0**log_residual, d, classes))
    x = rng.normal(size=(rows, d)) * scale
    y = rng.integers(0, classes, size=rows) if classes else rng.normal(size=rows) * scale
    eff = get_method("group-influence").efficacy(spec, x, y)
    assert np.isfinite(eff.total) and np.isfinite(eff.scores).all()


@settings(max_examples=60, deadline=None)
@given(**_problems, stretch=st.one_of(st.floats(1.001, 1e6), st.floats(1e-6, 0.999)))
def test_group_influence_refuses_eigenvectors_that_are_not_orthonormal(d, classes, seed, rank_share, log_residual,
                                                                      stretch) -> None:
    k = classes or 1
    p = k * (d + 1)
    rng = np.random.default_rng(seed)
    rank = max(1, int(rank_share * p))
    v = np.linalg.qr(rng.normal(size=(p, p)))[0][:, :rank]
    v[:, rng.integers(rank)] *= stretch  # one column off unit length: V'V - I is stretch^2 - 1 there
    with pytest.raises(NonOrthonormalBasis) as err:
        parse_spec(_group_spec(v, np.ones(rank), 10.0**log_residual, d, classes))
    assert isinstance(err.value, SpecError) and isinstance(err.value, PricingError)
    assert "orthonormal" in str(err.value) and "numpy.linalg.eigh" in str(err.value)
    assert err.value.gram_err > ORTHONORMAL_TOL


def test_group_influence_refuses_more_eigenvectors_than_parameters() -> None:
    with pytest.raises(NonOrthonormalBasis, match="group.eigvecs"):
        parse_spec(_group_spec(np.eye(4, 5), np.ones(5), 1.0, 3, 0))


@pytest.mark.parametrize("d, ok", [(MAX_PARAMS - 1, True), (MAX_PARAMS, False)])
def test_group_influence_heads_have_at_most_max_params(d, ok) -> None:
    """p = d + 1 for a regression head on d raw features: pricing factorises a p x p matrix."""
    v = np.zeros((d + 1, 1))
    v[0, 0] = 1.0
    bundle = _group_spec(v, np.ones(1), 1.0, d, 0)
    if ok:
        parse_spec(bundle)
    else:
        with pytest.raises(HyperOutOfRange, match=f"at most {MAX_PARAMS}"):
            parse_spec(bundle)
