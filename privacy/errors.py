"""Exceptions raised by :mod:`privacy`.

One root, :class:`PrivacyError`; each subclass also inherits the built-in exception it
resembles, so ``except ValueError`` keeps working for callers that do not know this
package. Messages name the bad value and the fix.
"""

from __future__ import annotations

__all__ = [
    "PrivacyError",
    "InvalidEpsilon",
    "OverRefund",
    "CapRaised",
    "BudgetExceeded",
    "OutOfBounds",
    "InvalidSchema",
    "UnknownCategory",
    "InvalidRelease",
    "UnknownMechanism",
    "InvalidRowCount",
    "InvalidTermsRelease",
    "InvalidAlpha",
    "UnknownTarget",
    "UnknownNoise",
    "CategoryRequired",
    "NotACategory",
    "NoEstimates",
    "NoRecords",
    "InvalidProbability",
    "InvalidWorkers",
    "InvalidSanitizerAlpha",
    "UnknownSanitizerColumn",
    "InvalidSanitizer",
    "MalformedSanitizedOffer",
]


class PrivacyError(Exception):
    """Root of every error raised by :mod:`privacy`."""


class InvalidEpsilon(PrivacyError, ValueError):
    """Raised when an epsilon (or milli-epsilon) is not a usable privacy parameter."""

    def __init__(self, message: str, *, epsilon: object = None) -> None:
        super().__init__(message)
        self.epsilon = epsilon


class OverRefund(PrivacyError, ValueError):
    """Raised when a refund is larger than what the ledger counts as spent: it would undo a
    charge that was never made (or was already refunded)."""

    def __init__(self, *, refund_milli: int, spent_milli: int) -> None:
        self.refund_milli, self.spent_milli = refund_milli, spent_milli
        super().__init__(f"refund of {refund_milli} milli-epsilon exceeds the {spent_milli} milli-epsilon spent; "
                         "refund only the epsilon_milli of a charge whose release was never drawn, and only once")


class CapRaised(PrivacyError, ValueError):
    """Raised when the chain reports a cap above the ledger's: on chain a cap may only be lowered,
    so the ledger is not this dataset's (or is stale)."""

    def __init__(self, *, chain_cap_milli: int, cap_milli: int) -> None:
        self.chain_cap_milli, self.cap_milli = chain_cap_milli, cap_milli
        super().__init__(f"chain cap ({chain_cap_milli} milli-epsilon) is above the ledger's cap ({cap_milli}); "
                         "a cap may only be lowered: rebuild the ledger from the chain "
                         "(PrivacyLedger(cap_milli=chain cap, spent_milli=chain epsilonSpent))")


class BudgetExceeded(PrivacyError, RuntimeError):
    """Raised when a release would take a dataset's spent epsilon past its cap.

    Raised before any noise is drawn: nothing about the data has been used.
    """

    def __init__(self, message: str, *, requested_milli: int, spent_milli: int, cap_milli: int) -> None:
        super().__init__(message)
        self.requested_milli = requested_milli
        self.spent_milli = spent_milli
        self.cap_milli = cap_milli


class OutOfBounds(PrivacyError, ValueError):
    """Raised when data fall outside the bounds an offer declares and clamping was not asked for.

    The message names the column, the bounds and how many values fall outside, never a value:
    the hub may show it to a buyer, and a raw value is exactly what the release protects.
    ``example`` keeps one offending value for the owner's local debugging only; never send it
    (nor ``repr`` of this exception's attributes) anywhere.
    """

    def __init__(self, message: str, *, column: str, bounds: tuple, count: int, example: object = None) -> None:
        super().__init__(message)
        self.column = column
        self.bounds = bounds
        self.count = count
        self.example = example


class InvalidSchema(PrivacyError, ValueError):
    """Raised when a schema, or data that should match it, is malformed."""


class UnknownCategory(InvalidSchema):
    """Raised when a categorical column holds values that are not among its schema's categories.

    Like :class:`OutOfBounds`, the message names the column and the count, never a value;
    ``example`` keeps one for the owner's local debugging only and must never be sent.
    """

    def __init__(self, *, column: str, count: int, example: object = None) -> None:
        self.column, self.count, self.example = column, count, example
        super().__init__(f"column {column!r}: {count} value(s) not among its categories; add them to the "
                         "schema's categories (or map them to one) before release")


class InvalidRelease(PrivacyError, ValueError):
    """Raised when release bytes or their metadata do not follow docs/release-format.md."""


class UnknownMechanism(PrivacyError, LookupError):
    """Raised when a mechanism name is not one this package implements."""


class InvalidRowCount(PrivacyError, ValueError):
    """Raised when a row count (the size of a table an error is predicted for) is not a positive integer."""

    def __init__(self, rows: object) -> None:
        self.rows = rows
        super().__init__(f"rows ({rows!r}) must be a positive integer: the number of records the release will hold")


