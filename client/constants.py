"""The protocol's numbers on the client side (shared/protocol.md), each written once.

Everything chunk-sized in the client (the delivery encoder, the compiled keccak kernels) is
derived from :data:`CHUNK`; a test holds it equal to the contract's ``CHUNK`` constant.
No imports but the standard library's, so the lowest-level modules can use it.
"""

from __future__ import annotations

from decimal import Decimal

__all__ = ["CHUNK", "LEAF", "WORD", "WORDS_PER_CHUNK", "EXACT", "MAX_RELEASE_BYTES", "epsilon_text", "token_text"]

#: Bytes per delivery chunk: protocol.md's CHUNK and ``DataExchange.CHUNK``.
CHUNK: int = 1024
#: Bytes of a keccak256 output: a Merkle leaf or node.
LEAF: int = 32
#: Bytes of a keystream word ``keccak(0x02 ‖ key ‖ uint256(w))``.
WORD: int = 32
#: Keystream words per chunk: chunk i is XORed with words WORDS_PER_CHUNK·i … WORDS_PER_CHUNK·i + WORDS_PER_CHUNK − 1.
WORDS_PER_CHUNK: int = CHUNK // WORD
#: ``epsilonMilli`` of an exact release: ``type(uint32).max`` in the contract.
EXACT: int = 2**32 - 1
#: The most ciphertext and leaves a wallet downloads for one quote unless told otherwise (``--max-bytes``):
#: a wallet's own limit, not the protocol's (a 1,000,000 × 64 release is 536 MB of both).
MAX_RELEASE_BYTES: int = 32 * 2**30


def epsilon_text(milli: int | None) -> str:
    """An ``epsilonMilli`` as a person reads it: "exact" for :data:`EXACT`, else the decimal epsilon
    ("0.25"); "" for none (a deal not quoted)."""
    if milli is None:
        return ""
    return "exact" if milli == EXACT else format(Decimal(milli).scaleb(-3).normalize(), "f")


def token_text(token: str) -> str:
    """A payment token as a person reads it: "ETH" for the zero address, else the address."""
    return "ETH" if int(token, 16) == 0 else token


if CHUNK % WORD:
    raise AssertionError(f"CHUNK ({CHUNK}) must be a whole number of {WORD}-byte keystream words")
