"""Exceptions raised by the Spartacus client.

One root, :class:`ClientError`; every subclass also inherits the built-in it
resembles, so ``except ValueError`` keeps working for callers that do not know ours.
Messages name the bad value and what to do about it; the facts are kept as fields.
"""

from __future__ import annotations

__all__ = [
    "ClientError",
    "DeliveryError",
    "InvalidKey",
    "InvalidSize",
    "TruncatedInput",
    "ChunkCountMismatch",
    "RootMismatch",
    "DataRootMismatch",
    "CipherRootMismatch",
    "KeyCommitMismatch",
    "IndexOutOfRange",
    "TermsError",
    "NonCanonicalTerms",
    "TermsFieldError",
    "MissingTermsField",
    "UnexpectedTermsField",
    "WrongTermsType",
    "InvalidTermsValue",
    "UnquotableTerms",
]


def _hex(b: bytes | None) -> str:
    return "None" if b is None else "0x" + bytes(b).hex()


class ClientError(Exception):
    """Root of every error the client package raises on purpose."""


class DeliveryError(ClientError, ValueError):
    """Raised when a delivery (ciphertext, leaves, key, commitment) is not what the protocol requires."""


class InvalidKey(DeliveryError):
    """Raised when a delivery key is not exactly 32 bytes."""

    def __init__(self, key: object) -> None:
        self.key = key
        length = len(key) if isinstance(key, (bytes, bytearray, memoryview)) else None
        super().__init__(
            f"delivery key must be 32 bytes, got {type(key).__name__}"
            + (f" of length {length}" if length is not None else "")
            + "; draw it with secrets.token_bytes(32)"
        )


class InvalidSize(DeliveryError):
    """Raised when a release size is not a positive integer below 2**64."""

    def __init__(self, size: object) -> None:
        self.size = size
        super().__init__(
            f"release size ({size!r}) must be an integer with 0 < size < 2**64; "
            "the protocol has no empty deliveries (postQuote requires size > 0)"
        )


class TruncatedInput(DeliveryError):
    """Raised when a source stream ends before the number of bytes it was said to hold."""

    def __init__(self, expected: int, got: int) -> None:
        self.expected, self.got = expected, got
        super().__init__(
            f"source ended after {got} bytes but size says {expected}; "
            "pass the true size of the release or a complete stream"
        )


class ChunkCountMismatch(DeliveryError):
    """Raised when a ciphertext or leaf file does not hold exactly n records of the committed size."""

    def __init__(self, what: str, expected_bytes: int, got_bytes: int, n: int) -> None:
        self.what, self.expected_bytes, self.got_bytes, self.n = what, expected_bytes, got_bytes, n
        super().__init__(
            f"{what} holds {got_bytes} bytes but the commitment (n = {n} chunks) requires "
            f"exactly {expected_bytes}; the download is truncated or belongs to another deal: "
            "download it again and do not accept the quote until it matches"
        )


class RootMismatch(DeliveryError):
    """Raised when a Merkle root recomputed from a download differs from the committed one."""

    root_name = "root"

    def __init__(self, expected: bytes, got: bytes) -> None:
        self.expected, self.got = bytes(expected), bytes(got)
        super().__init__(
            f"{self.root_name} recomputed from the download is {_hex(got)} but the quote commits "
            f"to {_hex(expected)}; the {self._what} is corrupt or not this deal's: "
            "do not accept the quote (reject it, or download again)"
        )

    _what = "download"


class DataRootMismatch(RootMismatch):
    """Raised when the plain leaves do not hash to the committed dataRoot."""

    root_name = "dataRoot"
    _what = "plain-leaf file"


class CipherRootMismatch(RootMismatch):
    """Raised when the ciphertext chunks do not hash to the committed cipherRoot."""

    root_name = "cipherRoot"
    _what = "ciphertext"


class KeyCommitMismatch(DeliveryError):
    """Raised when a key does not open the committed keyCommit = keccak(0x00 ‖ key)."""

    def __init__(self, expected: bytes, got: bytes) -> None:
        self.expected, self.got = bytes(expected), bytes(got)
        super().__init__(
            f"keccak(0x00 ‖ key) is {_hex(got)} but the quote commits to keyCommit {_hex(expected)}; "
            "use the key revealed on chain for this deal (the contract accepts no other)"
        )


class IndexOutOfRange(DeliveryError, IndexError):
    """Raised when a chunk index is not in 0 .. n-1."""

    def __init__(self, index: int, n: int) -> None:
        self.index, self.n = index, n
        super().__init__(f"chunk index ({index}) must satisfy 0 <= index < n = {n}")


# ---------------------------------------------------------------- terms document


class TermsError(ClientError, ValueError):
    """Raised when a terms document is malformed (protocol.md "Terms document"); a hub answers 400.

    ``code`` is a short machine-readable name for the hub's ``{"error": code}``."""

    code = "malformed-terms"


class NonCanonicalTerms(TermsError):
    """Raised when terms bytes are not UTF-8 JSON, or not the RFC 8785 canonical form of what they hold."""

    code = "terms-not-canonical"

    def __init__(self, detail: str, *, offset: int | None = None) -> None:
        self.offset = offset
        super().__init__(
            f"terms bytes are not canonical: {detail}; send exactly "
            "json.dumps(doc, sort_keys=True, separators=(',', ':'), ensure_ascii=False).encode() "
            "(RFC 8785: keys sorted, no white space, amounts as strings), e.g. client.terms.canonical_bytes(doc)"
        )


class TermsFieldError(TermsError):
    """Raised when one field of a terms document is missing, extra, mistyped or invalid; ``field`` is its path."""

    def __init__(self, field: str, message: str) -> None:
        self.field = field
        super().__init__(f"terms field {field!r}: {message}")


class MissingTermsField(TermsFieldError):
    """Raised when a required field of the terms document (or of its pricing or release) is absent."""

    code = "terms-missing-field"

    def __init__(self, field: str) -> None:
        super().__init__(field, "is required but missing; see docs/terms.md for the full document")


class UnexpectedTermsField(TermsFieldError):
    """Raised when a terms document holds a field the protocol does not define."""

    code = "terms-extra-field"

    def __init__(self, field: str, allowed: "tuple[str, ...] | list[str]") -> None:
        self.allowed = tuple(allowed)
        super().__init__(field, f"is not a field of the terms document here; remove it (allowed: {', '.join(self.allowed)})")


class WrongTermsType(TermsFieldError):
    """Raised when a terms field has the wrong JSON type (every amount and epsilon is a string; chainId the only number)."""

    code = "terms-wrong-type"

    def __init__(self, field: str, value: object, expected: str) -> None:
        self.value, self.expected = value, expected
        super().__init__(field, f"must be {expected}, got {_json_type(value)} {value!r}")


class InvalidTermsValue(TermsFieldError):
    """Raised when a terms field has the right JSON type but a value the protocol refuses."""

    code = "terms-invalid-value"

    def __init__(self, field: str, value: object, fix: str) -> None:
        self.value = value
        super().__init__(field, f"{value!r} {fix}")


class UnquotableTerms(ClientError, ValueError):
    """Raised for well-formed terms no quote could ever satisfy (amounts, fixed price and spec that do
    not fit together under the contract's rules); a hub answers 422, not 400: they are not malformed."""

    code = "terms-unquotable"

    def __init__(self, field: str, value: object, fix: str) -> None:
        self.field, self.value = field, value
        super().__init__(f"terms field {field!r}: {value!r} {fix}")


def _json_type(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, (list, tuple)):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__
