"""The re-pricing tool redraws a run exactly: the run's own labels reproduce its efficacies."""

from __future__ import annotations

from dataclasses import asdict

import numpy as np
import pytest

from benchmarks._mde_data import load
from benchmarks.mde_reprice import reprice, table

from .conftest import SMALL


@pytest.mark.slow
def test_reprice_reproduces_the_runs_efficacies_and_rho(small_report):
    x, y = load("breast_cancer")
    report = asdict(small_report)
    rows = reprice(x, y, report, ["network-anchored", "feature-newton", "network-newton@steps=1"], rounds=1, **SMALL)
    same = {r.method: r for r in rows}
    for label in ("network-anchored", "feature-newton"):
        assert same[label].match == 0.0
        assert same[label].efficacy == small_report.methods[label].efficacy
        assert same[label].spearman == pytest.approx(small_report.methods[label].spearman, abs=1e-12)
        assert same[label].spearman_clean == pytest.approx(small_report.methods[label].spearman_clean, abs=1e-12)
    other = same["network-newton@steps=1"]  # not in the run: nothing to match, and another method's figures
    assert np.isnan(other.match) and other.efficacy != small_report.methods["network-newton"].efficacy
    assert all(r.quote_seconds > 0 for r in rows)
    text = table(rows, {(report["dataset"], report["split"]): report})
    assert "network-newton@steps=1" in text and len(text.splitlines()) == 2 + len(rows)
    # a buyer-side change reaches the specs: every eigenpair shipped, not the numerical rank's
    full = reprice(x, y, report, ["network-anchored"], rounds=1, build={"curvature_rtol": None}, **SMALL)[0]
    assert full.match > 0 and full.efficacy != same["network-anchored"].efficacy


@pytest.mark.slow
def test_reprice_refuses_a_configuration_the_run_did_not_use(small_report):
    x, y = load("breast_cancer")
    with pytest.raises(ValueError, match="other bundles than the report's"):
        reprice(x, y, asdict(small_report), ["feature-newton"], rounds=1, **{**SMALL, "sizes": (10, 20, 40, 81)})


def test_reprice_cli_names_a_bad_label_or_a_missing_run(tmp_path, capsys):
    from benchmarks.mde_reprice import main

    with pytest.raises(SystemExit):
        main(["--methods", "network-newton@stepz=4"])
    assert "unknown hyper-parameters ['stepz']" in capsys.readouterr().err
    report = tmp_path / "r.json"
    report.write_text('[{"dataset": "digits", "split": 0}]')
    with pytest.raises(SystemExit):
        main(["--report", str(report), "--datasets", "adult"])
    assert "holds no run of ['adult']" in capsys.readouterr().err
