"""Offers: what precision an owner sells a buyer, and what that precision means.

A per-buyer :class:`Offer` is (price rule, epsilon or ``"exact"``, mechanism, bounds).
:meth:`Offer.terms_release` is the ``release`` object of the terms document
(docs/terms.md); :func:`draw_release` is how the hub turns an accepted offer into a
release: it charges the dataset's :class:`~privacy.budget.PrivacyLedger` first (so a
release past the cap is refused before any noise is drawn), then runs the mechanism.
:func:`expected_error` tells the owner, for a column and an epsilon, the error a buyer
will see, per record and on the column's aggregate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any, Mapping

import numpy as np
from scipy.stats import norm

from .budget import PrivacyLedger, to_milli, validate_epsilon
from .errors import InvalidRowCount, InvalidSchema, PrivacyError, UnknownMechanism
from .mechanisms._columns import resolve_split
from .mechanisms.count_min_sketch import DEFAULT_DEPTH, DEFAULT_WIDTH, cms_constants
from .mechanisms.exact import release_exact
from .mechanisms.laplace import discrete_laplace_variance
from .mechanisms.ml import release_ml
from .mechanisms.randomized_response import rr_prob
from .mechanisms.table import release_table
from .release import Release
from .schema import Column, Schema

__all__ = ["MECHANISMS", "Offer", "ExpectedError", "expected_error", "draw_release"]

MECHANISMS = ("ml-laplace-rr", "table", "exact")


@dataclass(frozen=True)
class Offer:
    """An owner's offer to one buyer.

    ``price_rule`` is the pricing package's business (passed through to the terms);
    ``epsilon`` a positive number or ``"exact"``; ``mechanism`` one of
    :data:`MECHANISMS`; ``bounds`` maps numeric column names to the ``(lower, upper)``
    this offer declares (overriding the dataset schema's); ``split`` optional per-column
    epsilon weights; ``clamp`` whether out-of-bounds values are clamped (else refused);
    ``cms`` the count-min sketch's ``depth``/``width`` for string columns.
    """

    price_rule: Mapping[str, Any]
    epsilon: float | str
    mechanism: str = "ml-laplace-rr"
    bounds: Mapping[str, tuple[float, float]] = field(default_factory=dict)
    split: Mapping[str, float] | None = None
    clamp: bool = False
    cms: Mapping[str, int] | None = None

    def __post_init__(self) -> None:
        if self.mechanism not in MECHANISMS:
            raise UnknownMechanism(f"mechanism ({self.mechanism!r}) must be one of {MECHANISMS}")
        if (self.epsilon == "exact") != (self.mechanism == "exact"):
            raise UnknownMechanism(f"epsilon {self.epsilon!r} with mechanism {self.mechanism!r}: "
                                   "an exact release uses epsilon 'exact' and mechanism 'exact'")
        if self.epsilon != "exact":
            validate_epsilon(self.epsilon)

    @property
    def epsilon_milli(self) -> int:
        """The milli-epsilon the hub posts with the quote: ``ceil(epsilon * 1000)`` or EXACT."""
        return to_milli(self.epsilon)

    def apply_bounds(self, schema: Schema) -> Schema:
        """``schema`` with this offer's bounds on the named numeric columns."""
        unknown = set(self.bounds) - {c.name for c in schema.all_columns}
        if unknown:
            raise InvalidSchema(f"offer bounds name unknown column(s) {sorted(unknown)}")

        def fix(c: Column | None) -> Column | None:
            if c is None or c.name not in self.bounds:
                return c
            return replace(c, bounds=tuple(self.bounds[c.name]))

        return Schema(features=tuple(fix(c) for c in schema.features), label=fix(schema.label),
                      columns=tuple(fix(c) for c in schema.columns))

    def terms_release(self) -> dict:
        """The terms document's ``release``: ``{"epsilon": ..., "mechanism": {"name": ..., params}}``."""
        mech: dict[str, Any] = {"name": self.mechanism}
        if self.mechanism != "exact":
            mech["bounds"] = {k: list(v) for k, v in sorted(self.bounds.items())}
            mech["clamp"] = self.clamp
            mech["split"] = dict(self.split) if self.split is not None else "equal"
            mech["neighbouring"] = "replace-one"
            if self.cms:
                mech["cms"] = dict(self.cms)
        return {"epsilon": self.epsilon, "mechanism": mech}

    @classmethod
    def from_terms_release(cls, release: Mapping[str, Any], *, price_rule: Mapping[str, Any]) -> "Offer":
        """Inverse of :meth:`terms_release`."""
        mech = dict(release["mechanism"])
        split = mech.get("split")
        return cls(price_rule=price_rule, epsilon=release["epsilon"], mechanism=mech["name"],
                   bounds={k: tuple(v) for k, v in mech.get("bounds", {}).items()},
                   split=None if split in (None, "equal") else split, clamp=bool(mech.get("clamp", False)),
                   cms=mech.get("cms"))

    def column_epsilons(self, schema: Schema) -> dict[str, float]:
        """Each column's share of epsilon under this offer's split (what it is released at)."""
        cols = (list(schema.features) + ([schema.label] if schema.label else [])
                if self.mechanism == "ml-laplace-rr" else list(schema.columns))
        shares, _ = resolve_split([c.name for c in cols], validate_epsilon(self.epsilon), self.split)
        return {c.name: s for c, s in zip(cols, shares)}

    def expected_errors(self, schema: Schema, rows: int) -> dict[str, "ExpectedError"]:
        """:func:`expected_error` for every column at its share of this offer's epsilon."""
        schema = self.apply_bounds(schema)
        return {name: expected_error(schema.column(name), eps, rows=rows, cms=self.cms)
                for name, eps in self.column_epsilons(schema).items()}


@dataclass(frozen=True)
class ExpectedError:
    """What a buyer will see for one column released at ``epsilon``.

    ``per_record``: the noise standard deviation on each value (Laplace), or the
    probability a record's report is not its true value (randomized response), or the
    standard error of one value's count (CMS). ``aggregate_se``: the standard error of
    the column's mean / proportion / count estimate from ``rows`` records (dataset
    target; the worst case over the data where it depends on them). ``ci95`` its 95%
    half-width.
    """

    column: str
    epsilon: float
    statistic: str
    per_record: float
    per_record_meaning: str
    aggregate_se: float
    rows: int

    @property
    def ci95(self) -> float:
        return float(norm.ppf(0.975)) * self.aggregate_se

    def describe(self) -> str:
        return (f"{self.column} at epsilon={self.epsilon:g}: {self.per_record_meaning} {self.per_record:.4g}; "
                f"the {self.statistic} of {self.rows} rows is within +-{self.ci95:.4g} (95%)")


def expected_error(column: Column, epsilon: float, *, rows: int, cms: Mapping[str, int] | None = None
                   ) -> ExpectedError:
    """The error a buyer sees for ``column`` released alone at ``epsilon`` from ``rows`` records."""
    eps = validate_epsilon(epsilon)
    if isinstance(rows, bool) or not isinstance(rows, int) or rows < 1:
        raise InvalidRowCount(rows)
    if column.kind == "float":
        scale = column.sensitivity / eps
        sd = math.sqrt(2.0) * scale
        return ExpectedError(column.name, eps, "mean", sd, "noise sd per value", sd / math.sqrt(rows), rows)
    if column.kind == "integer":
        sd = math.sqrt(discrete_laplace_variance(column.sensitivity / eps))
        return ExpectedError(column.name, eps, "mean", sd, "noise sd per value", sd / math.sqrt(rows), rows)
    if column.kind in ("boolean", "categorical"):
        k = column.k
        p = rr_prob(eps, k)
        q = (1 - p) / (k - 1)
        worst = max(p * (1 - p), q * (1 - q))
        se = math.sqrt(worst / rows) / (p - q)
        return ExpectedError(column.name, eps, "proportion", 1 - p, "probability a report is false", se, rows)
    if column.kind == "string":
        opts = dict(cms or {})
        m, k = int(opts.get("width", DEFAULT_WIDTH)), int(opts.get("depth", DEFAULT_DEPTH))
        _, c = cms_constants(eps)
        var = (m / (m - 1)) ** 2 * (rows * (c * c - 1) / 4 + rows * (1 / m) * (1 - 1 / m))
        se = math.sqrt(var)
        return ExpectedError(column.name, eps, "count", se / rows, "se of one value's share", se, rows)
    raise InvalidSchema(f"column {column.name!r}: no expected error for kind {column.kind!r}")


def draw_release(offer: Offer, schema: Schema, data: Mapping[str, Any], *, ledger: PrivacyLedger,
                 rng: np.random.Generator | None = None) -> Release:
    """Charge ``ledger`` for ``offer`` and draw its release from ``data``.

    ``data`` holds ``features`` ([n, d]) and ``label`` for ML offers, or one entry per
    column for table offers. The charge comes first: :class:`~privacy.errors.BudgetExceeded`
    is raised before any noise is drawn or any data read. If the mechanism then refuses
    the data (out of bounds, bad schema), it returns nothing and the charge is refunded.
    ``rng=None`` (production) uses OpenDP's samplers; pass a seeded Generator only to simulate.
    """
    milli = offer.epsilon_milli
    ledger.charge(milli)
    try:
        schema = offer.apply_bounds(schema)
        if offer.mechanism == "exact":
            return release_exact(data, schema)
        if offer.mechanism == "ml-laplace-rr":
            return release_ml(data["features"], data.get("label"), schema, validate_epsilon(offer.epsilon),
                              split=offer.split, clamp=offer.clamp, rng=rng)
        return release_table(data, schema, validate_epsilon(offer.epsilon), split=offer.split,
                             clamp=offer.clamp, cms=offer.cms, rng=rng)
    except (PrivacyError, ValueError, KeyError, TypeError):
        # nothing was returned, so nothing about the data left: the charge is undone
        ledger.refund(milli)
        raise
