"""Binary keccak256 Merkle trees as the Spartacus protocol defines them.

Leaves are 32-byte values, padded with ``bytes32(0)`` to the next power of two;
``parent = keccak(left ‖ right)``; a single leaf is its own root; a proof is the list
of siblings from the leaf level up and its length is the tree's depth,
``ceil(log2(n))``. Padding to a power of two with zero *leaves* means that a missing
node at height ``h`` is the root of an all-zero subtree, ``Z[h]``
(``Z[0] = 0``, ``Z[h+1] = keccak(Z[h] ‖ Z[h])``): the code never materialises the padding.

:class:`MerkleBuilder` computes a root in one pass over the leaves with memory that
does not grow with their number (one pending node per height), which is what the
streaming encoder and verifier use. Levels of many nodes are hashed in batches by the
compiled kernel in :mod:`client._keccak_batch` when it is available.
"""

from __future__ import annotations

from typing import Sequence

from eth_hash.auto import keccak

__all__ = [
    "ZERO",
    "ZERO_SUBTREES",
    "tree_depth",
    "hash_pairs",
    "merkle_root",
    "merkle_levels",
    "merkle_proof",
    "verify_proof",
    "root_from_proof",
    "MerkleBuilder",
]

ZERO = bytes(32)


def _zero_subtrees(count: int) -> tuple[bytes, ...]:
    z = [ZERO]
    for _ in range(count):
        z.append(keccak(z[-1] + z[-1]))
    return tuple(z)


#: ``ZERO_SUBTREES[h]`` is the root of a subtree of ``2**h`` zero leaves.
ZERO_SUBTREES: tuple[bytes, ...] = _zero_subtrees(64)

# Below this many pairs a Python loop over eth_hash is as fast as a kernel call.
_BATCH_MIN_PAIRS = 64


def tree_depth(n: int) -> int:
    """Depth of a tree over ``n >= 1`` leaves: ``ceil(log2(n))``, 0 for a single leaf."""
    if n < 1:
        raise ValueError(f"a Merkle tree needs at least one leaf, got n = {n}")
    return (n - 1).bit_length()


def hash_pairs(level: bytes | bytearray | memoryview) -> bytes:
    """Hash consecutive 64-byte pairs of a packed level (2k × 32 bytes) into k parents."""
    mv = memoryview(level).cast("B")
    if len(mv) % 64:
        raise ValueError(f"a packed level of pairs must be a multiple of 64 bytes, got {len(mv)}")
    pairs = len(mv) // 64
    if pairs >= _BATCH_MIN_PAIRS:
        kb = _batch()
        if kb is not None:
            return kb.hash_pairs(mv)
    return b"".join(keccak(bytes(mv[64 * k : 64 * k + 64])) for k in range(pairs))


def _batch():
    """The compiled kernels, or None when numba is unavailable (imported late: no cycle)."""
    try:
        from client import _keccak_batch
    except Exception:  # pragma: no cover - numba missing or broken
        return None
    return _keccak_batch if _keccak_batch.AVAILABLE else None


def _packed(leaves: Sequence[bytes]) -> bytes:
    for k, leaf in enumerate(leaves):
        if len(leaf) != 32:
            raise ValueError(f"leaf {k} is {len(leaf)} bytes; Merkle leaves must be exactly 32 bytes")
    return b"".join(bytes(x) for x in leaves)


