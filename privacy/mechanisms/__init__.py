"""Mechanisms: each takes the schema and epsilon, consumes the whole epsilon, and records
its name and every parameter the buyer needs to de-bias (docs/privacy.md)."""

from .count_min_sketch import cms_hash, cms_hashes, count_min_sketch, count_min_sketch_codes
from .exact import release_exact
from .laplace import clamp_to_bounds, discrete_laplace, laplace
from .ml import release_ml
from .sanitizer import Sanitizer, SanitizerConfig, fit_sanitizer, release_sanitized, release_sanitized_ml
from .randomized_response import randomized_response, randomized_response_bool, rr_prob
from .table import release_table

__all__ = [
    "randomized_response_bool", "randomized_response", "rr_prob",
    "laplace", "discrete_laplace", "clamp_to_bounds",
    "count_min_sketch", "count_min_sketch_codes", "cms_hash", "cms_hashes",
    "release_ml", "release_table", "release_exact",
    "Sanitizer", "SanitizerConfig", "fit_sanitizer", "release_sanitized", "release_sanitized_ml",
]
