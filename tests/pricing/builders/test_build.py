"""Buyer-side builders: layers read faithfully from torch and sklearn, IHVP solvers agree."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from pricing import SpecError, UnknownLayer, parse_spec
from pricing.builders import Solver, build_spec, ihvp_cg, ihvp_lissa
from pricing.proxies import Network


def test_builder_reads_sklearn_mlp_hidden_layer(digits_small, digits_model, digits_specs):
    ds = digits_small
    spec = parse_spec(digits_specs["feature-newton"])
    phi = Network.from_spec(spec.layers, spec.tensors, "proxy").forward(ds["x"][:10])
    m = digits_model
    expected = np.maximum(ds["x"][:10] @ m.coefs_[0] + m.intercepts_[0], 0)
    assert np.allclose(phi, expected)


def test_builder_reads_torch_sequential(digits_small):
    ds = digits_small
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(64, 8), torch.nn.Tanh(), torch.nn.Linear(8, 3)).double()
    tr, va = ds["train"], ds["val"]
    spec = parse_spec(build_spec("influence", model, ds["x"][tr], ds["y"][tr], ds["x"][va], ds["y"][va], classes=3))
    phi = Network.from_spec(spec.layers, spec.tensors, "proxy").forward(ds["x"][:5])
    with torch.no_grad():
        expected = model[:2](torch.as_tensor(ds["x"][:5])).numpy()
    assert np.allclose(phi, expected)
    assert [layer["type"] for layer in spec.layers] == ["linear", "tanh"]


def test_builder_rejects_a_torch_layer_outside_the_allow_list(digits_small):
    ds = digits_small
    model = torch.nn.Sequential(torch.nn.Linear(64, 8), torch.nn.GELU(), torch.nn.Linear(8, 3))
    with pytest.raises(UnknownLayer, match="GELU"):
        build_spec("influence", model, ds["x"][:50], ds["y"][:50], ds["x"][50:90], ds["y"][50:90], classes=3)


def test_cg_and_lissa_match_the_exact_inverse_hessian_vector_product():
    rng = np.random.default_rng(1)
    a = rng.normal(size=(12, 12))
    h = a @ a.T / 12 + 0.5 * np.eye(12)
    v = rng.normal(size=12)
    exact = np.linalg.solve(h, v)
    assert np.allclose(ihvp_cg(lambda u: h @ u, v), exact, atol=1e-8)
    top = float(np.linalg.eigvalsh(h)[-1])
    assert np.allclose(ihvp_lissa(lambda u: h @ u, v, scale=1.1 * top, depth=3000), exact, atol=1e-6)


def test_builder_influence_solvers_give_the_same_spec_within_tolerance(digits_small, digits_model):
    ds = digits_small
    tr, va = ds["train"], ds["val"]
    args = ("influence", digits_model, ds["x"][tr], ds["y"][tr], ds["x"][va], ds["y"][va])
    exact = parse_spec(build_spec(*args, classes=3)).tensors["influence.ihvp"]
    cg = parse_spec(build_spec(*args, classes=3, solver="cg")).tensors["influence.ihvp"]
    assert np.allclose(cg, exact, rtol=1e-5, atol=1e-8)
    assert not np.array_equal(cg, exact)  # another solver, not the default again
    assert build_spec(*args, classes=3, solver=Solver.CG) == build_spec(*args, classes=3, solver="cg")
    with pytest.raises(SpecError, match="solver 'newton' is not one of exact, cg, lissa"):
        build_spec(*args, classes=3, solver="newton")


def test_default_head_l2_is_the_models_own_weight_decay(digits_small):
    """With L2 = alpha / n the refitted head is the MLP's own output layer (the optimum of the
    same objective on the same features), which is what influence-style methods assume."""
    import warnings

    from sklearn.neural_network import MLPClassifier

    from pricing.numerics import linear_head
    from pricing.builders.extract import head_l2

    ds = digits_small
    tr, va = ds["train"], ds["val"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MLPClassifier((8,), alpha=1.0, solver="lbfgs", tol=1e-10, max_iter=5000, random_state=0)
        model.fit(ds["x"][tr], ds["y"][tr])
    assert head_l2(model, len(tr)) == pytest.approx(1.0 / len(tr))
    assert head_l2(torch.nn.Sequential(torch.nn.Linear(2, 2)), len(tr)) == 1e-2

    def gap(**kw):
        spec = parse_spec(build_spec("feature-newton", model, ds["x"][tr], ds["y"][tr], ds["x"][va], ds["y"][va],
                                     classes=3, **kw))
        phi = linear_head.add_bias(Network.from_spec(spec.layers, spec.tensors, "proxy").forward(ds["x"][va]))
        return float(np.abs(linear_head.softmax(phi @ spec.tensors["head.weight"].T) - model.predict_proba(ds["x"][va])).max())

    assert gap() < 0.02  # the model's own objective: the head is its output layer
    assert gap(l2=1e-4) > 2 * gap()  # another L2 gives another head


def test_builder_refuses_an_unknown_copies_rule_before_building(digits_small, digits_model, monkeypatch):
    from pricing import SpecError
    from pricing.builders import build as build_module

    ds = digits_small
    tr, va = ds["train"], ds["val"]

    def curvature_must_not_run(*args, **kwargs):
        raise AssertionError("the curvature was computed for a spec that is refused")

    monkeypatch.setattr(build_module, "network_curvature", curvature_must_not_run)
    with pytest.raises(SpecError, match="dedup.copies 'keep' is not one of"):
        build_spec("network-newton", digits_model, ds["x"][tr], ds["y"][tr], ds["x"][va], ds["y"][va], classes=3,
                   copies="keep")
    spec = parse_spec(build_spec("influence", digits_model, ds["x"][tr], ds["y"][tr], ds["x"][va], ds["y"][va],
                                 classes=3, copies="drop"))
    assert spec.copies == "drop" and spec.manifest["dedup"] == {"tol": 0.0, "copies": "drop"}
