"""Offers: what precision an owner sells a buyer, and what that precision means.

A per-buyer :class:`Offer` is (price rule, epsilon or ``"exact"``, mechanism, bounds).
:meth:`Offer.terms_release` is the ``release`` object of the terms document
(docs/terms.md), every number in it a string as the protocol pins them (epsilon as its
shortest decimal, bounds and split weights likewise, count-min-sketch sizes as integers);
:meth:`Offer.from_terms_release` reads it back to the same offer. :func:`draw_release` is how the hub turns an accepted offer into a
release: it charges the dataset's :class:`~privacy.budget.PrivacyLedger` first (so a
release past the cap is refused before any noise is drawn), then runs the mechanism.
:func:`expected_error` tells the owner, for a column and an epsilon, the error a buyer
will see, per record and on the column's aggregate.
"""

from __future__ import annotations

import math
import numbers
import re
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any, Mapping

import numpy as np
from scipy.stats import norm

from .budget import PrivacyLedger, format_epsilon, parse_epsilon, to_milli, validate_epsilon
from .errors import InvalidRowCount, InvalidSchema, InvalidTermsRelease, PrivacyError, UnknownMechanism
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
NEIGHBOURING = "replace-one"
_MECH_FIELDS = ("name", "bounds", "clamp", "split", "neighbouring", "cms")
_CMS_FIELDS = ("depth", "width")
# a JSON number written as a string (exponent bounded: no 10**(10**9) from a terms document)
_NUMBER_TEXT = re.compile(r"-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]{1,3})?\Z")
_INT_TEXT = re.compile(r"-?(0|[1-9][0-9]*)\Z")


