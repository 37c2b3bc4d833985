"""Feature-Newton: exact on ridge, damped on logistic heads, saturating on copies."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricing import PricingError, SpecError, parse_spec
from pricing.methods import get_method
from pricing.methods.feature_newton import SOLVER_CODES, newton_refit, solver_code, solver_of
from pricing.numerics import linear_head
from pricing.numerics.solver import Solver


def test_feature_newton_equals_exact_retraining_for_ridge(ridge_problem, ridge_spec, ridge_fit):
    """The training loss is quadratic, so the surrogate is exact and Newton converges in one step."""
    p = ridge_problem
    spec = parse_spec(ridge_spec("feature-newton"))
    eff = get_method("feature-newton").efficacy(spec, p["x_new"], p["y_new"])
    n = p["x_train"].shape[0]
    base = ridge_fit(linear_head.add_bias(p["x_train"]), p["y_train"], np.ones(n), p["l2"], n)
    phi = linear_head.add_bias(np.concatenate([p["x_train"], p["x_new"]]))
    theta = ridge_fit(phi, np.r_[p["y_train"], p["y_new"]], np.ones(phi.shape[0]), p["l2"], n)
    loss = lambda t: float(np.mean(0.5 * (linear_head.add_bias(p["x_val"]) @ t - p["y_val"]) ** 2))
    assert np.isclose(eff.total, loss(base) - loss(theta), rtol=1e-8)


@pytest.mark.parametrize("frozen", [False, True])
def test_damped_newton_never_increases_the_objective(frozen):
    rng = np.random.default_rng(3)
    phi = linear_head.add_bias(rng.normal(size=(30, 4)) * 5)
    y = rng.integers(0, 3, size=30)  # pure noise labels: an undamped step overshoots
    w0 = rng.normal(size=(3, 5)) * 0.1
    h = np.eye(15) * 1e-3
    def obj(w):
        d = (w - w0).ravel()
        return 0.5 * d @ h @ d + linear_head.losses(phi, y, w, True).sum() / 100
    values = [obj(newton_refit(phi, y, w0, h, 100.0, True, s, frozen=frozen)) for s in range(5)]
    assert values[-1] < values[0]
    assert all(b <= a + 1e-12 for a, b in zip(values, values[1:]))


def test_feature_newton_ranks_clean_above_flipped_digits(clean_vs_flipped):
    clean, flipped = clean_vs_flipped("feature-newton", 60)
    assert clean > 0 > flipped


def test_feature_newton_refit_scaler_needs_a_standardize_layer(ridge_spec):
    from pricing import SpecError

    with pytest.raises(SpecError, match="refit_scaler.*standardize"):
        ridge_spec("feature-newton", refit_scaler=1.0)


def test_feature_newton_refit_scaler_prices_down_rows_that_wreck_the_scaler(digits_small, fit_pipeline):
    """A pipeline buyer refits its scaler on merged data: rows 50x off scale must cost."""
    from pricing.builders import build_spec

    ds = digits_small
    tr, va, pool = ds["train"], ds["val"], ds["pool"][:40]
    model = fit_pipeline(16, max_iter=200)
    args = ("feature-newton", model, ds["x"][tr], ds["y"][tr], ds["x"][va], ds["y"][va])
    plain = parse_spec(build_spec(*args, classes=3))
    refit = parse_spec(build_spec(*args, classes=3, hyper={"refit_scaler": 1.0}))
    m = get_method("feature-newton")
    x, y = ds["x"][pool], ds["y"][pool]
    assert np.isclose(m.efficacy(refit, x, y).total, m.efficacy(plain, x, y).total, rtol=0.5)
    assert m.efficacy(refit, 50 * x, y).total < min(0.0, m.efficacy(plain, 50 * x, y).total)



@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), n=st.integers(2, 40), m=st.integers(1, 40), constant=st.integers(0, 3))
def test_pooled_moments_are_the_scaler_a_pipeline_refits_on_merged_rows(seed, n, m, constant):
    """The hub's pooled mean and scale equal scikit-learn's StandardScaler refitted on the
    training rows plus the bundle, columns the training set holds constant included (their
    shipped scale is 1, their variance 0: using scale**2 as the variance was the old bug)."""
    from sklearn.preprocessing import StandardScaler

    from pricing.proxies import pooled_moments

    rng = np.random.default_rng(seed)
    train = rng.normal(size=(n, 5)) * rng.uniform(0.1, 10, size=5)
    train[:, :constant] = 0.0  # constant columns: StandardScaler ships scale 1
    bundle = rng.normal(size=(m, 5))
    bundle[: m // 2, :1] = 0.0
    first = StandardScaler().fit(train)
    mu, sd = pooled_moments(first.mean_, train.var(axis=0), first.scale_, float(n), bundle)
    refit = StandardScaler().fit(np.concatenate([train, bundle]))
    assert np.allclose(mu, refit.mean_, rtol=1e-9, atol=1e-12)
    assert np.allclose(sd, refit.scale_, rtol=1e-7, atol=1e-12)


def test_default_tolerance_leaves_no_trace_of_where_cg_stopped(digits_small, digits_specs):
    """A residual stop makes the efficacy jump when a rounding difference moves a solve across
    the threshold by one iteration (at cg_tol 1e-4 the benchmark saw a sold bundle move 3.5e-5
    relative). At the default the stopping point must not show: the efficacy equals a solve
    to 1e-12 within 1e-6 relative, the replay tolerance docs/protocol-notes.md promises."""
    from dataclasses import replace

    ds = digits_small
    spec = parse_spec(digits_specs["feature-newton"])
    tight = replace(spec, hyper={**spec.hyper, "cg_tol": 1e-12}, cache={})
    method = get_method("feature-newton")
    worst = 0.0
    for n in (10, 30, 80):
        pool = ds["pool"][:n]
        for y in (ds["y"][pool], (ds["y"][pool] + 1) % 3):
            a = method.efficacy(spec, ds["x"][pool], y).total
            b = method.efficacy(tight, ds["x"][pool], y).total
            worst = max(worst, abs(a - b) / abs(b))
    assert worst < 1e-6


def test_newton_cg_matches_cholesky_newton():
    rng = np.random.default_rng(1)
    phi = linear_head.add_bias(rng.normal(size=(50, 6)))
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

    ds = digits_small
    pool = ds["pool"][:60]
    m = get_method("feature-newton")
    spec_cg = parse_spec(digits_specs["feature-newton"])
    spec_ch = parse_spec(digits_specs["feature-newton"])
    assert solver_of(spec_cg.hyper["solver"]) is Solver.CG  # the default
    spec_ch.hyper["solver"] = solver_code(Solver.EXACT)
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
        s = np.linalg.solve(h + linear_head.hessian_sum(phi, w, True) / n,
                            linear_head.grad_sum(probe, py, w, True) / len(py))
        ref = linear_head.record_grads(phi, y, w, True) @ s / n
        assert np.allclose(a.scores, ref, rtol=1e-3, atol=1e-4 * np.abs(ref).max())


@pytest.mark.parametrize("hyper", [{"solver": 2.0}, {"cg_tol": 0.0}, {"cg_tol": 1.5}, {"frozen_hessian": 1.0}])
def test_feature_newton_rejects_bad_solver_settings(ridge_spec, hyper):
    with pytest.raises(SpecError, match="solver|cg_tol"):
        ridge_spec("feature-newton", **hyper)


def test_feature_newton_chord_steps_still_parse_with_the_cholesky_solver(ridge_spec):
    assert parse_spec(ridge_spec("feature-newton", frozen_hessian=1.0, solver=0.0)).hyper["frozen_hessian"] == 1.0


def test_feature_newton_cg_rejects_a_hessian_that_is_not_positive_definite(digits_small, digits_specs):
    ds = digits_small
    spec = parse_spec(digits_specs["feature-newton"])
    spec.tensors["newton.hessian"] = -np.eye(spec.tensors["newton.hessian"].shape[0])
    with pytest.raises(PricingError, match="positive definite"):
        get_method("feature-newton").efficacy(spec, ds["x"][ds["pool"][:5]], ds["y"][ds["pool"][:5]])


@pytest.mark.parametrize("code,solver", sorted(SOLVER_CODES.items()))
def test_solver_codes_read_as_the_solver_they_name_and_back(code, solver):
    assert solver_of(code) is solver and solver_of(int(code)) is solver
    assert solver_code(solver) == code and solver_code(solver.value) == code and solver_code(code) == code


@pytest.mark.parametrize("bad", [2.0, -1, 0.5, "lissa", "chol", None])
def test_solver_of_names_the_bad_value_and_the_choices(bad):
    with pytest.raises(SpecError, match=r"hyper\.solver.*(0|exact)"):
        solver_of(bad)


def test_builder_writes_a_named_solver_as_the_number_the_spec_stores(digits_small, digits_model):
    """hyper={"solver": Solver.EXACT} and {"solver": 0.0} build the same bytes (so the same
    specHash): the enum is read at build and parse time, never written."""
    from pricing.builders import build_spec

    ds = digits_small
    tr, va = ds["train"], ds["val"]
    args = ("feature-newton", digits_model, ds["x"][tr], ds["y"][tr], ds["x"][va], ds["y"][va])
    named = {s: build_spec(*args, classes=3, hyper={"solver": s}) for s in (Solver.EXACT, "exact", 0.0)}
    assert len(set(named.values())) == 1
    spec = parse_spec(named[0.0])
    assert spec.hyper["solver"] == 0.0 and solver_of(spec.hyper["solver"]) is Solver.EXACT
    default = parse_spec(build_spec(*args, classes=3))
    assert "solver" not in default.manifest["hyper"] and solver_of(default.hyper["solver"]) is Solver.CG
    with pytest.raises(SpecError, match="hyper.solver 'lissa' is not one of exact, cg"):
        build_spec(*args, classes=3, hyper={"solver": Solver.LISSA})


# -- the Newton-decrement stop (hyper.newton_tol) -------------------------------------------------

def _head_problem(seed: int, classes: int, n: int, m: int, l2: float, noise: float):
    """A buyer with no hidden layers (phi = [x, 1]): its head fitted on n rows with L2 `l2` (small:
    overconfident), the Hessian of its objective, a probe, and m bundle rows whose labels are
    flipped and features blown up by `noise` (the demo's hard case at noise 1)."""
    rng = np.random.default_rng(seed)
    d = 3
    beta = rng.normal(size=(max(classes, 1), d)) * 2
    def draw(rows: int) -> tuple[np.ndarray, np.ndarray]:
        x = rng.normal(size=(rows, d))
        if classes:
            return x, (x @ beta.T + rng.gumbel(size=(rows, classes))).argmax(axis=1)
        return x, x @ beta[0] + 0.3 * rng.normal(size=rows)
    x_tr, y_tr = draw(n)
    x_pr, y_pr = draw(25)
    x_new, y_new = draw(m)
    x_new = x_new * (1 + noise * rng.exponential(5.0, size=(m, 1)))
    if classes:
        flip = rng.random(m) < 0.4 * noise
        y_new = np.where(flip, rng.integers(0, classes, size=m), y_new)
    phi = linear_head.add_bias(x_tr)
    w = linear_head.fit_head(phi, y_tr, classes=classes, l2=l2)
    hess = linear_head.hessian_sum(phi, w, classes > 0) / n + l2 * np.eye(w.size)
    return {"d": d, "classes": classes, "n": n, "w": w, "hess": hess, "probe": (x_pr, y_pr), "new": (x_new, y_new)}


def _head_spec(p: dict, hyper: dict) -> bytes:
    from pricing import make_spec

    classes = p["classes"]
    label = {"name": "y", "kind": "categorical", "classes": classes} if classes else {"name": "y", "kind": "continuous"}
    schema = {"features": [{"name": f"x{i}"} for i in range(p["d"])], "label": label}
    tensors = {"head.weight": p["w"], "newton.hessian": p["hess"], "probe.features": p["probe"][0],
               "probe.label": np.asarray(p["probe"][1], np.float64)}
    manifest = {"method": "feature-newton", "schema": schema, "proxy": {"layers": []},
                "hyper": {"n_train": float(p["n"]), **hyper}}
    return make_spec(manifest, tensors)


_problems = dict(seed=st.integers(0, 2**31), classes=st.sampled_from([0, 2, 3]), n=st.integers(5, 40),
                 m=st.integers(1, 30), l2=st.sampled_from([1e-4, 1e-2, 1.0]), noise=st.sampled_from([0.0, 1.0]))


@settings(max_examples=40, deadline=None)
@given(**_problems, steps=st.integers(1, 6), solver=st.sampled_from([0.0, 1.0]), frozen=st.booleans())
def test_newton_tol_zero_prices_as_a_spec_without_it(seed, classes, n, m, l2, noise, steps, solver, frozen):
    """Prices are a protocol function that buyers replay: a spec that says newton_tol 0 and one that
    predates the key (and so reads the default) give the same efficacy and scores, bit for bit."""
    p = _head_problem(seed, classes, n, m, l2, noise)
    hyper = {"steps": float(steps), "solver": solver, "frozen_hessian": float(frozen and solver == 0.0)}
    old, zero = parse_spec(_head_spec(p, hyper)), parse_spec(_head_spec(p, {**hyper, "newton_tol": 0.0}))
    assert "newton_tol" not in old.manifest["hyper"] and old.hyper["newton_tol"] == 0.0
    method = get_method("feature-newton")
    a, b = method.efficacy(old, *p["new"]), method.efficacy(zero, *p["new"])
    assert a.total == b.total and np.array_equal(a.scores, b.scores)


def _cg_inverse(h: np.ndarray):
    inv = np.linalg.inv(h)
    return lambda r: inv @ r


@settings(max_examples=40, deadline=None)
@given(**_problems, cg=st.booleans(), newton_tol=st.floats(1e-12, 1.0, allow_subnormal=False))
def test_newton_decrement_stop_truncates_the_same_refit(seed, classes, n, m, l2, noise, cg, newton_tol):
    """The stop only ends the refit early: it lands where the fixed-step refit lands after some
    number of its steps, at most the cap; 0 runs every step; a tolerance no step's predicted
    decrease reaches stops before the first."""
    p = _head_problem(seed, classes, n, m, l2, noise)
    x, y = p["new"]
    phi, cap = linear_head.add_bias(x), 8
    kw = dict(h_inv=_cg_inverse(p["hess"]), cg_tol=1e-10) if cg else {}
    refit = lambda steps, tol=0.0: newton_refit(phi, y, p["w"], p["hess"], float(p["n"]), classes > 0, steps,
                                                newton_tol=tol, **kw)
    path = [refit(j) for j in range(cap + 1)]
    got = refit(cap, newton_tol)
    assert any(np.array_equal(got, q) for q in path)
    assert np.array_equal(refit(cap, 0.0), path[-1])
    assert np.array_equal(refit(cap, 1e300), p["w"])


def _steps_taken(refit, cap: int, newton_tol: float) -> int:
    """How many steps a stopped refit took: the first fixed-step count it equals."""
    got = refit(cap, newton_tol)
    return next(j for j in range(cap + 1) if np.array_equal(got, refit(j, 0.0)))


@pytest.mark.parametrize("noise", [0.0, 1.0])
def test_newton_decrement_stop_ends_early_at_the_optimum(noise):
    """On a logistic head that is far from the bundle's optimum (overconfident, noisy rows: the
    demo's case) the stop takes a few of the 50 steps it is allowed and lands within 1e-8 nats
    of the probe loss 50 fixed steps reach; a looser tolerance takes fewer steps."""
    p = _head_problem(11, 2, 20, 300, 1e-4, noise)
    x, y = p["new"]
    phi = linear_head.add_bias(x)
    refit = lambda steps, tol: newton_refit(phi, y, p["w"], p["hess"], float(p["n"]), True, steps, newton_tol=tol)
    probe_phi = linear_head.add_bias(p["probe"][0])
    probe = lambda w: linear_head.mean_loss(probe_phi, p["probe"][1], w, True)
    tight, loose = _steps_taken(refit, 50, 1e-10), _steps_taken(refit, 50, 1e-2)
    assert 2 <= loose <= tight < 50
    assert abs(probe(refit(50, 1e-10)) - probe(refit(50, 0.0))) < 1e-8
    assert abs(probe(refit(3, 0.0)) - probe(refit(50, 0.0))) > abs(probe(refit(50, 1e-10)) - probe(refit(50, 0.0)))


def test_newton_decrement_stop_prices_as_many_fixed_steps_on_digits(digits_small, digits_specs):
    """Through the method on a real spec: the stop's efficacy is the 100-step refit's within 1e-7
    relative (the replay tolerance is 1e-6) and its scores within 1e-6 of the largest, on clean
    and on mislabelled rows. The probe loss moves to first order in the step the stop skips, whose
    size is the square root of its predicted decrease: the mislabelled rows' refit skips a step
    predicting 2.5e-16 nats and stops 6e-8 nats (2e-8 relative) short; at 1e-10 the clean rows'
    stops 3e-8 nats, 4e-6 relative, short."""
    from dataclasses import replace

    ds = digits_small
    base = parse_spec(digits_specs["feature-newton"])
    stop = replace(base, hyper={**base.hyper, "steps": 100.0, "newton_tol": 1e-14}, cache={})
    full = replace(base, hyper={**base.hyper, "steps": 100.0}, cache={})
    method, pool = get_method("feature-newton"), ds["pool"][:60]
    for y in (ds["y"][pool], (ds["y"][pool] + 1) % 3):
        a, b = method.efficacy(stop, ds["x"][pool], y), method.efficacy(full, ds["x"][pool], y)
        assert a.total != 0 and abs(a.total - b.total) < 1e-7 * abs(b.total)
        assert np.allclose(a.scores, b.scores, rtol=0, atol=1e-6 * np.abs(b.scores).max())


@pytest.mark.parametrize("bad", [-1e-3, -1.0])
def test_feature_newton_refuses_a_negative_newton_tol(ridge_spec, bad):
    with pytest.raises(SpecError, match=r"hyper\.newton_tol must be >= 0.*got -"):
        ridge_spec("feature-newton", newton_tol=bad)


@pytest.mark.parametrize("text,name", [("1e999", "hyper.newton_tol"), ("-1e999", "hyper.newton_tol"),
                                       ("NaN", "NaN"), ("Infinity", "Infinity")])
def test_feature_newton_refuses_a_non_finite_newton_tol(ridge_spec, text, name):
    """JSON spells infinity as an overflowing number (named by its key) or as a bare constant."""
    import json

    from common.safetensors_bytes import write_safetensors
    from pricing.errors import NonFiniteValue
    from pricing.spec import MANIFEST_KEY

    spec = parse_spec(ridge_spec("feature-newton"))
    manifest = {"format": "spartacus-spec-v1", **spec.manifest}
    manifest["hyper"] = {**manifest["hyper"], "newton_tol": "@"}
    raw = json.dumps(manifest).replace('"@"', text)
    with pytest.raises(NonFiniteValue, match=name):
        parse_spec(write_safetensors(dict(spec.tensors), {MANIFEST_KEY: raw}))
