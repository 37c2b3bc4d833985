"""The hub's exceptions: one root, one class per broken rule, each carrying its HTTP status and
the protocol's error code, so the API maps them to `{"error", "detail"}` in one place.

No message of these exceptions may quote a raw data value."""

from __future__ import annotations

__all__ = [
    "HubError", "BadRequest", "Unauthorized", "Forbidden", "NotFound", "Conflict", "TooLarge",
    "Unprocessable",
]


class HubError(Exception):
    """Raised when the hub refuses a request or cannot act; `status` and `code` as the protocol's table."""

    status: int = 500
    code: str = "internal"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class BadRequest(HubError, ValueError):
    """Raised for a malformed request: body, query parameter or authorization header grammar."""

    status, code = 400, "bad_request"


class Unauthorized(HubError):
    """Raised when no valid `Spartacus` signature is present or it is outside its time window."""

    status, code = 401, "unauthorized"


class Forbidden(HubError):
    """Raised when a signature recovers to an address other than the deal's buyer."""

    status, code = 403, "forbidden"


class NotFound(HubError, LookupError):
    """Raised for a deal, dataset or offerId that does not exist at this hub."""

    status, code = 404, "not_found"


class Conflict(HubError):
    """Raised when a deal is in the wrong phase, or a spec was already evaluated against a dataset."""

    status, code = 409, "conflict"


class TooLarge(HubError):
    """Raised for a body over the hub's limit."""

    status, code = 413, "too_large"


class Unprocessable(HubError):
    """Raised for well-formed terms or a spec the hub will not price; the detail names the rule."""

    status, code = 422, "unprocessable"
