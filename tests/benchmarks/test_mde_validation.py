"""The MDE validation harness: its ground truth is sane and its figures are what they claim."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scipy.stats import spearmanr

from benchmarks._mde_data import load
from benchmarks.mde_validation import _price_pct, copies_ratio, method_variant, split_half_reliability, validate


@pytest.mark.slow
def test_report_figures_are_computed_from_its_own_columns(small_report):
    r = small_report
    gain = np.asarray(r.true_gain)
    assert len(gain) == r.n_bundles == len(r.kinds) == len(r.true_gain_per_seed)
    assert np.allclose(np.mean(r.true_gain_per_seed, axis=1), gain)
    for m, res in r.methods.items():
        assert len(res.efficacy) == r.n_bundles
        assert res.spearman == pytest.approx(spearmanr(res.efficacy, gain)[0])
    assert r.best_spearman == max(res.spearman for m, res in r.methods.items() if m != "shipped")
    # the shipped spec: the buyer's own choice, its rho measured on these bundles like any method's
    assert r.best_method != "shipped" and r.shipped_method in r.calibration_scores
    assert r.shipped_spearman == r.methods["shipped"].spearman
    assert r.calibration_scores[r.shipped_method] == max(r.calibration_scores.values())
    assert r.calibration_retrainings == 3 * 1 * (11 + 1) and r.calibration_seconds > 0
    ood = [i for i, k in enumerate(r.kinds) if k == "ood"]
    ranks = np.argsort(np.argsort(gain, kind="stable"), kind="stable") / (len(gain) - 1)
    assert r.ood_true_pct == pytest.approx(np.mean(ranks[ood]))
    assert all(0 <= res.ood_pct <= 1 and 0 <= res.near_dup_pct <= 1 for res in r.methods.values())
    assert r.alpha in (1e-2, 1e-1, 1.0, 3.0, 10.0, 30.0, 100.0, 300.0)


@pytest.mark.slow
def test_ground_truth_punishes_flipped_labels(small_report):
    """Retraining must see what everyone knows: half the labels flipped hurts, clean data does not."""
    r = small_report
    gain = np.asarray(r.true_gain)
    kinds = np.asarray(r.kinds)
    assert gain[kinds == "flip50"].max() < gain[kinds == "clean"].mean()
    assert gain[kinds == "flip50"].max() < 0


@pytest.mark.slow
def test_feature_newton_tracks_the_ground_truth(small_report):
    fn = small_report.methods["feature-newton"]
    assert fn.spearman > 0.5
    assert fn.flip50_pct <= 0.2


@given(st.lists(st.floats(-1, 1, allow_nan=False), min_size=4, max_size=30, unique=True),
       st.integers(2, 6))
def test_reliability_is_one_when_every_seed_agrees(signal, seeds):
    gains = np.repeat(np.asarray(signal)[:, None], seeds, axis=1)
    assert split_half_reliability(gains) == pytest.approx(1.0)


def test_reliability_of_pure_seed_noise_is_near_zero():
    gains = np.random.default_rng(0).normal(size=(400, 6))
    assert abs(split_half_reliability(gains)) < 0.2
    assert np.isnan(split_half_reliability(gains[:, :1]))


@pytest.mark.slow
def test_summary_counts_the_splits_that_meet_every_target(small_report):
    from dataclasses import replace

    from benchmarks.mde_validation import meets_targets, summary_table

    fn = small_report.methods["feature-newton"]
    good = replace(fn, spearman=0.9, spearman_clean=0.8, noise_price_pct=0.1, flip50_price_pct=0.1, copies_ratio=1.0,
                   speedup_parsed=100.0)
    bad = replace(good, noise_price_pct=0.3)
    assert all(meets_targets(good).values())
    assert meets_targets(bad) == {**meets_targets(good), "noise": False}
    assert not meets_targets(replace(good, copies_ratio=float("inf")))["copies"]
    reps = [replace(small_report, split=s, methods={"feature-newton": r}) for s, r in ((0, good), (2, bad), (3, good))]
    row = next(line for line in summary_table(reps).splitlines() if "feature-newton" in line)
    assert row.split()[-1] == "2/3"
    assert "0.30" in row  # the worst noise% of the three splits
    assert "excludes the development splits 1, 4" in summary_table(reps)  # held-out splits say so
    dev = summary_table([replace(reps[0], split=4)] + reps[1:])
    assert "includes development split 4," in dev  # a development split in a report is flagged


@given(st.lists(st.integers(0, 5), min_size=2, max_size=30), st.data())
def test_price_percentile_is_the_share_priced_strictly_lower(prices, data):
    """Bundles that share a price share its lowest rank: an unsold bundle is at 0 however many
    others do not sell, and a bundle at the top distinct price is above every cheaper one."""
    i = data.draw(st.integers(0, len(prices) - 1))
    pct = _price_pct(prices, [i])
    assert pct == sum(p < prices[i] for p in prices) / (len(prices) - 1)
    assert 0 <= pct <= 1
    if prices[i] == min(prices):
        assert pct == 0
    assert _price_pct(prices, range(len(prices))) == _price_pct(prices, [int(np.argmax(prices))])


def test_price_percentile_names_the_worst_of_the_bundles():
    assert _price_pct([0, 0, 0, 5, 9], [0, 3]) == pytest.approx(3 / 4)
    assert np.isnan(_price_pct([1, 2], []))


@pytest.mark.slow
def test_a_method_variant_is_priced_with_its_own_hyper_parameters(small_report):
    """`name@key=value` is the method with those hyper-parameters, against the same truth."""
    default, one_step = small_report.methods["feature-newton"], small_report.methods["feature-newton@steps=1"]
    assert default.efficacy != one_step.efficacy


def test_the_anchored_variant_ships_the_buyers_training_inputs_and_prices_otherwise(small_report):
    quad, anchored = small_report.methods["network-newton"], small_report.methods["network-anchored"]
    assert quad.efficacy != anchored.efficacy
    assert np.isfinite(anchored.spearman)


def test_method_variant_parses_hyper_parameters_and_names_a_malformed_one():
    assert method_variant("network-anchored") == ("network-newton", {"anchor_weight": 1.0})
    assert method_variant("network-anchored@steps=4") == ("network-newton", {"anchor_weight": 1.0, "steps": 4.0})
    assert method_variant("network-newton") == ("network-newton", {})
    assert method_variant("network-newton@steps=4:cg_tol=0.01") == ("network-newton", {"steps": 4.0, "cg_tol": 0.01})
    for bad in ("network-newton@steps", "network-newton@=4", "network-newton@steps=four"):
        with pytest.raises(ValueError, match="name@key=value"):
            method_variant(bad)
    with pytest.raises(ValueError, match="unknown pricing method 'nope'"):
        method_variant("nope@steps=4")
    with pytest.raises(ValueError, match=r"unknown hyper-parameters \['stesp'\]; network-newton takes"):
        method_variant("network-newton@stesp=4")
    with pytest.raises(ValueError, match="anchor_weight=1 ships the training inputs"):
        method_variant("network-newton@anchor_weight=3")


def test_copies_ratio_counts_ten_priced_copies_of_an_unpriced_one_as_the_worst_case():
    assert copies_ratio(30, 20) == 1.5
    assert np.isnan(copies_ratio(0, 0))
    assert copies_ratio(5, 0) == float("inf")


@pytest.mark.parametrize("argv,named", [(["--splits", "1,x"], "'1,x'"), (["--methods", "network-newton@steps"], "steps"),
                                        (["--methods", "network-newtn"], "network-newtn"),
                                        (["--methods", "network-newton@stesp=4"], "stesp")])
def test_a_malformed_command_line_is_refused_before_any_work(argv, named, tmp_path, capsys):
    from benchmarks.mde_validation import main

    with pytest.raises(SystemExit):
        main([*argv, "--out", str(tmp_path / "out")])
    assert named in capsys.readouterr().err
    assert not (tmp_path / "out").exists()  # refused before anything was written


@pytest.mark.slow
def test_rho_over_distinct_releases_leaves_out_only_the_repeated_bundles(small_report):
    r = small_report
    gain = np.asarray(r.true_gain)
    keep = [i for i, k in enumerate(r.kinds) if not k.startswith("repeat")]
    assert len(keep) == r.n_bundles - 3
    for res in r.methods.values():
        assert res.spearman_distinct == pytest.approx(spearmanr(np.asarray(res.efficacy)[keep], gain[keep])[0])


def test_perturbed_spec_moves_every_float_tensor_but_the_labels_by_a_rounding_step():
    from benchmarks.mde_validation import perturbed
    from pricing import Spec

    t = {"w": np.linspace(1, 2, 50), "probe.label": np.arange(50.0), "ids": np.arange(50)}
    spec = Spec(manifest={"method": "x"}, tensors=t, hash="0x0", size=0, cache={"stale": 1})
    p = perturbed(spec)
    rel = np.abs(p.tensors["w"] / t["w"] - 1)
    assert 0 < rel.max() <= 2.3e-16 * 10 and np.any(p.tensors["w"] != t["w"])
    assert p.tensors["probe.label"] is t["probe.label"] and p.tensors["ids"] is t["ids"]
    assert p.cache == {} and spec.cache == {"stale": 1}


def test_replay_change_is_relative_on_sold_bundles_and_counts_crossings():
    from benchmarks.mde_validation import replay_change

    before = np.array([0.1, 0.2, -0.1, 0.0])
    after = np.array([0.11, 0.2, 0.05, 0.0])
    change, flips = replay_change(before, after)
    assert change == pytest.approx(0.1)
    assert flips == 1
    assert replay_change(np.array([-1.0]), np.array([-2.0])) == (0.0, 0)


@pytest.mark.slow
def test_replay_figures_come_from_re_pricing_every_bundle(small_report):
    for res in small_report.methods.values():
        assert np.isfinite(res.spearman_perturbed) and res.replay_change >= 0
        assert 0 <= res.replay_flips <= small_report.n_bundles


def test_every_bundle_is_retrained_once_a_seed_and_only_the_fits_beside_the_quotes_are_timed(monkeypatch):
    """The seed-0 retrainings run in this process between the quotes (they time the speed
    ratio) and the other seeds in the pool; the truth uses each (bundle, seed) exactly once."""
    import benchmarks.mde_validation as mv

    calls = []

    def fake_fit(x, y, x_val, y_val, classes, seed, *rest):
        # a loss that depends on the rows and the seed, and a time that tells seed 0 apart
        loss = float(np.sin(len(y) + 0.1 * seed) + 0.01 * y.sum())
        calls.append((len(y), seed, loss))
        return loss, 2.0 if seed == 0 else 7.0

    monkeypatch.setattr(mv, "_fit_loss", fake_fit)
    x, y = load("breast_cancer")
    r = validate(x, y, name="bc-wiring", n_train=100, n_val=150, sizes=(10, 20), seeds=3, methods=("influence",),
                 jobs=1, progress=False, max_iter=50)
    assert len(calls) == 3 * (r.n_bundles + 1)  # each bundle and the base, once a seed
    assert sorted(s for _, s, _ in calls) == sorted([0, 1, 2] * (r.n_bundles + 1))
    assert r.retrain_seconds == 2.0  # the seed-0 fits beside the quotes, nothing from the pool
    per_seed = np.asarray(r.true_gain_per_seed)
    assert per_seed.shape == (r.n_bundles, 3) and np.isfinite(per_seed).all()
    # seed columns are not mixed up: the fake loss moves with the seed, so the columns differ
    assert not np.allclose(per_seed[:, 0], per_seed[:, 1])
    # and each seed's gains are that seed's base loss minus the losses of its bundle fits
    for s in range(3):
        base = [loss for n, seed, loss in calls if seed == s and n == r.n_train]
        fits = sorted(loss for n, seed, loss in calls if seed == s and n != r.n_train)
        assert len(base) == 1
        np.testing.assert_allclose(sorted(base[0] - per_seed[:, s]), fits, rtol=0, atol=1e-12)
