"""`spartacus spec calibrate`: a buyer at the command line ships exactly what
`pricing.builders.calibrate_spec` chooses on its own rows, sees every candidate's fold scores and
the cost, and gets one named line for options that make no calibration."""

from __future__ import annotations

import csv
import json
import warnings
from pathlib import Path

import numpy as np
import pytest
from sklearn.datasets import load_breast_cancer
from typer.testing import CliRunner

from client.cli import app
from client.commands.calibrate import CalibrationInputError, per_column, seeded_fit
from pricing import parse_spec
from pricing.builders import CANDIDATES, DP_CANDIDATES, calibrate_spec
from tests.oracle.conftest import _cheap_scrypt, _hub_chain, buyer_spec, hub  # noqa: F401 - fixtures

FACTORY = """import warnings
from sklearn.neural_network import MLPClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
def make(x, y, seed=0):
    with warnings.catch_warnings():
        warnings.simplefilter('ignore')
        return make_pipeline(StandardScaler(), MLPClassifier((6,), alpha=1.0, max_iter=150,
                                                             random_state=seed)).fit(x, y)
"""


@pytest.fixture(scope="module")
def files(tmp_path_factory) -> dict[str, Path]:
    """90 training and 40 validation rows of breast_cancer as CSV, and the buyer's factory."""
    d = tmp_path_factory.mktemp("calibrate")
    x, y = load_breast_cancer(return_X_y=True)
    perm = np.random.default_rng(0).permutation(len(y))
    for name, rows in (("train", perm[:90]), ("val", perm[90:130])):
        with (d / f"{name}.csv").open("w", newline="") as f:
            w = csv.writer(f)
            w.writerow([f"f{i}" for i in range(x.shape[1])] + ["y"])
            w.writerows([[*map(float, r), int(v)] for r, v in zip(x[rows], y[rows])])
    (d / "buyer.py").write_text(FACTORY)
    return {"dir": d, "train": d / "train.csv", "val": d / "val.csv", "factory": d / "buyer.py"}


def _direct(files, candidates, **kw) -> bytes:
    """What the Python API ships for the same rows, factory and options."""
    from client.commands.buyer import buyer_data, load_factory

    x, y, xv, yv, names, label_name, k = buyer_data(files["train"], files["val"], None, None)
    make = load_factory(f"{files['factory']}:make")

    def fit(a, b, s):
        return make(a, b, seed=s)

    return calibrate_spec(fit, fit(x, y, 0), x, y, xv, yv, classes=k, candidates=candidates, folds=3, seeds=1,
                          refit_scaler=True, feature_names=names, label_name=label_name, **kw).spec


def _run(files, *args: str):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return CliRunner().invoke(app, ["spec", "calibrate", "--train", str(files["train"]), "--val", str(files["val"]),
                                        "--factory", f"{files['factory']}:make", "--folds", "3", *args])


def test_the_command_ships_what_calibrate_spec_chooses_and_prints_the_scores_and_the_cost(files):
    out, report = files["dir"] / "exact.bundle", files["dir"] / "exact.json"
    res = _run(files, "--candidates", "network-anchored,feature-newton,influence", "--out", str(out),
               "--report", str(report))
    assert res.exit_code == 0, res.output
    few = tuple(c for c in CANDIDATES if c.label in ("network-anchored", "feature-newton", "influence"))
    assert out.read_bytes() == _direct(files, few)
    doc = json.loads(report.read_text())
    spec = parse_spec(out.read_bytes())
    assert doc["spec"] == spec.hash and set(doc["fold_rho"]) == {c.label for c in few}
    assert all(len(v) == 3 for v in doc["fold_rho"].values())
    text = " ".join(res.output.split())
    assert f"{doc['retrainings']} retrainings of your model on {doc['bundles']} bundles" in text
    assert doc["shipped"] in text and "shipped" in text and spec.hash in text


