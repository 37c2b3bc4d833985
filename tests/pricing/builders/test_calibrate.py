"""`calibrate_spec`: the buyer's choice of the one method it ships is made on its training rows
alone, retrained for real, cross-fitted, and reports what it cost."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from sklearn.datasets import load_breast_cancer
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from pricing import SpecError, method_fits_release, parse_spec
from pricing.builders import (CANDIDATES, DP_CANDIDATES, DP_PREFERRED, LABELLED_CANDIDATES, Candidate, build_spec,
                              calibrate_spec, calibration_bundles, quote_work, select_candidate)

FEW = (CANDIDATES[0], Candidate("feature-newton", "feature-newton"), Candidate("influence", "influence"))


def _fit(x, y, seed):
    warnings.filterwarnings("ignore")
    return make_pipeline(StandardScaler(), MLPClassifier((8,), alpha=1.0, max_iter=200, random_state=seed)).fit(x, y)


@pytest.fixture(scope="module")
def buyer():
    x, y = load_breast_cancer(return_X_y=True)
    perm = np.random.default_rng(0).permutation(len(y))
    tr, va = perm[:90], perm[90:150]
    return x[tr], y[tr], x[va], y[va], _fit(x[tr], y[tr], 0)


def _calibrate(buyer, fit=_fit, **kw):
    x_tr, y_tr, x_va, y_va, model = buyer
    return calibrate_spec(fit, model, x_tr, y_tr, x_va, y_va, classes=2, candidates=FEW, folds=3, seeds=1, **kw)


@pytest.fixture(scope="module")
def calibration(buyer):
    return _calibrate(buyer)


def test_selection_never_reads_the_validation_rows(buyer, calibration):
    """The honesty check: with the validation rows (what the benchmark's true gains are measured
    on) replaced by noise, the choice and every fold's rho are unchanged; only the shipped
    spec's probe, which is those rows, differs."""
    x_tr, y_tr, x_va, y_va, model = buyer
    rng = np.random.default_rng(5)
    noisy = (x_tr, y_tr, rng.normal(size=x_va.shape) * 1e3, rng.integers(0, 2, size=y_va.shape), model)
    other = _calibrate(noisy)
    assert other.chosen == calibration.chosen
    assert other.spearman == calibration.spearman
    assert other.spec != calibration.spec  # the probe is the validation set: the spec did read it


def test_ships_the_candidate_with_the_best_mean_rho_built_on_the_whole_training_set(buyer, calibration):
    x_tr = buyer[0]
    score = calibration.score
    assert set(score) == {c.label for c in FEW}
    assert all(len(v) == 3 and all(-1 <= r <= 1 for r in v) for v in calibration.spearman.values())
    assert score[calibration.chosen.label] == max(score.values())  # one budget a method here: the best ships
    spec = parse_spec(calibration.spec)
    assert spec.method == calibration.chosen.method
    assert spec.hyper["n_train"] == len(x_tr)


def test_only_a_method_that_fits_the_mechanism_is_shipped(buyer, calibration):
    """Every candidate is still scored, but for DP releases the shipped one is among those
    `method_fits_release` allows (here feature-newton: network-newton and influence are refused)."""
    dp = _calibrate(buyer, mechanism="ml-laplace-rr")
    assert dp.chosen.label == "feature-newton"
    assert dp.spearman == calibration.spearman


def test_for_dp_releases_network_newton_ships_only_with_its_support_filter(buyer):
    """network-anchored with and without `hyper.support` both scored; for DP releases only the
    filtered one or feature-newton may ship, whichever ranks the buyer's own DP bundles better."""
    x_tr, y_tr, x_va, y_va, model = buyer
    supported = Candidate("network-anchored@support=1", "network-newton", {"support": 1.0}, True)
    cands = (CANDIDATES[0], supported, FEW[1])
    dp = calibrate_spec(_fit, model, x_tr, y_tr, x_va, y_va, classes=2, candidates=cands, folds=3, seeds=1,
                        dp_per_column=(0.5, 50.0), dp_only=True, mechanism="ml-laplace-rr")
    assert set(dp.spearman) == {c.label for c in cands}
    allowed = {supported.label: dp.score[supported.label], FEW[1].label: dp.score[FEW[1].label]}
    assert dp.chosen.label == max(allowed, key=allowed.get)
    if dp.chosen is supported:
        assert parse_spec(dp.spec).hyper["support"] == 1.0


