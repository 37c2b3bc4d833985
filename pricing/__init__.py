"""Model-Data Efficacy pricing: spec bundles, MDE methods, price curves, `price()`.

Pure computation: bytes and arrays in, values out; no files, network or chain.
"""

from __future__ import annotations

from .arbitrage import ArbitrageReport, check_arbitrage_free, inverse_variance
from .curves import CURVES, apply_curve, parse_max_price
from .errors import (
    BadDtype, BadShape, BundleTooLarge, CurveError, HyperOutOfRange, MalformedBundle, MissingTensor,
    NonFiniteEfficacy, NonFiniteValue, NonOrthonormalBasis, NonPositiveScale, PricingError, ReleaseError,
    SchemaMismatch, SpecError,
    TermsError, UnknownCurve, UnknownLayer, UnknownMethod, UnpriceableRelease,
)
from .methods import METHODS, Efficacy, PricingMethod, get_method
from .price import PriceResult, efficacy_of, price
from .release import Release, read_release, write_release
from .release_fit import method_fits_release
from .spec import DEFAULT_MAX_BYTES, Spec, make_spec, parse_spec, spec_hash

__all__ = [
    "price", "PriceResult", "efficacy_of",
    "Spec", "parse_spec", "make_spec", "spec_hash", "DEFAULT_MAX_BYTES",
    "Release", "read_release", "write_release", "method_fits_release",
    "METHODS", "get_method", "Efficacy", "PricingMethod",
    "CURVES", "apply_curve", "parse_max_price",
    "ArbitrageReport", "check_arbitrage_free", "inverse_variance",
    "PricingError", "SpecError", "MalformedBundle", "BundleTooLarge", "UnknownMethod",
    "UnknownLayer", "MissingTensor", "BadShape", "BadDtype", "NonFiniteValue", "NonPositiveScale",
    "NonOrthonormalBasis", "HyperOutOfRange",
    "SchemaMismatch", "ReleaseError", "UnpriceableRelease", "NonFiniteEfficacy", "TermsError", "CurveError",
    "UnknownCurve",
]
