"""The protocol's numbers on the client side (shared/protocol.md), each written once.

Everything chunk-sized in the client (the delivery encoder, the compiled keccak kernels) is
derived from :data:`CHUNK`; a test holds it equal to the contract's ``CHUNK`` constant.
No imports, so the lowest-level modules can use it.
"""

from __future__ import annotations

__all__ = ["CHUNK", "LEAF", "WORD", "WORDS_PER_CHUNK", "EXACT"]

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

if CHUNK % WORD:
    raise AssertionError(f"CHUNK ({CHUNK}) must be a whole number of {WORD}-byte keystream words")
