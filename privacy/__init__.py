"""Spartacus privacy: mechanisms, the buyer's estimators, budget arithmetic and offers.

Pure computation: bytes and arrays in, values out (no files, network or chain).

Hub::

    ledger = PrivacyLedger(cap_milli=5000, spent_milli=chain_spent)
    offer = Offer(price_rule=..., epsilon=1.0, mechanism="ml-laplace-rr", bounds={...})
    release = draw_release(offer, schema, {"features": X, "label": y}, ledger=ledger)
    blob, epsilon_milli = release.to_bytes(), offer.epsilon_milli   # quote posts epsilon_milli

Sanitized (learned, no epsilon: counts as EXACT; docs/privacy.md "Sanitizer")::

    san = fit_sanitizer(data, schema, private="sex", alpha="0.9", variant="stochastic", seed=0)
    release = release_sanitized(san, X, y, schema)              # or release_sanitized_ml(..., epsilon)

Buyer::

    release = Release.from_bytes(blob)             # common.release: the one reader (pricing's too)
    est = estimate_mean(release, "age")            # Estimate(value, variance); est.ci(0.05)
    pooled = combine([estimate_proportion(r, "smoker", target="population") for r in releases])
"""

from .budget import (EXACT, PrivacyLedger, compose, compose_milli, format_epsilon, from_milli, parse_epsilon,
                     split_epsilon, to_milli)
from .errors import (BudgetExceeded, CapRaised, CategoryRequired, InvalidAlpha, InvalidEpsilon, InvalidProbability,
                     InvalidRelease, InvalidRowCount, InvalidSanitizer, InvalidSanitizerAlpha, InvalidSchema, InvalidWorkers,
                     InvalidTermsRelease, MalformedSanitizedOffer, NoEstimates, NoRecords, NotACategory, OutOfBounds,
                     OverRefund, PrivacyError, UnknownCategory, UnknownMechanism, UnknownNoise, UnknownSanitizerColumn,
                     UnknownTarget)
from .estimators import (Estimate, combine, estimate_frequency, estimate_histogram, estimate_mean,
                         estimate_proportion, frequency_from_sketch, histogram_from_reports, mean_from_noisy,
                         proportion_from_reports)
from .mechanisms import (Sanitizer, SanitizerConfig, count_min_sketch, discrete_laplace, fit_sanitizer, laplace,
                         randomized_response, randomized_response_bool, release_exact, release_ml,
                         release_sanitized, release_sanitized_ml, release_table)
from .offers import ExpectedError, Offer, draw_release, expected_error
from .sanitized_offer import SanitizedOffer, draw_sanitized_release, parse_precision, precision_epsilon_milli
from .release import MalformedRelease, Release, UnknownColumn, schema_of
from .schema import Column, Schema

__all__ = [
    "EXACT", "PrivacyLedger", "compose", "compose_milli", "format_epsilon", "from_milli", "parse_epsilon",
    "split_epsilon", "to_milli",
    "PrivacyError", "InvalidEpsilon", "OverRefund", "CapRaised", "BudgetExceeded", "OutOfBounds", "InvalidSchema",
    "UnknownCategory", "InvalidRelease", "UnknownMechanism", "InvalidRowCount", "MalformedRelease", "UnknownColumn",
    "InvalidTermsRelease", "InvalidAlpha", "UnknownTarget", "UnknownNoise", "CategoryRequired", "NotACategory",
    "NoEstimates", "NoRecords", "InvalidProbability", "InvalidWorkers",
    "Estimate", "combine", "estimate_frequency", "estimate_histogram", "estimate_mean", "estimate_proportion",
    "frequency_from_sketch", "histogram_from_reports", "mean_from_noisy", "proportion_from_reports",
    "count_min_sketch", "discrete_laplace", "laplace", "randomized_response", "randomized_response_bool",
    "release_exact", "release_ml", "release_table",
    "ExpectedError", "Offer", "draw_release", "expected_error",
    "Release", "schema_of", "Column", "Schema",
    "InvalidSanitizerAlpha", "UnknownSanitizerColumn", "InvalidSanitizer", "MalformedSanitizedOffer",
    "Sanitizer", "SanitizerConfig", "fit_sanitizer", "release_sanitized", "release_sanitized_ml",
    "SanitizedOffer", "draw_sanitized_release", "parse_precision", "precision_epsilon_milli",
]