def test_a_dp_offer_is_simulated_at_its_epsilon_split_over_the_columns(files):
    out = files["dir"] / "dp.bundle"
    labels = "network-anchored@support=2,influence"
    res = _run(files, "--mechanism", "ml-laplace-rr", "--epsilon", "31", "--epsilon", "310", "--candidates", labels,
               "--out", str(out))
    assert res.exit_code == 0, res.output
    picked = tuple(c for c in DP_CANDIDATES if c.label in labels.split(","))
    assert out.read_bytes() == _direct(files, picked, mechanism="ml-laplace-rr", dp_only=True,
                                       dp_per_column=per_column([31.0, 310.0], 30))
    assert per_column([31.0, 310.0], 30) == [1.0, 10.0]
    # influence is scored but may not price a DP release (its refusal's measured reason)
    assert "not allowed for this mechanism" in res.output
    assert parse_spec(out.read_bytes()).hyper["support"] == 2.0


@pytest.mark.parametrize("args, says", [
    (["--mechanism", "ml-laplace-rr"], "needs the offers' --epsilon"),
    (["--epsilon", "3"], "pass --mechanism ml-laplace-rr"),
    (["--mechanism", "table", "--epsilon", "3"], "no MDE method prices"),
    (["--candidates", "network-anchored,bogus"], "no candidate 'bogus'"),
    (["--candidates", "network-retrain@anchor_labels=1"], "pass --anchor-labels too"),
    (["--candidates", " , "], "names none"),
    (["--folds", "2", "--candidates", "influence"], "folds (2) must be >= 3"),
])
def test_options_that_make_no_calibration_are_one_named_line(files, args, says):
    res = _run(files, *args)
    assert res.exit_code == 1 and says in " ".join(res.output.split()) and "Traceback" not in res.output, res.output


def test_the_buyers_code_is_retrained_with_each_seed_only_if_it_takes_one():
    seen = []
    with_seed = seeded_fit(lambda x, y, seed=0: seen.append(seed) or seed, 2)
    assert [with_seed(None, None, s) for s in (0, 1)] == [0, 1] and seen == [0, 1]
    without = seeded_fit(lambda x, y: "fitted", 1)
    assert without(None, None, 5) == "fitted"
    with pytest.raises(CalibrationInputError, match="needs a factory taking seed="):
        seeded_fit(lambda x, y: None, 2)


