"""Errors raised by the pricing core: one root, each also the built-in it resembles."""

from __future__ import annotations

__all__ = [
    "PricingError",
    "SpecError",
    "MalformedBundle",
    "BundleTooLarge",
    "UnknownMethod",
    "UnknownLayer",
    "SchemaMismatch",
    "NonFiniteValue",
    "NonPositiveScale",
    "NonOrthonormalBasis",
    "HyperOutOfRange",
    "MissingTensor",
    "BadShape",
    "BadDtype",
    "ReleaseError",
    "UnpriceableRelease",
    "NonFiniteEfficacy",
    "CurveError",
    "UnknownCurve",
    "TermsError",
]


class PricingError(Exception):
    """Root of every error the pricing package raises on purpose."""


class SpecError(PricingError, ValueError):
    """Raised when a pricing spec bundle is not acceptable."""


class MalformedBundle(SpecError):
    """Raised when the bytes are not a well-formed safetensors bundle with a manifest."""


class BundleTooLarge(SpecError):
    """Raised when a bundle is over the size cap."""

    def __init__(self, size: int, cap: int) -> None:
        self.size, self.cap = size, cap
        super().__init__(
            f"spec bundle is {size} bytes, over the cap of {cap} bytes; ship a smaller "
            "proxy, a low-rank Hessian or fewer probe or anchor rows, or raise max_bytes on both sides"
        )


class UnknownMethod(SpecError):
    """Raised when a spec or the terms name a pricing method that is not registered."""

    def __init__(self, method: object, known: tuple[str, ...]) -> None:
        self.method = method
        super().__init__(f"unknown pricing method {method!r}; use one of {', '.join(known)}")


class UnknownLayer(SpecError):
    """Raised when a proxy architecture uses a layer outside the allow-list."""

    def __init__(self, layer: object, known: tuple[str, ...]) -> None:
        self.layer = layer
        super().__init__(f"unknown proxy layer {layer!r}; the allow-list is {', '.join(known)}")


class MissingTensor(SpecError, KeyError):
    """Raised when a tensor the manifest implies is absent from the bundle."""

    def __init__(self, name: str) -> None:
        self.name = name
        ValueError.__init__(self, f"tensor {name!r} is missing from the bundle; the builder must ship it")

    def __str__(self) -> str:  # KeyError would quote the message again
        return str(self.args[0])


class BadShape(SpecError):
    """Raised when a tensor's shape contradicts the manifest or the feature schema."""

    def __init__(self, name: str, shape: tuple[int, ...], expected: tuple[int, ...]) -> None:
        self.name, self.shape, self.expected = name, shape, expected
        super().__init__(f"tensor {name!r} has shape {list(shape)}, expected {list(expected)}")


class BadDtype(SpecError, TypeError):
    """Raised when a tensor's dtype is not the one the format requires."""

    def __init__(self, name: str, dtype: str, expected: str) -> None:
        self.name, self.dtype, self.expected = name, dtype, expected
        ValueError.__init__(self, f"tensor {name!r} has dtype {dtype}, expected {expected}; convert it before shipping")


class NonFiniteValue(SpecError):
    """Raised when a tensor or a hyper-parameter holds NaN or infinity."""

    def __init__(self, name: str) -> None:
        self.name = name
        super().__init__(f"{name!r} holds NaN or infinite values; pricing needs finite numbers")


class NonPositiveScale(SpecError):
    """Raised when a 'standardize' layer's scale holds a value <= 0: the layer divides by it."""

    def __init__(self, name: str, smallest: float) -> None:
        self.name = name
        super().__init__(f"{name!r} holds a scale of {smallest:g}; a standardize layer divides the inputs by its scale, "
                         "so every entry must be > 0 (a column constant in the training rows takes scale 1)")


class NonOrthonormalBasis(SpecError):
    """Raised when a spec's eigenvector matrix does not have orthonormal columns: the curvature it
    builds need not be positive definite, so pricing could fail, or not, depending on the release."""

    def __init__(self, name: str, gram_err: float, tol: float, *, shape: tuple[int, int] | None = None) -> None:
        self.name, self.gram_err, self.tol = name, gram_err, tol
        why = (f"{shape[1]} columns of {shape[0]} entries, more than can be orthonormal" if shape is not None
               else f"max |V'V - I| = {gram_err:.3g}, over the tolerance {tol:g}")
        super().__init__(f"{name!r} must hold orthonormal columns ({why}): ship the eigenvectors as the eigensolver "
                         "returns them (numpy.linalg.eigh), unscaled, at most as many as the parameters they span")


class HyperOutOfRange(SpecError):
    """Raised when a spec's hyper-parameter or size is outside the bounds the hub prices within:
    an iteration count or size past its bound would keep the quote pipeline busy for ever."""

    def __init__(self, name: str, value: object, bound: str) -> None:
        self.name, self.value, self.bound = name, value, bound
        super().__init__(f"{name} must be {bound}, got {value!r}: set it within that bound")


class SchemaMismatch(PricingError, ValueError):
    """Raised when a release's columns or label do not match the spec's feature schema."""


class ReleaseError(PricingError, ValueError):
    """Raised when release bytes do not follow spartacus-release-v1, or cannot be priced."""


class UnpriceableRelease(ReleaseError):
    """Raised when a well-formed release holds no records an MDE spec can price (a table of
    counts, a count-min sketch, features without a label)."""

    def __init__(self, message: str, *, mechanism: str, tensors: list[str]) -> None:
        self.mechanism, self.tensors = mechanism, tensors
        super().__init__(message)


class NonFiniteEfficacy(PricingError, ArithmeticError):
    """Raised when a method's arithmetic overflows on a release: its values too large for the
    spec's network, or a spec whose settings make the method diverge. The message names both."""

    def __init__(self, method: str, largest: float, *, spec_fix: str = "the spec is ill-conditioned") -> None:
        self.method, self.largest = method, largest
        super().__init__(
            f"method {method!r} produced a non-finite efficacy on a release whose largest |feature| is {largest:.3g}: "
            f"values that large overflow the spec's network (clamp the release to its schema's bounds), "
            f"else {spec_fix}")


class TermsError(PricingError, ValueError):
    """Raised when the terms' pricing section or maxPrice is unusable."""


class CurveError(TermsError):
    """Raised when a price curve's parameters are invalid."""


class UnknownCurve(CurveError):
    """Raised when the terms name a price curve that does not exist."""

    def __init__(self, kind: object, known: tuple[str, ...]) -> None:
        self.kind = kind
        super().__init__(f"unknown price curve {kind!r}; use one of {', '.join(known)}")
