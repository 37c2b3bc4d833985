"""The buyer's estimators: unbiased aggregates from one release or many, with variances.

Every estimator returns an :class:`Estimate` (value, variance, ``ci(alpha)``) and reads
all it needs from the release's metadata. Two targets:

* ``target="dataset"`` (default): the aggregate of the finite data set that was released
  (the clamped data, for Laplace). The variance is the noise's alone, in closed form.
* ``target="population"``: the records are an i.i.d. sample of a population and the
  estimand is the population aggregate; the variance adds the sampling variance
  (Warner 1965's formula for randomized response), estimated from the release.

Combining releases (:func:`combine`) weights each estimate by its inverse variance
(the minimum-variance unbiased linear combination when the estimates share one estimand,
e.g. many owners' samples of one population at mixed epsilons). Weights computed from
plug-in variances that depend on the estimate itself (population targets, histograms)
add an O(1/n) bias; the dataset-target variances of randomized response on booleans,
Laplace and discrete Laplace do not depend on the data, so their combination is exactly
unbiased.

Clamping bias: the mean of a Laplace column is unbiased for the mean of the data
*after clamping to the declared bounds*; when values were clamped (``"clamped": true``
and data outside the bounds) that differs from the raw mean, and no estimator can
recover the difference from the release.

Citations: Warner (1965) for randomized response; Kairouz, Oh, Viswanath (2014) and
Wang, Blocki, Li, Jha (USENIX Security 2017) for the k-ary histogram; Apple (2017) for
the count-min sketch.
"""

from __future__ import annotations

import math
import numbers
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

import numpy as np
from scipy.stats import norm

from .errors import (CategoryRequired, InvalidAlpha, InvalidProbability, InvalidRelease, NoEstimates, NoRecords,
                     NotACategory, UnknownNoise, UnknownTarget)
from .mechanisms.count_min_sketch import cms_constants, cms_hashes
from .mechanisms.laplace import discrete_laplace_variance
from .release import MalformedRelease, Release, schema_of

__all__ = [
    "Estimate", "TARGETS", "NOISES",
    "proportion_from_reports", "histogram_from_reports", "mean_from_noisy", "frequency_from_sketch",
    "cms_variance", "sketch_f2",
    "combine", "estimate_proportion", "estimate_histogram", "estimate_mean", "estimate_frequency",
]

TARGETS = ("dataset", "population")
NOISES = ("laplace", "discrete-laplace", "none")


@dataclass(frozen=True)
class Estimate:
    """An unbiased estimate with its variance; ``ci(alpha)`` is the normal-approximation interval."""

    value: float
    variance: float
    n: int | None = None

    @property
    def std_error(self) -> float:
        return math.sqrt(self.variance)

    def ci(self, alpha: float = 0.05) -> tuple[float, float]:
        """Two-sided ``1 - alpha`` confidence interval ``value +- z_(1-alpha/2) * std_error``."""
        if isinstance(alpha, bool) or not isinstance(alpha, numbers.Real) or not 0.0 < alpha < 1.0:
            raise InvalidAlpha(alpha)
        half = float(norm.ppf(1.0 - alpha / 2.0)) * self.std_error
        return (self.value - half, self.value + half)

    def __str__(self) -> str:
        lo, hi = self.ci()
        return f"{self.value:.6g} (se {self.std_error:.3g}, 95% CI [{lo:.6g}, {hi:.6g}])"


def _check_target(target: str) -> None:
    if target not in TARGETS:
        raise UnknownTarget(target, TARGETS)


def _rr_q(prob: float, k: int) -> float:
    return (1.0 - prob) / (k - 1)


def histogram_from_reports(reports, *, prob: float, k: int, target: str = "dataset") -> list[Estimate]:
    """Unbiased share of each category ``0..k-1`` from k-ary randomized-response reports.

    ``pi^_c = (lambda^_c - q) / (prob - q)`` with ``q = (1 - prob)/(k - 1)`` and
    ``lambda^_c`` the observed share. Variance (dataset target):
    ``(pi p(1-p) + (1-pi) q(1-q)) / (n (p-q)^2)``; population target:
    ``lambda (1-lambda) / (n (p-q)^2)``; unknown shares plugged in from the estimate.
    """
    _check_target(target)
    r = np.asarray(reports, dtype=np.int64)
    n = r.size
    if n == 0:
        raise NoRecords("reports")
    q = _rr_q(prob, k)
    d = prob - q
    if d <= 0:
        raise InvalidProbability(prob, q, k)
    lam = np.bincount(r, minlength=k)[:k] / n
    pi = (lam - q) / d
    out = []
    for c in range(k):
        if target == "dataset":
            p_c = min(max(pi[c], 0.0), 1.0)
            var = (p_c * prob * (1 - prob) + (1 - p_c) * q * (1 - q)) / (n * d * d)
        else:
            var = lam[c] * (1 - lam[c]) / (n * d * d)
        out.append(Estimate(float(pi[c]), float(var), n))
    return out