def test_a_dp_calibration_scores_the_dp_candidates_by_default():
    """The DP candidates add what fits DP releases only: network-anchored with its support filter,
    and network-retrain (a quote retrains the network, too slow for the exact bundles' target)."""
    assert {c.label for c in CANDIDATES} < {c.label for c in DP_CANDIDATES}
    extra = [c for c in DP_CANDIDATES if c not in CANDIDATES]
    assert {c.method for c in extra} == {"network-newton", "network-retrain"}
    assert all(c.hyper.get("support", 0) > 0 for c in extra if c.method == "network-newton")
    assert all(c.anchor for c in extra if c.method == "network-retrain")
    assert all(method_fits_release(c.method, "ml-laplace-rr", c.hyper)[0] for c in extra)


def test_cost_counts_every_retraining_and_progress_follows_the_folds(buyer, calibration):
    calls = []

    def counting(x, y, seed):
        calls.append(len(y))
        return _fit(x, y, seed)

    done = []
    again = _calibrate(buyer, fit=counting, progress=lambda f, folds: done.append((f, folds, len(calls))))
    assert again.retrainings == len(calls) == 3 * 1 * (again.bundles // 3 + 1)
    # progress after each fold, when that fold's retrainings are done
    assert [(f, n) for f, n, _ in done] == [(1, 3), (2, 3), (3, 3)] and done[-1][2] == len(calls)
    assert again.seconds > 0
    assert again.chosen == calibration.chosen and again.spec == calibration.spec  # deterministic


def test_no_row_judges_itself(buyer):
    """Within a fold the rows retrained on (base + bundle) never include a judged row: every fit
    sees at most the base and the source parts, i.e. at most 2/3 of the rows with 3 folds, and
    every bundle row comes from the source part or the base (copies)."""
    seen = []

    def recording(x, y, seed):
        seen.append(x)
        return _fit(x, y, seed)

    x_tr, *_ = buyer
    _calibrate(buyer, fit=recording)
    parts = np.array_split(np.random.Generator(np.random.PCG64(0)).permutation(len(x_tr)), 3)
    judged = [set(map(bytes, x_tr[p])) for p in parts]
    per_fold = len(seen) // 3
    for f in range(3):
        for x in seen[f * per_fold:(f + 1) * per_fold]:
            assert not judged[f] & set(map(bytes, x))


def test_bundles_include_noisy_releases_and_copies():
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(40, 3)), rng.integers(0, 3, 40)
    out = calibration_bundles(x[:20], y[:20], x[20:], y[20:], 3, rng)
    names = [n for n, _, _ in out]
    assert {"clean-1.0", "flip50", "laplace-10.0", "own-copy", "repeat5"} <= set(names)
    noisy = dict((n, bx) for n, bx, _ in out)
    assert np.abs(noisy["laplace-10.0"] - 0).mean() > 3 * np.abs(noisy["clean-1.0"]).mean()


def test_dp_bundles_are_the_mechanism_at_each_epsilon_per_column():
    """At a small epsilon per column the features are swamped (Laplace scale range / c) and the
    labels nearly uniform; at a large one both are nearly exact."""
    rng = np.random.default_rng(1)
    x = rng.uniform(0, 1, size=(400, 2))
    y = np.minimum((4 * x[:, 0]).astype(np.int64), 3)  # the label is read off the first feature
    out = {n: (bx, by) for n, bx, by in calibration_bundles(x[:200], y[:200], x[200:], y[200:], 4, rng,
                                                              dp_per_column=(0.05, 50.0))}
    agree = {n: np.mean(np.minimum((4 * bx[:, 0]).astype(np.int64), 3) == by) for n, (bx, by) in out.items()}
    lo_x, lo_y = out["dp-0.05"]
    assert np.abs(lo_x - 0.5).mean() > 5 and np.abs(out["dp-50"][0] - 0.5).max() < 0.8  # scale 1/50 of the range
    assert agree["dp-50"] > 0.85 and agree["clean-1.0"] == 1.0
    assert np.mean(np.isin(lo_y, [0, 1, 2, 3])) == 1.0 and np.mean(lo_y == 0) < 0.5


@pytest.mark.parametrize("kw, match", [({"classes": 0}, "classifier"), ({"folds": 2}, "folds"),
                                       ({"candidates": ()}, "no candidates"), ({"dp_per_column": (0.0,)}, "positive"),
                                       ({"candidates": (Candidate("x", "nope"),)}, "unknown method")])
