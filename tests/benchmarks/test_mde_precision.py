"""The precision validation: its monotonicity figures mean what the issue defines, its report is
computed from its own columns, and the shipped spec's choice never reads the rows the true gains
are measured on."""

from __future__ import annotations

import json
from dataclasses import asdict, replace

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import spearmanr

from benchmarks._mde_data import load
from benchmarks.mde_validation import (MAX_PRICE, PRECISION_METHODS, TERMS_CURVE, Bundle, FixedScaler, _real_model,
                                       buyer, buyer_specs, method_variant, monotone_violations, precision_splits_table,
                                       precision_table, report_from_json, scaler_params, shipped_spec, truth_ceiling,
                                       truth_nonmonotone, validate_precision)
from pricing import parse_spec, price, write_release
from pricing.builders import CANDIDATES, Candidate

FEW = (CANDIDATES[0], Candidate("feature-newton", "feature-newton"), Candidate("influence", "influence"))
CAL = {"folds": 3, "seeds": 1, "candidates": FEW}
EPS = (1.0, 10.0, float("inf"))


def _layout(levels: int, draws: int):
    level = np.repeat(np.arange(levels), draws)
    return np.zeros(levels * draws, dtype=int), level


@given(st.lists(st.floats(0, 1e6), min_size=3, max_size=3), st.integers(1, 3))
def test_prices_that_never_fall_never_violate(increments, draws):
    bundle, level = _layout(3, draws)
    means = np.cumsum(increments)
    prices = means[level]
    gains = np.random.default_rng(0).normal(size=level.shape)
    assert monotone_violations(prices, gains, bundle, level, ["b"], EPS) == []


def test_a_fall_beyond_the_spread_where_the_gain_rises_is_one_violation():
    bundle, level = _layout(3, 2)
    prices = np.array([100.0, 100.0, 10.0, 12.0, 200.0, 200.0])  # falls from eps 1 to eps 10
    gains = np.array([-0.1, -0.1, 0.0, 0.0, 0.1, 0.1])
    assert monotone_violations(prices, gains, bundle, level, ["b"], EPS) == ["b: eps 1 -> 10"]
    # within the draws' spread it is not one
    wide = np.array([100.0, 0.0, 10.0, 12.0, 200.0, 200.0])
    assert monotone_violations(wide, gains, bundle, level, ["b"], EPS) == []
    # nor where the true gain falls too
    assert monotone_violations(prices, -gains, bundle, level, ["b"], EPS) == []


def test_truth_that_rises_as_precision_falls_is_reported():
    bundle, level = _layout(3, 2)
    per_seed = np.array([[0.2, 0.21], [0.2, 0.19], [0.0, 0.01], [0.0, -0.01], [0.1, 0.1], [0.1, 0.11]])
    out = truth_nonmonotone(per_seed, bundle, level, ["b"], EPS)
    assert out and all(s.startswith("b: gain") for s in out)
    assert truth_nonmonotone(np.sort(per_seed, axis=0), bundle, level, ["b"], EPS) == []


@pytest.fixture(scope="module")
def small_buyer():
    x, y = load("breast_cancer")
    return buyer(x, y, seed=0, n_train=90, n_val=80, sizes=(10, 20, 40), hidden=8, max_iter=200, alphas=(1.0, 10.0))


def test_shipped_choice_is_unchanged_when_validation_and_pool_rows_are_noise(small_buyer):
    """The honesty check of issue 29: the selection reads neither the validation rows nor the
    pool's bundles, the rows the true gains use."""
    b = small_buyer
    rng = np.random.default_rng(3)
    noise = replace(b, x_va=rng.normal(size=b.x_va.shape) * 1e3, y_va=rng.integers(0, 2, size=b.y_va.shape),
                    bundles=[Bundle(k.kind, k.name, rng.normal(size=k.x.shape), rng.integers(0, 2, size=k.y.shape))
                             for k in b.bundles])
    a = shipped_spec(b, hidden=8, max_iter=200, calibration=CAL)
    c = shipped_spec(noise, hidden=8, max_iter=200, calibration=CAL)
    assert (a.chosen, a.spearman, a.retrainings) == (c.chosen, c.spearman, c.retrainings)


@pytest.mark.slow
@given(st.lists(st.floats(-1.0, 1.0), min_size=4, max_size=12, unique=True), st.integers(2, 5))
def test_seeds_that_agree_have_a_truth_ceiling_of_one(gains, seeds):
    per_seed = np.repeat(np.array(gains)[:, None], seeds, axis=1)
    assert truth_ceiling(per_seed) == pytest.approx(1.0)
    # one seed that ranks the releases backwards pulls the ceiling down
    flipped = per_seed.copy()
    flipped[:, 0] = -flipped[:, 0]
    assert truth_ceiling(flipped) < 1.0


