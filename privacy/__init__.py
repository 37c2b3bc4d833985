"""Spartacus privacy: mechanisms, the buyer's estimators, budget arithmetic and offers.

Pure computation: bytes and arrays in, values out (no files, network or chain).

Hub::

    ledger = PrivacyLedger(cap_milli=5000, spent_milli=chain_spent)
    offer = Offer(price_rule=..., epsilon=1.0, mechanism="ml-laplace-rr", bounds={...})
    release = draw_release(offer, schema, {"features": X, "label": y}, ledger=ledger)
    blob, epsilon_milli = release.to_bytes(), offer.epsilon_milli   # quote posts epsilon_milli

Buyer::

    release = Release.from_bytes(blob)             # common.release: the one reader (pricing's too)
    est = estimate_mean(release, "age")            # Estimate(value, variance); est.ci(0.05)
    pooled = combine([estimate_proportion(r, "smoker", target="population") for r in releases])
"""

from .budget import (EXACT, PrivacyLedger, compose, compose_milli, format_epsilon, from_milli, parse_epsilon,
                     split_epsilon, to_milli)
from .errors import (BudgetExceeded, CapRaised, CategoryRequired, InvalidAlpha, InvalidEpsilon, InvalidProbability,
                     InvalidRelease, InvalidRowCount, InvalidSchema, InvalidTermsRelease, NoEstimates, NoRecords,
                     NotACategory, OutOfBounds, OverRefund, PrivacyError, UnknownCategory, UnknownMechanism,
                     UnknownNoise, UnknownTarget)
from .estimators import (Estimate, combine, estimate_frequency, estimate_histogram, estimate_mean,
                         estimate_proportion, frequency_from_sketch, histogram_from_reports, mean_from_noisy,
                         proportion_from_reports)
from .mechanisms import (count_min_sketch, discrete_laplace, laplace, randomized_response,
                         randomized_response_bool, release_exact, release_ml, release_table)
from .offers import ExpectedError, Offer, draw_release, expected_error
from .release import MalformedRelease, Release, UnknownColumn, schema_of
from .schema import Column, Schema

__all__ = [
    "EXACT", "PrivacyLedger", "compose", "compose_milli", "format_epsilon", "from_milli", "parse_epsilon",
    "split_epsilon", "to_milli",
    "PrivacyError", "InvalidEpsilon", "OverRefund", "CapRaised", "BudgetExceeded", "OutOfBounds", "InvalidSchema",
    "UnknownCategory", "InvalidRelease", "UnknownMechanism", "InvalidRowCount", "MalformedRelease", "UnknownColumn",
    "InvalidTermsRelease", "InvalidAlpha", "UnknownTarget", "UnknownNoise", "CategoryRequired", "NotACategory",
    "NoEstimates", "NoRecords", "InvalidProbability",
    "Estimate", "combine", "estimate_frequency", "estimate_histogram", "estimate_mean", "estimate_proportion",
    "frequency_from_sketch", "histogram_from_reports", "mean_from_noisy", "proportion_from_reports",
    "count_min_sketch", "discrete_laplace", "laplace", "randomized_response", "randomized_response_bool",
    "release_exact", "release_ml", "release_table",
    "ExpectedError", "Offer", "draw_release", "expected_error",
    "Release", "schema_of", "Column", "Schema",
]