def test_refuses_what_it_cannot_calibrate(buyer, kw, match):
    x_tr, y_tr, x_va, y_va, model = buyer
    args = dict(classes=2, folds=3, seeds=1, candidates=FEW) | kw
    with pytest.raises(SpecError, match=match):
        calibrate_spec(_fit, model, x_tr, y_tr, x_va, y_va, **args)


def test_dp_only_bundles_rank_precisions_of_the_same_rows():
    rng = np.random.default_rng(2)
    x, y = rng.uniform(0, 1, size=(60, 2)), rng.integers(0, 2, 60)
    names = [n for n, _, _ in calibration_bundles(x[:30], y[:30], x[30:], y[30:], 2, rng, dp_per_column=(0.5, 5.0),
                                                  dp_only=True)]
    assert names == ["exact-0.5", "dp-0.5-0.5", "dp-5-0.5", "exact-1.0", "dp-0.5-1.0", "dp-5-1.0"]
    with pytest.raises(SpecError, match="dp_only needs dp_per_column"):
        calibration_bundles(x[:30], y[:30], x[30:], y[30:], 2, rng, dp_only=True)


def test_every_shipped_candidate_builds_a_spec_that_prices(buyer):
    """Each of CANDIDATES, as the calibration would ship it: its method and hyper-parameters
    are accepted by the builder, it prices a bundle, and a budget variant prices differently
    from the full budget (the hyper-parameter reached the method)."""
    from pricing.price import efficacy_of

    x_tr, y_tr, x_va, y_va, model = buyer
    eff = {}
    for c in CANDIDATES:
        spec = parse_spec(build_spec(c.method, model, x_tr, y_tr, x_va, y_va, classes=2, hyper=dict(c.hyper),
                                     anchor=x_tr if c.anchor else None))
        assert spec.method == c.method and all(spec.hyper[k] == v for k, v in c.hyper.items())
        eff[c.label] = efficacy_of(spec, x_va[:20], y_va[:20])[0]
        assert np.isfinite(eff[c.label])
    assert len({c.label for c in CANDIDATES}) == len(CANDIDATES)
    assert eff["network-anchored@cg_iters=3"] != eff["network-anchored"] != eff["network-anchored@steps=4"]


FAMILY = CANDIDATES[:3]  # network-anchored and its two cheaper budgets
WORK = {"network-anchored": 40.0, "network-anchored@steps=4": 20.0, "network-anchored@cg_iters=3": 24.0,
        "network-newton": 40.0, "feature-newton": 3.0, "group-influence": 1.0, "influence": 1.0}


def test_calibration_records_each_candidates_quote_work(buyer, calibration):
    """The work `select_candidate` compares is the built spec's steps x CG iterations: the
    anchored default budget (8 x 5) against its cheaper variants (4 x 5, 8 x 3)."""
    assert set(calibration.work) == {c.label for c in FEW}
    assert calibration.work["network-anchored"] == 40.0
    x_tr, y_tr, x_va, y_va, model = buyer
    works = {c.label: quote_work(parse_spec(build_spec(c.method, model, x_tr, y_tr, x_va, y_va, classes=2,
                                                       hyper=dict(c.hyper), anchor=x_tr if c.anchor else None)))
             for c in CANDIDATES[:3]}
    assert works == {c.label: WORK[c.label] for c in FAMILY} == {
        "network-anchored": 40.0, "network-anchored@steps=4": 20.0, "network-anchored@cg_iters=3": 24.0}


def test_a_cheaper_budget_within_one_standard_error_ships_instead():
    """With `cheaper_within_se` on digits split 0's folds: the full budget wins by 0.009 on the
    mean, but the paired fold differences (+0.037, -0.009, 0, +0.009) have a standard error of
    0.0098, so the cheaper budget ships. A budget that trails on every fold, however slightly, does not; neither does
    another method however cheap."""
    rhos = {"network-anchored": [0.964, 0.989, 0.973, 0.991], "network-anchored@steps=4": [0.882, 0.934, 0.936, 0.9],
            "network-anchored@cg_iters=3": [0.927, 0.998, 0.973, 0.982], "feature-newton": [0.964, 0.989, 0.973, 0.99]}
    cands = [*FAMILY, CANDIDATES[4]]
    assert select_candidate(cands, rhos, WORK, cheaper_within_se=True).label == "network-anchored@cg_iters=3"
    assert select_candidate(cands, rhos, WORK).label == "network-anchored"  # off by default
    behind = dict(rhos, **{"network-anchored@cg_iters=3": [r - 0.005 for r in rhos["network-anchored"]]})
    assert select_candidate(cands, behind, WORK, cheaper_within_se=True).label == "network-anchored"