def proportion_from_reports(reports, *, prob: float, k: int = 2, category: int = 1,
                            target: str = "dataset") -> Estimate:
    """Unbiased proportion of ``category`` (default 1 / True) from randomized-response reports.

    For booleans (Warner 1965): ``pi^ = (lambda^ - (1 - p)) / (2p - 1)``, dataset-target
    variance ``p (1-p) / (n (2p-1)^2)`` (independent of the data), population-target
    variance ``pi(1-pi)/n + p(1-p)/(n(2p-1)^2)``, estimated as ``lambda^(1-lambda^)/(n(2p-1)^2)``.
    """
    return histogram_from_reports(reports, prob=prob, k=k, target=target)[category]


def mean_from_noisy(values, *, scale: float, noise: str = "laplace", target: str = "dataset") -> Estimate:
    """Unbiased mean of the (clamped) data from Laplace / discrete-Laplace noisy values.

    Dataset target: variance ``Var(noise) / n`` with ``Var = 2 scale^2`` (Laplace) or
    ``2a/(1-a)^2, a = e^(-1/scale)`` (discrete Laplace). Population target: the sample
    variance of the noisy values over ``n`` (data spread plus noise).
    """
    _check_target(target)
    if noise not in NOISES:
        raise UnknownNoise(noise, NOISES)
    x = np.asarray(values, dtype=np.float64)
    n = x.size
    if n == 0:
        raise NoRecords("values")
    if target == "population":
        var = float(np.var(x, ddof=1)) / n if n > 1 else math.inf
    elif noise == "laplace":
        var = 2.0 * scale * scale / n
    elif noise == "discrete-laplace":
        var = discrete_laplace_variance(scale) / n
    elif noise == "none":
        var = 0.0
    else:
        raise UnknownNoise(noise, NOISES)
    return Estimate(float(x.mean()), var, n)


def cms_variance(n: int, f: float, f2: float, *, epsilon: float, depth: int, width: int) -> float:
    """Variance of the CMS count estimate of a value with count ``f`` among ``n`` records
    whose squared counts sum to ``f2``, over privacy coins, hash choice and hash family::

        (m/(m-1))^2 * ( n (c^2-1)/4                          privacy coins
                        + (n - f)(1/m)(1 - 1/m)               collisions
                        + (f2 - f^2 - (n - f))(1/(k m))(1 - 1/m) )   records sharing a value and a row
    """
    _, c = cms_constants(epsilon)
    m, k = width, depth
    shared = max(f2 - f * f - (n - f), 0.0)
    return (m / (m - 1)) ** 2 * (n * (c * c - 1) / 4 + (n - f) * (1 / m) * (1 - 1 / m)
                                 + shared / (k * m) * (1 - 1 / m))


def sketch_f2(sketch, *, epsilon: float, rows: int) -> float:
    """Unbiased estimate of ``sum_d f(d)^2`` from the sketch, clipped to its range ``[n, n^2]``.

    ``E[sum M^2] = k^2 (A + m n (c^2-1)/4)`` with ``A = sum_{j,l} a_{jl}^2`` and
    ``E[A] = F2/k + n(1 - 1/k) + (n^2 - F2)/(k m)``; solved for ``F2``.
    """
    M = np.asarray(sketch, dtype=np.float64)
    k, m = M.shape
    n = rows
    _, c = cms_constants(epsilon)
    A = float(np.sum(M * M)) / (k * k) - m * n * (c * c - 1) / 4
    f2 = (A - n * (1 - 1 / k) - n * n / (k * m)) / (1 / k - 1 / (k * m))
    return float(min(max(f2, n), float(n) * n))


def frequency_from_sketch(sketch, value: str, *, epsilon: float, depth: int, width: int, salt: str | bytes,
                          rows: int) -> Estimate:
    """Unbiased count of ``value`` from Apple's private count-min sketch.

    ``f^ = m/(m-1) * ((1/k) sum_j M[j, h_j(value)] - n/m)``, unbiased over the privacy
    coins, the hash choice and the random hash family (a fresh salt per release). The
    variance is :func:`cms_variance` with ``f`` (clipped to [0, n]) and ``sum f^2``
    (:func:`sketch_f2`) plugged in from the same sketch.
    """
    M = np.asarray(sketch, dtype=np.float64)
    if M.shape != (depth, width):
        raise InvalidRelease(f"sketch has shape {M.shape}; metadata says [{depth}, {width}]")
    salt_b = bytes.fromhex(salt) if isinstance(salt, str) else salt
    m, k, n = width, depth, rows
    total = float(M[np.arange(k), cms_hashes(value, k, m, salt_b)].sum()) / k
    f = m / (m - 1) * (total - n / m)
    f_c = min(max(f, 0.0), float(n))
    f2 = max(sketch_f2(M, epsilon=epsilon, rows=n), f_c * f_c)
    var = cms_variance(n, f_c, f2, epsilon=epsilon, depth=k, width=m)
    return Estimate(float(f), float(var), n)