def test_truth_ceiling_of_independent_seeds_is_near_zero():
    per_seed = np.random.default_rng(0).normal(size=(400, 3))
    assert abs(truth_ceiling(per_seed)) < 0.15
    assert np.isnan(truth_ceiling(per_seed[:, :1]))


def test_precision_report_is_computed_from_its_own_columns():
    x, y = load("breast_cancer")
    rep = validate_precision(x, y, name="bc-tiny", n_train=90, n_val=80, sizes=(30,), per_column=(0.1, 100.0),
                             draws=2, seeds=1, hidden=8, max_iter=200, methods=("influence",), progress=False,
                             alphas=(1.0,), calibration=CAL)
    gain = np.array(rep.true_gain)
    assert len(gain) == 1 * 2 * 2 + 1 == len(rep.release_level)
    assert np.isinf(rep.epsilons[-1]) and rep.epsilons[:-1] == [0.1 * 31, 100.0 * 31]
    for m, r in rep.methods.items():
        assert r.spearman == pytest.approx(spearmanr(r.efficacy, gain)[0], nan_ok=True)
        harmful = gain < 0
        if harmful.any():
            assert r.harmful_priced_zero == pytest.approx(np.mean(np.array(r.prices)[harmful] == 0))
        assert r.monotone_violations == len(r.violations)
        p = np.array(r.prices, dtype=np.float64)
        assert r.price_spearman == pytest.approx(spearmanr(p, gain)[0] if np.ptp(p) > 0 else np.nan, nan_ok=True)
    assert np.isnan(rep.truth_ceiling)  # one seed: nothing to compare it with
    assert "shipped" in rep.methods and rep.shipped_method in {c.label for c in FEW}
    assert rep.calibration_retrainings > 0
    assert "bc-tiny" in precision_table([rep])
    # one row per data set and split, with the shipped spec's own figures
    rows = precision_splits_table([replace(rep, split=3), rep]).splitlines()[2:-1]
    assert [r.split()[:2] for r in rows] == [["bc-tiny", "0"], ["bc-tiny", "3"]]
    assert all(f"{rep.methods['shipped'].spearman:.2f}" in r and rep.shipped_method in r for r in rows)
    # recomputed from its JSON, the report's figures and table are the same (--from-json)
    stored = report_from_json(json.loads(json.dumps(asdict(rep), default=str)))
    assert precision_table([stored]).split("wall")[0] == precision_table([rep]).split("wall")[0]
    for m, r in rep.methods.items():
        again = stored.methods[m]
        assert again.violations == r.violations and again.prices == r.prices
        assert (again.spearman, again.harmful_priced_zero, again.price_spearman) == \
            pytest.approx((r.spearman, r.harmful_priced_zero, r.price_spearman), nan_ok=True)
    # the true gains re-used: the same releases are redrawn and priced alike, nothing retrained
    again = validate_precision(x, y, name="bc-tiny", n_train=90, n_val=80, sizes=(30,), per_column=(0.1, 100.0),
                               draws=2, seeds=1, hidden=8, max_iter=200, methods=("influence",), progress=False,
                               alphas=(1.0,), shipped=False, truth=asdict(rep))
    assert again.truth_match == 0.0 and again.true_gain == rep.true_gain
    assert again.methods["influence"].prices == rep.methods["influence"].prices
    # a truth retrained by a buyer of another scaling is refused, not silently re-used
    other = {**asdict(rep), "scaling": "standard" if rep.scaling != "standard" else "bounds"}
    with pytest.raises(ValueError, match="retrained a buyer with scaling"):
        validate_precision(x, y, name="bc-tiny", n_train=90, n_val=80, sizes=(30,), per_column=(0.1, 100.0),
                           draws=2, seeds=1, hidden=8, max_iter=200, methods=("influence",), progress=False,
                           alphas=(1.0,), shipped=False, truth=other)


def test_bounds_scaling_maps_the_data_to_the_unit_box_and_is_not_refit():
    """The careful buyer's pipeline: columns mapped to [0, 1] by the declared bounds, and a
    retraining on merged rows (a near-constant column with a little noise, say) keeps them."""
    x, y = load("breast_cancer")
    x_tr, y_tr = x[:90], y[:90]
    mean, scale = scaler_params("bounds", x, x_tr)
    z = (x - mean) / scale
    assert z.min() >= 0.0 and z.max() <= 1.0 and np.allclose(z.min(axis=0), 0) and np.allclose(z.max(axis=0), 1)
    rng = np.random.default_rng(0)
    release = x[90:130].copy()
    release[:, 0] = x[:, 0].min() + rng.laplace(scale=1e-3, size=len(release))  # a near-constant, noisy column
    model = _real_model(0, 8, 200, 1.0, scaler=(mean, scale)).fit(np.concatenate([x_tr, release]),
                                                                    np.concatenate([y_tr, y[90:130]]))
    step = model.steps[0][1]
    assert isinstance(step, FixedScaler)
    assert np.array_equal(step.mean_, mean) and np.array_equal(step.scale_, scale)
    assert np.allclose(step.transform(x), z)
    # the refitting pipeline would have divided column 0 by the noise's tiny spread instead
    refit = _real_model(0, 8, 200, 1.0).fit(np.concatenate([x_tr, release]), np.concatenate([y_tr, y[90:130]]))
    assert refit.steps[0][1].scale_[0] != pytest.approx(scale[0])