rho_lists = st.lists(st.floats(-1, 1, allow_nan=False), min_size=4, max_size=4)


@given(st.fixed_dictionaries({c.label: rho_lists for c in CANDIDATES}), st.booleans())
def test_select_candidate_is_the_one_standard_error_rule(rhos, cheaper):
    """For any fold scores: the shipped candidate is of the best candidate's method, trails it
    by at most one standard error of the paired fold differences, and no such budget of that
    method has less work; without the rule, the best mean ships."""
    mean = {k: float(np.mean(v)) for k, v in rhos.items()}
    best = max(CANDIDATES, key=lambda c: mean[c.label])
    chosen = select_candidate(CANDIDATES, rhos, WORK, cheaper_within_se=cheaper)
    if not cheaper:
        assert chosen == best
        return

    def close(c):
        diff = np.subtract(rhos[best.label], rhos[c.label])
        return diff.mean() <= np.std(diff, ddof=1) / 2

    assert (chosen.method, chosen.anchor) == (best.method, best.anchor) and close(chosen)
    assert WORK[chosen.label] == min(WORK[c.label] for c in CANDIDATES
                                     if (c.method, c.anchor) == (best.method, best.anchor) and close(c))


@given(st.fixed_dictionaries({c.label: rho_lists for c in DP_CANDIDATES}), st.sampled_from([c.label for c in DP_CANDIDATES]))
def test_a_preferred_candidate_ships_unless_beaten_beyond_one_standard_error(rhos, prefer):
    """For any fold scores: the buyer's default ships unless the best mean beats it by more than
    one standard error of their paired fold differences, and then the best ships."""
    mean = {k: float(np.mean(v)) for k, v in rhos.items()}
    best = max(DP_CANDIDATES, key=lambda c: mean[c.label])
    diff = np.subtract(rhos[best.label], rhos[prefer])
    beaten = diff.mean() > np.std(diff, ddof=1) / 2
    chosen = select_candidate(DP_CANDIDATES, rhos, {}, prefer=prefer)
    assert chosen.label == (best.label if beaten else prefer)


def test_the_dp_default_holds_against_a_fold_lead_within_noise_and_yields_to_a_larger_one():
    """A lead of 0.025 on the mean from paired differences (-0.04, +0.10, -0.01, +0.05: standard
    error 0.031) is noise, so the default ships. breast_cancer split 0's folds at the buyer's own
    epsilons (2026-12-07, three seeds) lead it by 0.185 with a standard error of 0.162: the leader ships."""
    labels = ("network-anchored@support=2", "network-retrain", "feature-newton")
    cands = [c for c in DP_CANDIDATES if c.label in labels]
    noisy = {labels[0]: [0.93, 0.90, 0.92, 0.89], labels[1]: [0.97, 0.80, 0.93, 0.84], labels[2]: [0.5, 0.6, 0.4, 0.5]}
    assert select_candidate(cands, noisy, {}).label == labels[0]
    assert select_candidate(cands, noisy, {}, prefer=DP_PREFERRED).label == "network-retrain"  # the first present
    bc = {labels[0]: [0.71, 0.88, 0.86, 0.88], labels[1]: [0.71, 0.92, 0.20, 0.76], labels[2]: [0.18, 0.19, -0.49, 0.66]}
    assert select_candidate(cands, bc, {}, prefer=DP_PREFERRED).label == labels[0]