def combine(estimates: Iterable[Estimate]) -> Estimate:
    """Inverse-variance weighted combination of estimates of one estimand.

    Zero-variance (exact) estimates dominate: if any is present, their plain mean is returned.
    """
    ests = list(estimates)
    if not ests:
        raise NoEstimates()
    exact = [e for e in ests if e.variance == 0]
    n_total = sum(e.n or 0 for e in ests) or None
    if exact:
        return Estimate(float(np.mean([e.value for e in exact])), 0.0, n_total)
    w = np.array([1.0 / e.variance for e in ests])
    v = np.array([e.value for e in ests])
    return Estimate(float(np.sum(w * v) / np.sum(w)), float(1.0 / np.sum(w)), n_total)


# ---- release-level: read the parameters from the metadata -------------------------------

def _params(release: Release, column: str) -> dict:
    try:
        return release.column_mechanism(column)
    except MalformedRelease as exc:
        raise InvalidRelease(str(exc)) from None


def _category_index(release: Release, column: str, category: Any) -> tuple[int, int]:
    col = schema_of(release).column(column)
    if col.kind == "boolean":
        cats: Sequence[Any] = (False, True)
        default = 1
    elif col.kind == "categorical":
        cats = col.categories
        default = None
    else:
        raise InvalidRelease(f"column {column!r} is {col.kind}; proportions need a boolean or categorical column")
    if category is None:
        if default is None:
            raise CategoryRequired(column, tuple(cats))
        return default, len(cats)
    if category in cats:
        return list(cats).index(category), len(cats)
    raise NotACategory(column, category, tuple(cats))


def estimate_histogram(release: Release, column: str, *, target: str = "dataset") -> dict[Any, Estimate]:
    """Share of every category of a boolean/categorical column, keyed by category."""
    col = schema_of(release).column(column)
    cats = (False, True) if col.kind == "boolean" else col.categories
    if cats is None:
        raise InvalidRelease(f"column {column!r} is {col.kind}; a histogram needs a boolean or categorical column")
    params = _params(release, column)
    reports = release.column(column)
    if params["name"] == "exact":
        return {c: e for c, e in zip(cats, histogram_from_reports(reports, prob=1.0, k=len(cats), target=target))}
    if params["name"] not in ("randomized-response", "randomized-response-bool"):
        raise InvalidRelease(f"column {column!r} was released by {params['name']!r}, not randomized response")
    ests = histogram_from_reports(reports, prob=params["prob"], k=int(params["k"]), target=target)
    return dict(zip(cats, ests))


def estimate_proportion(release: Release, column: str, *, category: Any = None,
                        target: str = "dataset") -> Estimate:
    """Proportion of ``category`` (True for a boolean column) in a randomized-response column."""
    idx, _ = _category_index(release, column, category)
    return list(estimate_histogram(release, column, target=target).values())[idx]


def estimate_mean(release: Release, column: str, *, target: str = "dataset") -> Estimate:
    """Mean of a Laplace / discrete-Laplace column (unbiased for the clamped data's mean)."""
    params = _params(release, column)
    values = release.column(column)
    name = params["name"]
    if name == "exact":
        return mean_from_noisy(values, scale=0.0, noise="none", target=target)
    if name in ("laplace", "discrete-laplace"):
        return mean_from_noisy(values, scale=params["scale"], noise=name, target=target)
    if name in ("randomized-response-bool",):
        return estimate_proportion(release, column, target=target)
    raise InvalidRelease(f"column {column!r} was released by {name!r}; a mean needs a Laplace column")


def estimate_frequency(release: Release, column: str, value: str) -> Estimate:
    """Count of ``value`` in a string column released as Apple's private count-min sketch."""
    p = _params(release, column)
    if p["name"] != "count-min-sketch":
        raise InvalidRelease(f"column {column!r} was released by {p['name']!r}, not count-min-sketch")
    return frequency_from_sketch(release.column(column), value, epsilon=p["epsilon"], depth=int(p["depth"]),
                                 width=int(p["width"]), salt=p["salt"], rows=int(p["rows"]))