def test_a_buyer_calibrates_for_a_hubs_offer_and_buys_with_that_spec(hub, monkeypatch, accounts_dir, tmp_path):
    """Over real HTTP: the offer fixes the mechanism, epsilon and method the calibration simulates
    and may ship; the spec it writes is one the hub takes in a deal."""
    from client.accounts import AccountStore
    from pricing.builders import DP_CANDIDATES as DP
    from tests.client.hubkit import account_of, live_hub
    from tests.oracle.conftest import ml_data

    own = ml_data(160, seed=7)  # the buyer's own rows, in the dataset's 3 columns
    train = tmp_path / "own.csv"
    with train.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["x0", "x1", "x2", "y"])
        w.writerows([[*map(float, r), int(v)] for r, v in zip(own["features"], own["label"])])
    (tmp_path / "buyer.py").write_text(FACTORY)
    out = tmp_path / "offer.bundle"
    base = ["spec", "calibrate", "--train", str(train), "--factory", f"{tmp_path / 'buyer.py'}:make", "--folds", "3"]
    with live_hub(hub) as live:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            res = CliRunner().invoke(app, [*base, "--hub", live.url, "--offer", "mde-dp", "--buyer", hub.buyer,
                                           "--out", str(out)])
        assert res.exit_code == 0, res.output
        for args, says in ((["--offer", "nope"], "makes no offer 'nope'"), (["--offer", "fixed-dp"], "fixed price"),
                           (["--offer", "mde-dp", "--mechanism", "ml-laplace-rr"], "comes from the offer")):
            bad = CliRunner().invoke(app, [*base, "--hub", live.url, "--buyer", hub.buyer, *args])
            assert bad.exit_code == 1 and says in " ".join(bad.output.split()), bad.output
        # the same rows with two columns swapped: refused before any retraining, naming both orders
        swapped = tmp_path / "swapped.csv"
        rows = [r.split(",") for r in train.read_text().splitlines()]
        swapped.write_text("\n".join(",".join([r[1], r[0], *r[2:]]) for r in rows) + "\n")
        bad = CliRunner().invoke(app, [*base[:2], "--train", str(swapped), *base[4:], "--hub", live.url, "--offer",
                                       "mde-dp", "--buyer", hub.buyer])
        assert bad.exit_code == 1 and "retrainings" not in bad.output
        assert ("feature columns ['x1', 'x0', 'x2'] are not the offer's dataset's ['x0', 'x1', 'x2']: name and "
                "order them as the dataset does") in " ".join(bad.output.split()), bad.output
        AccountStore(accounts_dir).import_key("me", account_of(hub, hub.buyer).key, "pw")
        monkeypatch.setenv("SPARTACUS_PASSPHRASE", "pw")
        monkeypatch.setattr("client.commands.connect_chain", lambda network: hub.w3)
        monkeypatch.setattr("client.commands.buyer.PROGRESS_HOOKS", [live.drive()])
        bought = CliRunner().invoke(app, ["buy", "--hub", live.url, "--dataset", "census", "--offer", "mde-dp",
                                          "--spec", str(out), "--budget", str(hub.ETHER), "--poll", "0",
                                          "--state-dir", str(tmp_path / "state"),
                                          "--release", str(tmp_path / "r.safetensors"), "--account", "me"])
    spec = parse_spec(out.read_bytes())
    assert spec.method == "group-influence"  # the offer's method: the only candidates scored
    x, y = own["features"][:128], own["label"][:128]  # --train's first 80%, as buyer_data splits it
    xv, yv = own["features"][128:], own["label"][128:]
    from client.commands.buyer import load_factory

    make = load_factory(f"{tmp_path / 'buyer.py'}:make")
    direct = calibrate_spec(lambda a, b, s: make(a, b, seed=s), make(x, y, seed=0), x, y, xv, yv, classes=2,
                            candidates=tuple(c for c in DP if c.method == "group-influence"), folds=3, seeds=1,
                            refit_scaler=True, feature_names=["x0", "x1", "x2"], label_name="y",
                            mechanism="ml-laplace-rr", dp_only=True, dp_per_column=[1.0 / 4])
    assert out.read_bytes() == direct.spec  # the offer's epsilon 1, split over 3 features and the label
    opened = [a for n, a, _, _ in hub.ex.events() if n == "DealOpened" and a["buyer"] == hub.buyer]
    assert len(opened) == 1, bought.output  # the hub took the terms naming this spec and the deal was opened
    said = " ".join(bought.output.split())
    assert "accepted by the hub" in said and "cannot price" not in said
    # priced with this spec: ε 1 swamps three columns, so it prices the release 0 and the buyer is refunded
    assert ("settled" in said) or ("no efficacy" in said and "buyer credited" in said), said


def test_the_buyers_code_warning_on_every_fit_is_one_line_with_its_count(capsys):
    from client.commands.calibrate import WarningTally

    def fit(x, y, seed):
        warnings.warn("Maximum iterations (150) reached\nsecond line", UserWarning)
        warnings.warn("Maximum iterations (150) reached\nsecond line", UserWarning)  # twice in a fit: counted once
        if seed % 2:
            warnings.warn("odd seed", RuntimeWarning)
        return seed

    tally = WarningTally()
    quiet = tally.quiet(fit)
    assert [quiet(None, None, s) for s in range(5)] == list(range(5))
    assert capsys.readouterr().err == ""  # nothing printed while fitting
    assert tally.lines() == ["your model's code warned on 5 of its 5 fits: UserWarning: Maximum iterations (150) reached",
                             "your model's code warned on 2 of its 5 fits: RuntimeWarning: odd seed"]