def test_a_dp_calibration_ships_by_the_dp_default_rule(buyer):
    """calibrate_spec for a DP mechanism hands `DP_PREFERRED` to `select_candidate` (and an
    exact one no default); the spec it ships is the chosen candidate's method."""
    x_tr, y_tr, x_va, y_va, model = buyer
    cands = (CANDIDATES[0], FEW[1], *[c for c in DP_CANDIDATES if c.method == "network-retrain"],
             *LABELLED_CANDIDATES)
    cal = calibrate_spec(_fit, model, x_tr, y_tr, x_va, y_va, classes=2, candidates=cands, folds=3, seeds=1,
                         dp_per_column=(0.5, 50.0), dp_only=True, mechanism="ml-laplace-rr")
    allowed = [c for c in cands if method_fits_release(c.method, "ml-laplace-rr", c.hyper)[0]]
    assert cal.chosen == select_candidate(allowed, cal.spearman, cal.work, prefer=DP_PREFERRED)
    shipped = parse_spec(cal.spec)
    assert shipped.method == cal.chosen.method
    assert ("anchor.label" in shipped.tensors) == cal.chosen.labels  # the labels ship only when chosen with them
    if cal.chosen.labels:
        np.testing.assert_array_equal(shipped.tensors["anchor.label"], y_tr)


def test_calibrate_spec_ships_what_the_rule_selects(buyer):
    """calibrate_spec hands its own fold scores and work to `select_candidate`: with the rule on,
    among the three anchored budgets it ships the one the rule picks, built as that candidate."""
    x_tr, y_tr, x_va, y_va, model = buyer
    cal = calibrate_spec(_fit, model, x_tr, y_tr, x_va, y_va, classes=2, candidates=FAMILY, folds=3, seeds=1,
                         cheaper_within_se=True)
    assert cal.work == {c.label: WORK[c.label] for c in FAMILY}
    assert cal.chosen == select_candidate(FAMILY, cal.spearman, cal.work, cheaper_within_se=True)
    assert quote_work(parse_spec(cal.spec)) == cal.work[cal.chosen.label]


def test_select_candidate_names_what_is_missing():
    with pytest.raises(SpecError, match="no candidates"):
        select_candidate([], {}, {})
    with pytest.raises(SpecError, match=r"no fold scores or work for \['network-anchored@steps=4'\]"):
        select_candidate(FAMILY, {c.label: [0.5, 0.6] for c in FAMILY}, {"network-anchored": 40.0,
                                                                         "network-anchored@cg_iters=3": 24.0},
                         cheaper_within_se=True)


@given(counts=st.lists(st.integers(1, 12), min_size=2, max_size=5), folds=st.integers(3, 6),
       seed=st.integers(0, 2**16))
def test_every_folds_base_holds_every_class_or_the_rare_class_is_named(counts, folds, seed):
    from pricing.builders.calibrate import fold_parts

    y = np.repeat(np.arange(len(counts)), counts)
    perm = np.random.default_rng(seed).permutation(len(y))
    plain = np.array_split(perm, folds)
    try:
        parts = fold_parts(y, folds, perm)
    except SpecError as err:
        assert min(counts) < 3 and "training rows" in str(err)
        return
    assert sorted(np.concatenate(parts).tolist()) == list(range(len(y)))  # a partition of the rows
    assert max(map(len, parts)) - min(map(len, parts)) <= 1
    for f in range(folds):
        base = np.concatenate([parts[g] for g in range(folds) if g not in (f, (f + 1) % folds)])
        assert set(y[base]) == set(y)
    covered = all(set(y[np.concatenate([plain[g] for g in range(folds) if g not in (f, (f + 1) % folds)])]) == set(y)
                  for f in range(folds))
    if covered:  # the plain cut, when it serves, is kept: earlier calibrations are unchanged
        assert all(np.array_equal(a, b) for a, b in zip(parts, plain))


def test_a_rare_class_is_calibrated_instead_of_failing_on_a_base_model_that_never_saw_it(buyer):
    x_tr, y_tr, x_va, y_va, _ = buyer
    y3 = y_tr.copy()
    first = np.random.Generator(np.random.PCG64(0)).permutation(len(y3))[:3]  # the calibration's first part
    y3[first] = 2  # a third class in one part only: the plain cut leaves it out of two folds' bases
    model = _fit(x_tr, y3, 0)
    cal = calibrate_spec(_fit, model, x_tr, y3, x_va, y_va, classes=3, candidates=FEW[:2], folds=4, seeds=1)
    assert cal.chosen.label in {c.label for c in FEW[:2]} and parse_spec(cal.spec).classes == 3
    y3[first[:1]] = 1  # two rows left: named, not an IndexError
    with pytest.raises(SpecError, match=r"classes \[2\] have only \[2\] training rows"):
        calibrate_spec(_fit, _fit(x_tr, y3, 0), x_tr, y3, x_va, y_va, classes=3, candidates=FEW[:2], folds=4, seeds=1)
