"""Exceptions raised by :mod:`privacy`.

One root, :class:`PrivacyError`; each subclass also inherits the built-in exception it
resembles, so ``except ValueError`` keeps working for callers that do not know this
package. Messages name the bad value and the fix.
"""

from __future__ import annotations

__all__ = [
    "PrivacyError",
    "InvalidEpsilon",
    "BudgetExceeded",
    "OutOfBounds",
    "InvalidSchema",
    "InvalidRelease",
    "UnknownMechanism",
]


class PrivacyError(Exception):
    """Root of every error raised by :mod:`privacy`."""


class InvalidEpsilon(PrivacyError, ValueError):
    """Raised when an epsilon (or milli-epsilon) is not a usable privacy parameter."""

    def __init__(self, message: str, *, epsilon: object = None) -> None:
        super().__init__(message)
        self.epsilon = epsilon


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
    """Raised when data fall outside the bounds an offer declares and clamping was not asked for."""

    def __init__(self, message: str, *, column: str, bounds: tuple, count: int) -> None:
        super().__init__(message)
        self.column = column
        self.bounds = bounds
        self.count = count


class InvalidSchema(PrivacyError, ValueError):
    """Raised when a schema, or data that should match it, is malformed."""


class InvalidRelease(PrivacyError, ValueError):
    """Raised when release bytes or their metadata do not follow docs/release-format.md."""


class UnknownMechanism(PrivacyError, LookupError):
    """Raised when a mechanism name is not one this package implements."""