def _next_level(level: bytes, height: int) -> bytes:
    if (len(level) // 32) % 2:
        level = level + ZERO_SUBTREES[height]
    return hash_pairs(level)


def merkle_levels(packed: bytes) -> list[bytes]:
    """All levels of the tree over packed leaves (n × 32 bytes), leaves first, root last.

    Level ``h`` holds the ``ceil(n / 2**h)`` nodes that have at least one real leaf
    below them; the rest of the padded level is ``ZERO_SUBTREES[h]``.
    """
    packed = bytes(packed)
    if not packed or len(packed) % 32:
        raise ValueError(f"packed leaves must be a positive multiple of 32 bytes, got {len(packed)}")
    levels = [packed]
    for h in range(tree_depth(len(packed) // 32)):
        levels.append(_next_level(levels[-1], h))
    return levels


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """Root over ``leaves`` (each 32 bytes), padded with zero leaves to a power of two."""
    if len(leaves) == 0:
        raise ValueError("cannot take the Merkle root of no leaves; the protocol has n >= 1")
    return merkle_levels(_packed(leaves))[-1]


def merkle_proof(leaves: Sequence[bytes] | bytes, index: int) -> list[bytes]:
    """Siblings of leaf ``index`` from the leaf level up; ``len == tree_depth(n)``.

    ``leaves`` is a sequence of 32-byte leaves or the same leaves packed into one bytes object.
    """
    packed = bytes(leaves) if isinstance(leaves, (bytes, bytearray, memoryview)) else _packed(leaves)
    n = len(packed) // 32
    if not 0 <= index < n:
        raise IndexError(f"leaf index ({index}) must satisfy 0 <= index < n = {n}")
    proof = []
    levels = merkle_levels(packed)
    for h, level in enumerate(levels[:-1]):
        sib = (index >> h) ^ 1
        proof.append(level[32 * sib : 32 * sib + 32] if 32 * sib < len(level) else ZERO_SUBTREES[h])
    return proof


def verify_proof(leaf: bytes, index: int, proof: Sequence[bytes], root: bytes) -> bool:
    """True iff ``proof`` leads from ``leaf`` at position ``index`` to ``root``.

    The position is read from the bits of ``index``, lowest first; an index that does
    not fit in ``len(proof)`` bits, or a malformed node, is a failed proof. The caller
    (like the contract) also checks ``index < n`` and ``len(proof) == tree_depth(n)``.
    """
    if len(leaf) != 32 or len(root) != 32 or any(len(s) != 32 for s in proof):
        return False
    if not 0 <= index < (1 << len(proof)):
        return False
    return root_from_proof(leaf, index, proof) == bytes(root)


def root_from_proof(leaf: bytes, index: int, proof: Sequence[bytes]) -> bytes:
    """The root that ``proof`` (siblings from the leaf up) leads to from ``leaf`` at ``index``."""
    node = bytes(leaf)
    for sib in proof:
        node = keccak(node + bytes(sib)) if index & 1 == 0 else keccak(bytes(sib) + node)
        index >>= 1
    return node


class MerkleBuilder:
    """One-pass Merkle root over a stream of leaves, memory O(log n).

    Feed packed leaves (any multiple of 32 bytes per call) with :meth:`add`, then call
    :meth:`root`. Leaves arriving in large batches are hashed level by level in
    batches; at most one node per height waits for its right sibling.
    """

    def __init__(self) -> None:
        self._pending: list[bytes] = []  # _pending[h]: b"" or one node at height h
        self.count = 0

    def add(self, packed: bytes | bytearray | memoryview) -> None:
        data = bytes(packed)
        if len(data) % 32:
            raise ValueError(f"packed leaves must be a multiple of 32 bytes, got {len(data)}")
        self.count += len(data) // 32
        h = 0
        while data:
            if h == len(self._pending):
                self._pending.append(b"")
            data = self._pending[h] + data
            if (len(data) // 32) % 2:
                self._pending[h], data = data[-32:], data[:-32]
            else:
                self._pending[h] = b""
            data = hash_pairs(data) if data else b""
            h += 1

    def root(self) -> bytes:
        """The root over everything added so far (zero-padded to a power of two)."""
        if self.count == 0:
            raise ValueError("cannot take the Merkle root of no leaves; the protocol has n >= 1")
        depth = tree_depth(self.count)
        carry: bytes | None = None  # root of the right part of the tree at the current height
        for h in range(depth):
            left = self._pending[h] if h < len(self._pending) else b""
            if left:
                carry = keccak(left + (carry if carry is not None else ZERO_SUBTREES[h]))
            elif carry is not None:
                carry = keccak(carry + ZERO_SUBTREES[h])
        if carry is None:  # n is a power of two: everything merged into one node at height depth
            return self._pending[depth]
        return carry