def test_frozen_scaling_is_the_buyers_own_rows_and_a_bad_name_is_refused():
    x, _ = load("breast_cancer")
    mean, scale = scaler_params("frozen", x, x[:90])
    assert np.allclose(mean, x[:90].mean(axis=0)) and np.allclose(scale, x[:90].std(axis=0))
    flat = x[:90].copy()
    flat[:, 3] = flat[0, 3]  # constant in the buyer's rows: scaled by the column's declared range
    assert scaler_params("frozen", x, flat)[1][3] == pytest.approx(x[:, 3].max() - x[:, 3].min())
    assert scaler_params("standard", x, x[:90]) is None
    with pytest.raises(ValueError, match="scaling 'minmax'"):
        scaler_params("minmax", x, x[:90])
    with pytest.raises(ValueError, match="positive scale"):
        FixedScaler(mean=mean, scale=np.zeros_like(scale)).fit(x)


@pytest.fixture(scope="module")
def bounds_buyer():
    x, y = load("breast_cancer")
    return buyer(x, y, seed=0, n_train=90, n_val=80, sizes=(10, 20, 40), hidden=8, max_iter=200, alphas=(1.0, 10.0),
                 scaling="bounds")


def test_every_precision_method_builds_and_prices_for_the_bounds_buyer(bounds_buyer):
    """`pricing.build_spec` reads the fixed scaler as a 'standardize' layer (no refit declared)
    for every method the precision run prices, and each prices a release."""
    b = bounds_buyer
    assert b.scaler is not None and isinstance(b.model.steps[0][1], FixedScaler)
    specs = buyer_specs(b, PRECISION_METHODS, seed=0, refit_scaler=False)
    blob = write_release(b.bundles[0].x, b.bundles[0].y, b.schema)
    for m, raw in specs.items():
        spec = parse_spec(raw)
        assert "refit_scaler" not in {k for k, v in spec.hyper.items() if v}, m
        res = price(spec, blob, {"pricing": {"method": method_variant(m)[0], "curve": TERMS_CURVE},
                                 "maxPrice": MAX_PRICE})
        assert np.isfinite(res.efficacy), m


def test_auto_scaling_keeps_the_fixed_scaling_with_the_lower_validation_loss():
    """The careful buyer: of frozen and bounds (each with its own weight decay), the one its own
    validation rows prefer; never the refitting scaler."""
    from sklearn.metrics import log_loss

    x, y = load("breast_cancer")
    kw = dict(seed=0, n_train=90, n_val=80, sizes=(10, 20, 40), hidden=8, max_iter=200, alphas=(1.0, 10.0))
    auto = buyer(x, y, scaling="auto", **kw)
    loss = {sc: log_loss(b.y_va, b.model.predict_proba(b.x_va), labels=[0, 1])
            for sc, b in ((sc, buyer(x, y, scaling=sc, **kw)) for sc in ("frozen", "bounds"))}
    assert auto.scaling == min(loss, key=loss.__getitem__) and auto.scaler is not None
    assert log_loss(auto.y_va, auto.model.predict_proba(auto.x_va), labels=[0, 1]) == pytest.approx(min(loss.values()))
    with pytest.raises(ValueError, match="scaling 'minmax'"):
        buyer(x, y, scaling="minmax", **kw)


def test_tables_from_stored_reports_name_what_is_missing(tmp_path, capsys):
    """--from-json, --reuse-truth and --splits refuse a directory without the stored reports,
    naming the file and how to make it, before any work starts."""
    from benchmarks.mde_validation import main_precision

    for flags in (["--from-json"], ["--reuse-truth"]):
        with pytest.raises(SystemExit) as e:
            main_precision([*flags, "--datasets", "digits", "--out", str(tmp_path)])
        assert e.value.code == 2
        err = capsys.readouterr().err
        assert str(tmp_path / "mde_precision_digits.json") in err and "run without it first" in err
    with pytest.raises(SystemExit):
        main_precision(["--splits", str(tmp_path), "--datasets", "digits", "--out", str(tmp_path)])
    assert "holds no mde_precision_<dataset>.json" in capsys.readouterr().err
