"""Shared fixtures for the pricing tests: small real data, hand-made specs, a release writer."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.datasets import load_digits

from pricing import make_spec, write_release
from pricing.numerics import linear_head


def _schema(d: int, classes: int) -> dict:
    label = {"name": "y", "kind": "categorical", "classes": classes} if classes else {"name": "y", "kind": "continuous"}
    return {"features": [{"name": f"x{i}"} for i in range(d)], "label": label}


@pytest.fixture(scope="session")
def schema():
    """schema(d, classes) -> the release/spec schema dict."""
    return _schema


@pytest.fixture(scope="session")
def ridge_problem():
    """A linear-regression buyer: train, validation and candidate records (small, seeded)."""
    rng = np.random.default_rng(7)
    d, n = 3, 40
    beta = np.array([1.0, -2.0, 0.5])
    x = rng.normal(size=(n + 30 + 10, d))
    y = x @ beta + 0.3 * rng.normal(size=x.shape[0])
    return {"x_train": x[:n], "y_train": y[:n], "x_val": x[n:n + 30], "y_val": y[n:n + 30],
            "x_new": x[n + 30:], "y_new": y[n + 30:], "l2": 0.1, "d": d}


@pytest.fixture(scope="session")
def ridge_fit():
    """theta(x, y, weights, l2) minimising (1/n) sum w_i l_i + l2/2 |theta|^2, n = len(train)."""
    def fit(phi, y, weights, l2, n):
        a = (phi * weights[:, None]).T @ phi / n + l2 * np.eye(phi.shape[1])
        return np.linalg.solve(a, (phi * weights[:, None]).T @ y / n)
    return fit


@pytest.fixture(scope="session")
def ridge_spec(ridge_problem, schema):
    """spec_bytes(method, **hyper) for the ridge buyer with no hidden layers (phi = [x, 1])."""
    p = ridge_problem

    def make(method: str, **hyper) -> bytes:
        phi = linear_head.add_bias(p["x_train"])
        n = phi.shape[0]
        w = linear_head.fit_head(phi, p["y_train"], classes=0, l2=p["l2"])
        hess = phi.T @ phi / n + p["l2"] * np.eye(phi.shape[1])
        phi_val = linear_head.add_bias(p["x_val"])
        g_val = linear_head.grad_sum(phi_val, p["y_val"], w, False) / phi_val.shape[0]
        tensors = {"head.weight": w}
        h = {"n_train": float(n)}
        if method == "influence":
            tensors["influence.ihvp"] = np.linalg.solve(hess, g_val)
        elif method == "group-influence":
            lam, vec = np.linalg.eigh(hess)
            tensors.update({"group.eigvals": lam, "group.eigvecs": vec, "group.grad_val": g_val})
            h["residual"] = 1.0
        elif method == "feature-newton":
            tensors.update({"newton.hessian": hess, "probe.features": p["x_val"], "probe.label": p["y_val"]})
            if hyper.get("refit_scaler"):
                tensors["scaler.var"] = p["x_train"].var(axis=0)
        h.update(hyper)
        manifest = {"method": method, "schema": _schema(p["d"], 0), "proxy": {"layers": []}, "hyper": h}
        return make_spec(manifest, tensors)

    return make


@pytest.fixture(scope="session")
def digits_small():
    """Three real digit classes (0, 1, 7), standardised: train, validation, pool."""
    x, y = load_digits(return_X_y=True)
    keep = np.isin(y, [0, 1, 7])
    x, y = x[keep], np.searchsorted([0, 1, 7], y[keep])
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(x))
    x = (x - x.mean(axis=0)) / (x.std(axis=0) + 1e-9)
    return {"x": x, "y": y, "train": idx[:120], "val": idx[120:240], "pool": idx[240:]}


@pytest.fixture(scope="session")
def digits_model(digits_small):
    """A small sklearn MLP buyer model trained on the digits training split."""
    from sklearn.neural_network import MLPClassifier
    import warnings

    ds = digits_small
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return MLPClassifier((16,), max_iter=200, random_state=0).fit(ds["x"][ds["train"]], ds["y"][ds["train"]])


@pytest.fixture(scope="session")
def digits_specs(digits_small, digits_model):
    """One spec per method, built by the buyer-side builder from the MLP and digits data."""
    from pricing.builders import build_spec

    ds = digits_small
    tr, va = ds["train"], ds["val"]
    specs = {m: build_spec(m, digits_model, ds["x"][tr], ds["y"][tr], ds["x"][va], ds["y"][va], classes=3, l2=1e-2,
                           tree_samples=300, student_epochs=100, rank=16)
             for m in ("influence", "group-influence", "feature-newton", "tree", "distilled", "network-newton")}
    # network-newton with the buyer's training inputs shipped as its anchor (priced as "network-newton")
    specs["network-anchored"] = build_spec("network-newton", digits_model, ds["x"][tr], ds["y"][tr], ds["x"][va],
                                           ds["y"][va], classes=3, l2=1e-2, rank=16, anchor=ds["x"][tr])
    return specs


@pytest.fixture(scope="session")
def release_of(schema):
    """release_bytes(x, y, classes) in spartacus-release-v1."""
    def make(x, y, classes):
        return write_release(np.asarray(x, np.float64), np.asarray(y, np.int64 if classes else np.float64),
                             schema(x.shape[1], classes))
    return make


def terms_for(method: str, curve: dict | None = None, max_price: str = "1000000") -> dict:
    return {"pricing": {"method": method, "curve": curve or {"kind": "linear", "slope": "100000000"}},
            "maxPrice": max_price}


@pytest.fixture(scope="session")
def terms():
    """terms(method, curve=None, max_price="1000000") -> a terms mapping with the pricing section."""
    return terms_for


@pytest.fixture(scope="session")
def clean_vs_flipped(digits_small, digits_specs):
    """clean_vs_flipped(method, n) -> (efficacy of n clean pool records, of the same with every label shifted)."""
    from pricing.methods import get_method
    from pricing.spec import parse_spec

    def totals(method: str, n: int) -> tuple[float, float]:
        ds = digits_small
        spec = parse_spec(digits_specs[method])
        pool = ds["pool"][:n]
        m = get_method(method)
        clean = m.efficacy(spec, ds["x"][pool], ds["y"][pool]).total
        flipped = m.efficacy(spec, ds["x"][pool], (ds["y"][pool] + 1) % 3).total
        return clean, flipped

    return totals


@pytest.fixture(scope="session")
def fit_pipeline(digits_small):
    """A buyer's scaler + one-hidden-layer MLP pipeline fitted on the small digits' training
    rows (convergence warnings silenced): the model the scaler-refit tests build specs from."""
    import warnings

    from sklearn.neural_network import MLPClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    def fit(hidden: int, **mlp):
        ds = digits_small
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = make_pipeline(StandardScaler(), MLPClassifier((hidden,), random_state=0, **mlp))
            return model.fit(ds["x"][ds["train"]], ds["y"][ds["train"]])

    return fit
