"""Sanitized offers: the precision ``sanitized(p=..., alpha=...)`` an owner can sell, its terms
``release`` object, what it spends on the chain's ledger, and how the hub draws it.

A sanitized release carries **no epsilon guarantee**: the learned sanitizer
(privacy.mechanisms.sanitizer) is an empirical defence against inferring one private column,
so on the ledger it counts as an exact release (``EXACT``; the dataset's cap must be EXACT).
Followed by a DP mechanism (``"then": "ml-laplace-rr"``), the release spends that mechanism's
epsilon, ``ceil(1000 * epsilon)`` milli-epsilon, exactly as any other epsilon release.

Terms ``release`` object (every parameter a JSON string, as docs/terms.md requires)::

    {"epsilon": "exact", "mechanism": {"name": "sanitizer", "private": "sex", "alpha": "0.9",
                                       "variant": "stochastic"}}
    {"epsilon": "0.5",   "mechanism": {"name": "sanitizer", "private": "sex", "alpha": "0.9",
                                       "variant": "deterministic", "then": "ml-laplace-rr"}}

``utility`` (the label column) may be added to the mechanism, and ``guarantee``: `terms_release`
always writes it, the text of `describe` (what the buyer is told about the accounting); a terms
object that carries it must carry exactly that text. Nothing else may be added.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Mapping

import numpy as np

from .budget import EXACT, MAX_MILLI, PrivacyLedger
from .errors import InvalidEpsilon, MalformedSanitizedOffer, PrivacyError
from .mechanisms.sanitizer import VARIANTS, Sanitizer, canonical_alpha, release_sanitized, release_sanitized_ml
from .release import Release
from .schema import Schema

__all__ = ["DISCLOSURE", "THEN", "SanitizedOffer", "parse_precision", "precision_epsilon_milli",
           "draw_sanitized_release"]

THEN = ("ml-laplace-rr",)
DISCLOSURE = ("no epsilon guarantee: a learned sanitizer trained so that {private!r} cannot be inferred from the "
              "released features (alpha {alpha}); an empirical defence, measured against fresh adversaries, not "
              "differential privacy; it counts as an exact release on the chain's ledger")
_DECIMAL = re.compile(r"(0|[1-9][0-9]*)(\.[0-9]+)?\Z")
_MECH_KEYS = {"name", "private", "alpha", "variant", "utility", "then", "guarantee"}
_PRECISION = re.compile(r"\s*sanitized\s*\((?P<args>[^()]*)\)\s*\Z")


def _decimal_epsilon(text: object) -> str:
    if text == "exact":
        return "exact"
    if not isinstance(text, str) or not _DECIMAL.match(text) or Fraction(text) == 0:
        raise MalformedSanitizedOffer(f"epsilon ({text!r}) must be 'exact' or a positive decimal string like '0.5'")
    return text


@dataclass(frozen=True)
class SanitizedOffer:
    """The precision ``sanitized(p=private, alpha=alpha)``: a sanitizer of ``variant`` hiding
    ``private``, optionally followed by the DP mechanism ``then`` at ``epsilon`` (a decimal
    string; ``"exact"`` when nothing follows)."""

    private: str
    alpha: str
    variant: str = "deterministic"
    epsilon: str = "exact"
    then: str | None = None
    utility: str | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.private, str) or not self.private:
            raise MalformedSanitizedOffer(f"private ({self.private!r}) must name a column")
        if self.utility is not None and (not isinstance(self.utility, str) or not self.utility):
            raise MalformedSanitizedOffer(f"utility ({self.utility!r}) must name the label column, or be omitted")
        if not isinstance(self.alpha, str):
            raise MalformedSanitizedOffer(f"alpha ({self.alpha!r}) must be a decimal string like '0.9' in the terms")
        object.__setattr__(self, "alpha", canonical_alpha(self.alpha))  # raises InvalidSanitizerAlpha
        if self.variant not in VARIANTS:
            raise MalformedSanitizedOffer(f"variant ({self.variant!r}) must be one of {VARIANTS}")
        eps = _decimal_epsilon(self.epsilon)
        if self.then is not None and self.then not in THEN:
            raise MalformedSanitizedOffer(f"then ({self.then!r}) must be one of {THEN}, or omitted")
        if (eps == "exact") != (self.then is None):
            raise MalformedSanitizedOffer(
                f"epsilon {eps!r} with then={self.then!r}: a sanitizer alone has epsilon 'exact' (no guarantee); "
                "an epsilon needs a DP mechanism after it (then='ml-laplace-rr')")

    @property
    def epsilon_milli(self) -> int:
        """What the quote spends: EXACT for the sanitizer alone, ``ceil(1000 * epsilon)`` with DP after it."""
        return precision_epsilon_milli(self)

    def describe(self) -> str:
        """What the offer says to the buyer about its guarantee."""
        if self.then is None:
            return DISCLOSURE.format(private=self.private, alpha=self.alpha)
        return (f"epsilon {self.epsilon}-DP ({self.then}, replace-one over the released rows) after a learned "
                f"sanitizer hiding {self.private!r} (alpha {self.alpha}); the epsilon is what the chain's ledger "
                f"counts ({self.epsilon_milli} milli-epsilon); the sanitizer adds no guarantee of its own")

    def terms_release(self) -> dict[str, Any]:
        """The terms document's ``release`` object: every parameter a JSON string, ``guarantee``
        the buyer-facing `describe` text (no epsilon guarantee, or the DP epsilon's)."""
        mech: dict[str, Any] = {"name": "sanitizer", "private": self.private, "alpha": self.alpha,
                                "variant": self.variant}
        if self.utility is not None:
            mech["utility"] = self.utility
        if self.then is not None:
            mech["then"] = self.then
        mech["guarantee"] = self.describe()
        return {"epsilon": self.epsilon, "mechanism": mech}

    @classmethod
    def from_terms_release(cls, release: Mapping[str, Any]) -> "SanitizedOffer":
        """Parse a terms ``release`` object strictly; raise `MalformedSanitizedOffer` (or
        `InvalidSanitizerAlpha`) naming the defect."""
        if not isinstance(release, Mapping) or set(release) != {"epsilon", "mechanism"}:
            got = sorted(release) if isinstance(release, Mapping) else type(release).__name__
            raise MalformedSanitizedOffer(f"a release object has exactly 'epsilon' and 'mechanism'; got {got}")
        mech = release["mechanism"]
        if not isinstance(mech, Mapping) or mech.get("name") != "sanitizer":
            raise MalformedSanitizedOffer(f"mechanism ({mech!r}) must be an object with name 'sanitizer'")
        extra, missing = set(mech) - _MECH_KEYS, {"private", "alpha"} - set(mech)
        if extra or missing:
            raise MalformedSanitizedOffer(f"sanitizer mechanism has unknown key(s) {sorted(extra)} or lacks "
                                          f"{sorted(missing)}; it takes {sorted(_MECH_KEYS)}")
        for key, value in mech.items():
            if not isinstance(value, str):
                raise MalformedSanitizedOffer(f"mechanism {key} ({value!r}) must be a JSON string")
        offer = cls(private=mech["private"], alpha=mech["alpha"], variant=mech.get("variant", "deterministic"),
                    epsilon=release["epsilon"], then=mech.get("then"), utility=mech.get("utility"))
        if "guarantee" in mech and mech["guarantee"] != offer.describe():
            raise MalformedSanitizedOffer(f"mechanism guarantee ({mech['guarantee']!r}) is not what this precision "
                                          f"guarantees ({offer.describe()!r}); copy the offer's release object")
        return offer


def parse_precision(text: str) -> SanitizedOffer:
    """``"sanitized(p=sex, alpha=0.9, variant=stochastic)"`` (``α`` also accepted; ``epsilon=``
    and ``then=`` for DP after it) as a `SanitizedOffer`."""
    m = _PRECISION.match(text) if isinstance(text, str) else None
    if m is None:
        raise MalformedSanitizedOffer(f"precision ({text!r}) must read sanitized(p=<column>, alpha=<0..1>, ...)")
    args: dict[str, str] = {}
    for part in filter(None, (s.strip() for s in m.group("args").split(","))):
        key, sep, value = (s.strip() for s in part.partition("="))
        key = {"α": "alpha", "p": "private", "u": "utility", "ε": "epsilon"}.get(key, key)
        if not sep or not value or key not in {"private", "alpha", "variant", "utility", "epsilon", "then"} \
                or key in args:
            raise MalformedSanitizedOffer(f"precision argument {part!r} must be one of p=, alpha=, variant=, "
                                          "utility=, epsilon=, then=, each once")
        args[key] = value
    if "private" not in args or "alpha" not in args:
        raise MalformedSanitizedOffer(f"precision ({text!r}) must name p=<private column> and alpha=<0..1>")
    return SanitizedOffer(**args)


def precision_epsilon_milli(precision: SanitizedOffer | Mapping[str, Any] | Release) -> int:
    """Milli-epsilon a precision spends on the chain's ledger: EXACT for a sanitizer alone (no
    guarantee), ``ceil(1000 * epsilon)`` (exact, on the decimal) for a sanitizer followed by DP.

    Takes a `SanitizedOffer`, its terms ``release`` object, or a drawn `Release`."""
    if isinstance(precision, Release):
        eps: Any = precision.mechanism.get("epsilon")
        if eps == "exact":
            return EXACT
        if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not math.isfinite(eps) or eps <= 0:
            raise InvalidEpsilon(f"release epsilon ({eps!r}) is neither 'exact' nor a positive number", epsilon=eps)
        text = repr(float(eps))
    else:
        offer = precision if isinstance(precision, SanitizedOffer) else SanitizedOffer.from_terms_release(precision)
        if offer.epsilon == "exact":
            return EXACT
        text = offer.epsilon
    milli = math.ceil(Fraction(text) * 1000)
    if milli > MAX_MILLI:
        raise InvalidEpsilon(f"epsilon ({text}) is {milli} milli-epsilon, more than a uint32 ledger holds; "
                             "offer a smaller epsilon", epsilon=text)
    return milli


def draw_sanitized_release(offer: SanitizedOffer, sanitizer: Sanitizer, schema: Schema, data: Mapping[str, Any], *,
                           ledger: PrivacyLedger, seed: int | None = None,
                           rng: np.random.Generator | None = None) -> Release:
    """Charge ``ledger`` for ``offer`` (EXACT alone: refused under a finite cap), check the
    fitted ``sanitizer`` is the one the offer names (private column, alpha, variant), and
    draw the release; the charge is refunded if nothing is returned."""
    c = sanitizer.config
    named = (offer.private, offer.alpha, offer.variant, offer.utility or c["utility"])
    if named != (c["private"], c["alpha"], c["variant"], c["utility"]):
        raise MalformedSanitizedOffer(
            f"the offer names (private, alpha, variant, utility) {named}, but the sanitizer was fitted with "
            f"{(c['private'], c['alpha'], c['variant'], c['utility'])}; fit the sanitizer the offer names")
    milli = offer.epsilon_milli
    ledger.charge(milli)
    try:
        if offer.then is None:
            return release_sanitized(sanitizer, data["features"], data["label"], schema, seed=seed)
        return release_sanitized_ml(sanitizer, data["features"], data["label"], schema, float(offer.epsilon),
                                    seed=seed, rng=rng)
    except (PrivacyError, ValueError, KeyError, TypeError):
        ledger.refund(milli)  # nothing was returned, so nothing about the data left
        raise
