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