class InvalidTermsRelease(PrivacyError, ValueError):
    """Raised when a terms document's ``release`` object is not one :meth:`Offer.terms_release` could
    have written: an unknown or missing field, a value of the wrong type, a number not in string form."""

    def __init__(self, field: str, value: object, fix: str) -> None:
        self.field, self.value = field, value
        super().__init__(f"release.{field} ({value!r}) {fix}")


# ---- the buyer's estimators: arguments that name no estimate --------------------------------


class InvalidAlpha(PrivacyError, ValueError):
    """Raised when a confidence interval's ``alpha`` is not in (0, 1)."""

    def __init__(self, alpha: object) -> None:
        self.alpha = alpha
        super().__init__(f"alpha ({alpha!r}) must be a number in (0, 1): the interval covers 1 - alpha, "
                         "e.g. alpha=0.05 for a 95% interval")


class UnknownTarget(PrivacyError, ValueError):
    """Raised when an estimator's ``target`` is not one of its targets ("dataset", "population")."""

    def __init__(self, target: object, targets: tuple[str, ...]) -> None:
        self.target, self.targets = target, targets
        super().__init__(f"target ({target!r}) must be one of {targets}: 'dataset' estimates the released "
                         "records' aggregate, 'population' the aggregate of the population they were sampled from")


class UnknownNoise(PrivacyError, ValueError):
    """Raised when :func:`~privacy.estimators.mean_from_noisy` is told a noise it does not model."""

    def __init__(self, noise: object, noises: tuple[str, ...]) -> None:
        self.noise, self.noises = noise, noises
        super().__init__(f"noise ({noise!r}) must be one of {noises}: name the mechanism the release's metadata "
                         "gives for the column")


class CategoryRequired(PrivacyError, ValueError):
    """Raised when a proportion of a categorical column is asked for without naming the category."""

    def __init__(self, column: str, categories: tuple) -> None:
        self.column, self.categories = column, categories
        super().__init__(f"column {column!r} is categorical: pass category=, one of {list(categories)} "
                         "(only a boolean column has a default, True)")


class NotACategory(PrivacyError, ValueError):
    """Raised when the category asked for is not among the column's (a buyer's argument, not the data)."""

    def __init__(self, column: str, category: object, categories: tuple) -> None:
        self.column, self.category, self.categories = column, category, categories
        super().__init__(f"category ({category!r}) is not among column {column!r}'s categories "
                         f"{list(categories)}; pass one of them")


class NoEstimates(PrivacyError, ValueError):
    """Raised when :func:`~privacy.estimators.combine` is given no estimate to combine."""

    def __init__(self) -> None:
        super().__init__("combine() got no estimates (0); pass at least one Estimate")


class NoRecords(PrivacyError, ValueError):
    """Raised when an estimator is given no released record (an empty column)."""

    def __init__(self, what: str) -> None:
        self.what = what
        super().__init__(f"no {what} (0 given): an estimate needs at least one released record")


class InvalidProbability(PrivacyError, ValueError):
    """Raised when a randomized-response keep probability cannot be inverted (``prob <= q``)."""

    def __init__(self, prob: object, q: float, k: int) -> None:
        self.prob, self.q, self.k = prob, q, k
        super().__init__(f"prob ({prob!r}) must exceed (1 - prob)/(k - 1) = {q} for k={k}: randomized response "
                         "keeps the true value more often than any other; read prob from the release's metadata")


class InvalidWorkers(PrivacyError, ValueError):
    """Raised when a release is asked to draw its OpenDP columns on fewer than one thread."""

    def __init__(self, workers: object) -> None:
        self.workers = workers
        super().__init__(f"workers ({workers!r}) must be at least 1, or None for one thread per CPU")


class InvalidSanitizerAlpha(PrivacyError, ValueError):
    """Raised when a sanitizer's privacy weight ``alpha`` is not a number in [0, 1] (a decimal
    string such as ``"0.9"``, or a finite float)."""

    def __init__(self, alpha: object) -> None:
        self.alpha = alpha
        super().__init__(f"alpha ({alpha!r}) must be a number in [0, 1], given as a decimal string like '0.9' "
                         "(0 keeps utility only, 1 privacy only)")


class UnknownSanitizerColumn(InvalidSchema, LookupError):
    """Raised when a sanitizer names a private or utility column the schema does not have (or
    one that cannot play that role)."""

    def __init__(self, *, role: str, column: object, known: list[str], why: str = "") -> None:
        self.role, self.column, self.known = role, column, known
        super().__init__(f"{role} column {column!r} {why or 'is not in the schema'}; the schema's columns are "
                         f"{known}: name a boolean or categorical column (or a small integer feature) as the private "
                         "one and the schema's categorical label as the utility")


class InvalidSanitizer(PrivacyError, ValueError):
    """Raised when a sanitizer's weights or JSON config are malformed or do not fit each other,
    the data, or the release asked of it."""


class MalformedSanitizedOffer(PrivacyError, ValueError):
    """Raised when a ``sanitized(p=..., alpha=...)`` precision, or its terms ``release`` object,
    does not follow docs/privacy.md ("Sanitized offers")."""