def _number_text(value: Any, field: str) -> str:
    """A mechanism parameter in the terms' string form: an integer's digits, a float's shortest
    decimal (``repr``'s digits) in plain notation (``120.0 -> "120"``, ``1e-05 -> "0.00001"``)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidTermsRelease(field, value, "must be a number (an int or a finite float)")
    if isinstance(value, numbers.Integral):
        return str(int(value))
    f = float(value)
    if not math.isfinite(f):
        raise InvalidTermsRelease(field, value, "must be finite")
    text = format(Decimal(repr(f)).normalize(), "f")
    return "0" if text == "-0" else text


def _number(value: Any, field: str) -> int | float:
    """Inverse of :func:`_number_text`: an int for integer digits, else the nearest float; a JSON
    number (an older offer's form) is taken as it is."""
    if isinstance(value, str):
        if not _NUMBER_TEXT.match(value):
            raise InvalidTermsRelease(field, value, 'must be a decimal string such as "0", "120" or "0.5"')
        return int(value) if _INT_TEXT.match(value) else float(value)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise InvalidTermsRelease(field, value, 'must be a decimal string such as "0", "120" or "0.5"')
    return value


def _uint(value: Any, field: str) -> int:
    out = _number(value, field)
    if not isinstance(out, int) or out < 1:
        raise InvalidTermsRelease(field, value, 'must be a positive integer as a decimal string, e.g. "1024"')
    return out


def _mapping(value: Any, field: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidTermsRelease(field, value, "must be an object")
    return value


def _only(obj: Mapping[str, Any], allowed: tuple[str, ...], field: str) -> None:
    extra = sorted(set(obj) - set(allowed))
    if extra:
        raise InvalidTermsRelease(field, extra, f"are fields an offer does not write; allowed: {list(allowed)}")


@dataclass(frozen=True)
class Offer:
    """An owner's offer to one buyer.

    ``price_rule`` is the pricing package's business (passed through to the terms);
    ``epsilon`` a positive number or ``"exact"`` (a decimal string such as ``"0.25"`` is read
    with :func:`~privacy.budget.parse_epsilon` and kept as that float); ``mechanism`` one of
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
        if isinstance(self.epsilon, str) and self.epsilon != "exact":
            object.__setattr__(self, "epsilon", parse_epsilon(self.epsilon))
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
        """The terms document's ``release``: ``{"epsilon": "<decimal>" | "exact", "mechanism": {"name": ...,
        params}}``, every number a string (protocol.md, "Terms document"), so terms built from it parse."""
        mech: dict[str, Any] = {"name": self.mechanism}
        if self.mechanism != "exact":
            mech["bounds"] = {k: [_number_text(x, f"mechanism.bounds.{k}") for x in v]
                              for k, v in sorted(self.bounds.items())}
            mech["clamp"] = self.clamp
            if self.split is None:
                mech["split"] = "equal"
            elif isinstance(self.split, Mapping):
                mech["split"] = {k: _number_text(w, f"mechanism.split.{k}") for k, w in self.split.items()}
            else:
                mech["split"] = [_number_text(w, f"mechanism.split[{i}]") for i, w in enumerate(self.split)]
            mech["neighbouring"] = NEIGHBOURING
            if self.cms:
                mech["cms"] = {k: _number_text(v, f"mechanism.cms.{k}") for k, v in self.cms.items()}
        return {"epsilon": format_epsilon(self.epsilon), "mechanism": mech}

    @classmethod
    def from_terms_release(cls, release: Mapping[str, Any], *, price_rule: Mapping[str, Any]) -> "Offer":
        """Inverse of :meth:`terms_release`: the offer a terms document's ``release`` names.

        Takes the protocol's strings (``"epsilon": "0.25"`` or ``"exact"``, bounds and weights as
        decimal strings); JSON numbers there are still read. Raises :class:`InvalidTermsRelease`
        for a field an offer does not write or a value of the wrong form, and
        :class:`~privacy.errors.InvalidEpsilon` for an epsilon outside the protocol's grammar."""
        release = _mapping(release, "(release)")
        _only(release, ("epsilon", "mechanism"), "(release)")
        if "epsilon" not in release or "mechanism" not in release:
            raise InvalidTermsRelease("(release)", sorted(release), "must hold both 'epsilon' and 'mechanism'")
        epsilon = release["epsilon"]
        epsilon = parse_epsilon(epsilon) if isinstance(epsilon, str) else epsilon
        mech = _mapping(release["mechanism"], "mechanism")
        _only(mech, ("name",) if mech.get("name") == "exact" else _MECH_FIELDS, "mechanism")
        name = mech.get("name")
        if not isinstance(name, str):
            raise InvalidTermsRelease("mechanism.name", name, f"must name a mechanism, one of {MECHANISMS}")
        if mech.get("neighbouring", NEIGHBOURING) != NEIGHBOURING:
            raise InvalidTermsRelease("mechanism.neighbouring", mech["neighbouring"],
                                      f"must be {NEIGHBOURING!r}, the only neighbouring relation this package releases under")
        clamp = mech.get("clamp", False)
        if not isinstance(clamp, bool):
            raise InvalidTermsRelease("mechanism.clamp", clamp, "must be a JSON boolean (true or false)")
        bounds = {}
        for k, v in _mapping(mech.get("bounds", {}), "mechanism.bounds").items():
            if not isinstance(v, (list, tuple)) or len(v) != 2:
                raise InvalidTermsRelease(f"mechanism.bounds.{k}", v, 'must be [lower, upper], e.g. ["0", "120"]')
            bounds[k] = tuple(_number(x, f"mechanism.bounds.{k}") for x in v)
        split = mech.get("split", "equal")
        if split == "equal":
            split = None
        elif isinstance(split, Mapping):
            split = {k: _number(w, f"mechanism.split.{k}") for k, w in split.items()}
        elif isinstance(split, (list, tuple)):
            split = [_number(w, f"mechanism.split[{i}]") for i, w in enumerate(split)]
        else:
            raise InvalidTermsRelease("mechanism.split", split, '"equal", or per-column weights as decimal strings')
        cms = mech.get("cms")
        if cms is not None:
            cms = _mapping(cms, "mechanism.cms")
            _only(cms, _CMS_FIELDS, "mechanism.cms")
            cms = {k: _uint(v, f"mechanism.cms.{k}") for k, v in cms.items()}
        return cls(price_rule=price_rule, epsilon=epsilon, mechanism=name, bounds=bounds, split=split, clamp=clamp,
                   cms=cms)

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
