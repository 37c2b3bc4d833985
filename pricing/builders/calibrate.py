"""`calibrate_spec`: the buyer picks the one method it ships, on its own training data alone.

No method wins on every data set (docs/decisions/2026-12-06-pricing-at-precision.md), and a
buyer must ship one before any seller's data is seen. So the buyer measures, on its own
rows: its training set is cut into `folds` parts; in turn one part judges (the validation
loss that defines a gain, and the spec's probe), the next is the source of candidate bundles
(clean subsets, flipped or random labels, noisy features as a DP release would have them,
copies), and the rest trains the base model. Every bundle is retrained for real with the
buyer's own `fit` and priced by every candidate spec built on that base model; the candidate
whose efficacies rank the bundles most like the retrained gains (mean Spearman over the
folds) is shipped, built once more on the whole training set (with `cheaper_within_se`, the
cheapest budget of that method the folds cannot tell from it: `select_candidate`). No row
judges itself: a row is in at most one of judge, source and base within a fold. Nothing outside `x_train`, `y_train`
is read by the selection (`x_val`, `y_val` only become the shipped spec's probe).

Pure: no I/O; deterministic given a deterministic `fit` (the bundles come from `seed`).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from scipy.stats import spearmanr

from ..errors import SpecError
from ..methods import METHODS
from ..price import efficacy_of
from ..release_fit import DP_MECHANISMS, method_fits_release
from ..spec import parse_spec
from .build import SCALER_AWARE, build_spec
from .extract import predictor

__all__ = ["Candidate", "Calibration", "CANDIDATES", "DP_CANDIDATES", "LABELLED_CANDIDATES", "DP_PREFERRED",
           "calibrate_spec", "calibration_bundles", "fold_parts",
           "select_candidate", "quote_work"]

Fit = Callable[[np.ndarray, np.ndarray, int], Any]


@dataclass(frozen=True)
class Candidate:
    """One method with its hyper-parameters, as the buyer could ship it; `anchor` ships the
    training inputs as the anchor (network-newton's builder then sets its weight), `labels` their
    labels too (network-retrain: the buyer discloses them)."""

    label: str
    method: str
    hyper: Mapping[str, float] = field(default_factory=dict)
    anchor: bool = False
    labels: bool = False  # ships the training labels with the anchor (network-retrain's `anchor_labels`)


# what a buyer of a one-hidden-layer classifier can ship, cheapest to build last
CANDIDATES: tuple[Candidate, ...] = (
    Candidate("network-anchored", "network-newton", {}, True),
    Candidate("network-anchored@steps=4", "network-newton", {"steps": 4.0}, True),
    Candidate("network-anchored@cg_iters=3", "network-newton", {"cg_iters": 3.0}, True),
    Candidate("network-newton", "network-newton", {}),
    Candidate("feature-newton", "feature-newton", {}),
    Candidate("group-influence", "group-influence", {}),
    Candidate("influence", "influence", {}),
)
# what a buyer that will price DP releases can ship besides: network-anchored with the rows outside
# its support dropped (`hyper.support`), which `method_fits_release` allows for DP releases, and
# network-retrain
DP_CANDIDATES: tuple[Candidate, ...] = CANDIDATES + (
    Candidate("network-anchored@support=1", "network-newton", {"support": 1.0}, True),
    Candidate("network-anchored@support=2", "network-newton", {"support": 2.0}, True),
    # the network retrained from scratch on the anchor plus the release: a quote costs `inits`
    # retrainings of it, so it is no candidate for exact bundles (their target is 50x faster)
    Candidate("network-retrain", "network-retrain", {}, True),
)
# for a buyer that will show the hub its training labels too: network-retrain retrained on them
LABELLED_CANDIDATES: tuple[Candidate, ...] = (
    Candidate("network-retrain@anchor_labels=1", "network-retrain", {}, True, True),
)
# the DP calibration's default, the first of these among the candidates: shipped unless a
# candidate beats it on the buyer's folds by more than one standard error (`select_candidate`),
# which often score methods within a few hundredths of each other where the seller's releases
# separate them by 0.2 (docs/decisions/2026-12-07-network-retrain.md)
DP_PREFERRED: tuple[str, ...] = ("network-retrain@anchor_labels=1", "network-retrain")


@dataclass
class Calibration:
    """What `calibrate_spec` chose and what it cost: `spec` is the bundle to ship;
    `spearman[label]` the per-fold rho of each candidate against the buyer's own gains."""

    spec: bytes
    chosen: Candidate
    spearman: dict[str, list[float]]
    retrainings: int
    seconds: float
    bundles: int
    work: dict[str, float] = field(default_factory=dict)

    @property
    def score(self) -> dict[str, float]:
        """Mean rho over the folds, per candidate: the selection's criterion."""
        return {k: float(np.mean(v)) for k, v in self.spearman.items()}


def calibration_bundles(x_src: np.ndarray, y_src: np.ndarray, x_base: np.ndarray, y_base: np.ndarray,
                        classes: int, rng: np.random.Generator,
                        dp_per_column: Sequence[float] = (), dp_only: bool = False) -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Bundles cut from the source rows: what a seller may bring, exact or released with noise.
    Feature noise is Laplace at a multiple of each column's spread, with the labels re-drawn at
    random at the noisiest. `dp_per_column` adds, per value c, the source rows as the
    `ml-laplace-rr` mechanism releases them at epsilon c per column (its public definition:
    Laplace of scale range / c on each feature, the range taken from the buyer's own rows, and
    k-ary randomized response at c on the label): a buyer that will buy DP releases
    calibrates on what they look like. With `dp_only` the bundles are only those: half and all
    of the source rows, each exact and released at every `dp_per_column` (a buyer of DP releases
    ranks precisions, not kinds of defect)."""
    n = len(y_src)
    sd = x_base.std(axis=0)
    out = []

    def pick(m):
        return rng.choice(n, size=max(2, min(n, m)), replace=False)

    def flip(y, rate):
        y = y.copy()
        idx = rng.choice(len(y), size=int(round(rate * len(y))), replace=False)
        y[idx] = (y[idx] + rng.integers(1, classes, size=len(idx))) % classes
        return y

    if dp_only:
        if not len(dp_per_column):
            raise SpecError("dp_only needs dp_per_column: the epsilons per column to release the rows at")
        return _dp_bundles(x_src, y_src, x_base, classes, rng, dp_per_column, (0.5, 1.0))
    for frac in (0.25, 0.5, 1.0):
        i = pick(int(frac * n))
        out.append((f"clean-{frac}", x_src[i], y_src[i]))
    quarter = out[0]
    for rate in (0.3, 0.5):
        i = pick(n)
        out.append((f"flip{int(100 * rate)}", x_src[i], flip(y_src[i], rate)))
    for scale, rate in ((0.3, 0.0), (1.0, 0.1), (3.0, 0.5), (10.0, 1.0 - 1.0 / classes)):
        i = pick(n)
        out.append((f"laplace-{scale}", x_src[i] + scale * sd * rng.laplace(size=(len(i), x_src.shape[1])),
                    flip(y_src[i], rate)))
    j = rng.choice(len(y_base), size=max(2, min(len(y_base), n // 2)), replace=False)
    out.append(("own-copy", x_base[j], y_base[j]))
    out.append(("repeat5", np.tile(quarter[1], (5, 1)), np.tile(quarter[2], 5)))
    if len(dp_per_column):
        out.extend(_dp_bundles(x_src, y_src, x_base, classes, rng, dp_per_column, (1.0,), exact=False))
    return out


def _dp_bundles(x_src, y_src, x_base, classes, rng, dp_per_column, fractions, exact=True):
    """The source rows (each fraction of them) released as `ml-laplace-rr` would at each epsilon
    per column, and exactly when `exact`."""
    lo, hi = x_base.min(axis=0), x_base.max(axis=0)
    width = np.where(hi > lo, hi - lo, 1.0)
    out = []
    for frac in fractions:
        i = rng.choice(len(y_src), size=max(2, int(frac * len(y_src))), replace=False)
        if exact:
            out.append((f"exact-{frac}", x_src[i], y_src[i]))
        for c in dp_per_column:
            keep = np.exp(c) / (np.exp(c) + classes - 1)
            y = y_src[i].copy()
            lie = rng.random(len(i)) >= keep
            y[lie] = (y[lie] + rng.integers(1, classes, size=int(lie.sum()))) % classes
            x = np.clip(x_src[i], lo, hi) + rng.laplace(size=(len(i), x_src.shape[1])) * width / c
            out.append((f"dp-{c:g}" + (f"-{frac}" if exact else ""), x, y))
    return out


def fold_base(parts: Sequence[np.ndarray], f: int) -> np.ndarray:
    """Fold f's base rows: every part but its judge (part f) and its source (the next)."""
    return np.concatenate([p for g, p in enumerate(parts) if g not in (f, (f + 1) % len(parts))])


def fold_parts(y: np.ndarray, folds: int, perm: np.ndarray) -> list[np.ndarray]:
    """The training rows cut into `folds` parts in the order of `perm`. When that leaves a fold's
    base (the parts but its judge and source) without one of y's classes, whose model then could
    not score it, the rows are dealt class by class round the parts instead: a class of >= 3 rows
    lands in 3 parts, so every base holds it. A class of 1 or 2 rows raises `SpecError`."""
    parts = np.array_split(perm, folds)
    present = np.unique(y)
    if all(np.isin(present, y[fold_base(parts, f)]).all() for f in range(folds)):
        return parts
    counts = np.bincount(y)
    rare = {int(k): int(c) for k, c in enumerate(counts) if 0 < c < 3}
    if rare:
        raise SpecError(f"classes {sorted(rare)} have only {sorted(rare.values())} training rows: the calibration's "
                        "folds need >= 3 of every class (one in each of three parts); merge or drop those classes, "
                        "or add rows")
    order = perm[np.argsort(y[perm], kind="stable")]  # by class, each in perm's order
    return [order[f::folds] for f in range(folds)]


def quote_work(spec: Any) -> float:
    """A parsed spec's refit work: steps times CG iterations a step times starts (each 1 when the
    method has none). Compares the budgets of one method, whose quotes cost in proportion."""
    h = spec.hyper
    return float(h.get("steps", 1.0) * h.get("cg_iters", 1.0) * h.get("inits", 1.0))


def _paired_margin(best: Sequence[float], other: Sequence[float]) -> tuple[float, float]:
    """(mean of best - other over the folds, its standard error): the two were scored on the
    same folds, so what makes one fold harder for both cancels in the difference."""
    diff = np.asarray(best, np.float64) - np.asarray(other, np.float64)
    se = float(np.std(diff, ddof=1) / np.sqrt(len(diff))) if len(diff) > 1 else 0.0
    return float(diff.mean()), se


def select_candidate(candidates: Sequence[Candidate], spearman: Mapping[str, Sequence[float]],
                     work: Mapping[str, float], *, cheaper_within_se: bool = False,
                     prefer: str | Sequence[str] | None = None) -> Candidate:
    """The candidate to ship: the best mean rho over the folds (the first of equals, in the
    given order); with `cheaper_within_se`, the least-work budget of that same method (same
    `method` and `anchor`) that trails it by at most one standard error of their paired fold
    differences: the folds cannot tell the two apart (the one-standard-error rule of Breiman
    et al. 1984, ESL 7.10, on the paired difference). Only budgets of one method compete on
    work: another method's speed is no evidence of its prices. Off by default: on the benchmark
    it bought 1.2-1.9x faster quotes for up to 0.08 less rho on the seller's bundles, clearing
    two target misses and causing one (docs/decisions/2026-12-07-cheaper-budget-within-one-se.md).
    `prefer` names the buyer's default (a candidate's label, or labels in order: the first among
    the candidates): it ships unless the best beats it
    by more than one standard error of their paired fold differences, so fold noise alone does
    not overturn a method validated on the seller's kind of release (`DP_PREFERRED`)."""
    if not candidates:
        raise SpecError("no candidates to choose from: pass at least one Candidate")
    missing = [c.label for c in candidates if c.label not in spearman or (cheaper_within_se and c.label not in work)]
    if missing:
        raise SpecError(f"no fold scores{' or work' if cheaper_within_se else ''} for {missing}: "
                        "pass the Calibration's spearman and work for every candidate")
    mean = {c.label: float(np.mean(spearman[c.label])) for c in candidates}
    best = max(candidates, key=lambda c: mean[c.label])
    prefer = (prefer,) if isinstance(prefer, str) else tuple(prefer or ())
    default = next((c for p in prefer for c in candidates if c.label == p), None)
    if default is not None and default is not best:
        gap, se = _paired_margin(spearman[best.label], spearman[default.label])
        if gap <= se:
            best = default
    if not cheaper_within_se:
        return best

    def indistinct(c: Candidate) -> bool:
        gap, se = _paired_margin(spearman[best.label], spearman[c.label])
        return gap <= se

    peers = [c for c in candidates if (c.method, c.anchor) == (best.method, best.anchor) and indistinct(c)]
    return min(peers, key=lambda c: work[c.label])  # min keeps the first of equal work


def _log_loss(model: Any, x: np.ndarray, y: np.ndarray, classes: int) -> float:
    p = np.clip(predictor(model, classes)(x), 1e-15, 1.0)
    p = p / p.sum(axis=1, keepdims=True)
    return float(-np.mean(np.log(p[np.arange(len(y)), y])))


def calibrate_spec(fit: Fit, model: Any, x_train: np.ndarray, y_train: np.ndarray, x_val: np.ndarray,
                   y_val: np.ndarray, *, classes: int, candidates: Sequence[Candidate] | None = None,
                   folds: int = 4, seeds: int = 2, seed: int = 0, refit_scaler: bool = True,
                   dp_per_column: Sequence[float] = (), dp_only: bool = False, mechanism: str | None = None,
                   cheaper_within_se: bool = False, prefer: str | Sequence[str] | None = None,
                   progress: Callable[[int, int], None] | None = None, **build: Any) -> Calibration:
    """Choose, on the buyer's training rows alone, the candidate whose efficacies best predict
    the buyer's own retrained gains, and ship it built on `model` and the whole training set.

    `fit(x, y, seed)` retrains the buyer's model (its architecture and weight decay) and must
    be deterministic; `model` is the buyer's trained model. `x_val`, `y_val` are only the
    shipped spec's probe. `refit_scaler` tells the Newton methods the buyer's pipeline refits
    its scaler. `dp_per_column` adds bundles released as a DP mechanism would at those epsilons
    per column (`calibration_bundles`), for a buyer that will price DP releases; `dp_only` makes
    them the only bundles (exact and released subsets of the source rows). With `mechanism`
    every candidate is still scored, but only one that `method_fits_release` allows for that
    mechanism (with its hyper-parameters) is shipped; `candidates` defaults to `CANDIDATES`, and
    to `DP_CANDIDATES` for a DP mechanism. `cheaper_within_se` ships the cheapest budget of the
    winning method within one standard error of it (`select_candidate`): for a buyer to whom
    quote time matters more than the last few hundredths of rho. `prefer` is the label of the
    buyer's default candidate (`select_candidate`); None: `DP_PREFERRED` for a DP mechanism (when
    among the candidates), no default otherwise; "" for none. `progress(done, folds)` is called
    after each fold (a command's progress bar).
    Costs `folds * seeds * (bundles + 1)` retrainings (`Calibration.retrainings`)."""
    if classes < 2:
        raise SpecError(f"calibrate_spec needs a classifier (classes >= 2), got classes={classes}")
    if folds < 3:
        raise SpecError(f"folds ({folds}) must be >= 3: each fold needs a judge, a source and a base part")
    if any(not c > 0 for c in dp_per_column):
        raise SpecError(f"dp_per_column ({list(dp_per_column)}) must hold positive epsilons per column")
    if candidates is None:
        candidates = DP_CANDIDATES if mechanism in DP_MECHANISMS else CANDIDATES
    if not candidates:
        raise SpecError("no candidates to choose from: pass at least one Candidate")
    for c in candidates:
        if c.method not in METHODS:
            raise SpecError(f"candidate {c.label!r}: unknown method {c.method!r}; one of {sorted(METHODS)}")
    x_train, y_train = np.asarray(x_train, np.float64), np.asarray(y_train, np.int64)
    t0 = time.perf_counter()
    rng = np.random.Generator(np.random.PCG64(seed))
    parts = fold_parts(y_train, folds, rng.permutation(len(y_train)))
    rhos: dict[str, list[float]] = {c.label: [] for c in candidates}
    work: dict[str, float] = {}
    retrainings = bundles_seen = 0

    def hyper_of(c: Candidate) -> dict[str, float]:
        return {**({"refit_scaler": 1.0} if refit_scaler and c.method in SCALER_AWARE else {}), **c.hyper}

    for f in range(folds):
        judge, source = parts[f], parts[(f + 1) % folds]
        base = fold_base(parts, f)
        xa, ya, xj, yj = x_train[base], y_train[base], x_train[judge], y_train[judge]
        bundles = calibration_bundles(x_train[source], y_train[source], xa, ya, classes, rng, dp_per_column, dp_only)
        base_models = [fit(xa, ya, s) for s in range(seeds)]
        base_loss = [_log_loss(m, xj, yj, classes) for m in base_models]
        gains = np.array([np.mean([base_loss[s] - _log_loss(fit(np.concatenate([xa, bx]), np.concatenate([ya, by]), s),
                                                             xj, yj, classes) for s in range(seeds)])
                          for _, bx, by in bundles])
        retrainings += seeds * (len(bundles) + 1)
        bundles_seen += len(bundles)
        base_model = base_models[0]
        for c in candidates:
            spec = parse_spec(build_spec(c.method, base_model, xa, ya, xj, yj, classes=classes, seed=seed,
                                         hyper=hyper_of(c), anchor=xa if c.anchor else None,
                                         anchor_labels=ya if c.labels else None, **build))
            work[c.label] = quote_work(spec)
            eff = np.array([efficacy_of(spec, bx, by)[0] for _, bx, by in bundles])
            r = spearmanr(eff, gains)[0]
            rhos[c.label].append(float(r) if np.isfinite(r) else 0.0)
        if progress is not None:
            progress(f + 1, folds)
    allowed = [c for c in candidates if mechanism is None or method_fits_release(c.method, mechanism, hyper_of(c))[0]]
    if not allowed:
        raise SpecError(f"no candidate may price {mechanism!r} releases (pricing.method_fits_release): "
                        f"add one of the methods it allows")
    if prefer is None:
        prefer = DP_PREFERRED if mechanism in DP_MECHANISMS else ""
    chosen = select_candidate(allowed, rhos, work, cheaper_within_se=cheaper_within_se, prefer=prefer or None)
    spec = build_spec(chosen.method, model, x_train, y_train, x_val, y_val, classes=classes, seed=seed,
                      hyper=hyper_of(chosen), anchor=x_train if chosen.anchor else None,
                      anchor_labels=y_train if chosen.labels else None, **build)
    return Calibration(spec=spec, chosen=chosen, spearman=rhos, retrainings=retrainings,
                       seconds=time.perf_counter() - t0, bundles=bundles_seen, work=work)
