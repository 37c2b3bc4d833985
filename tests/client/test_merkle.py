"""Merkle trees: against a naive padded-tree reference, proofs, and the streaming builder."""

from __future__ import annotations

import pytest
from eth_hash.auto import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from client import merkle
from client.merkle import (
    ZERO,
    ZERO_SUBTREES,
    MerkleBuilder,
    hash_pairs,
    merkle_proof,
    merkle_root,
    tree_depth,
    verify_proof,
)


def naive_levels(leaves: list[bytes]) -> list[list[bytes]]:
    """The protocol's words, literally: pad with bytes32(0) to a power of two, hash pairs."""
    size = 1
    while size < len(leaves):
        size *= 2
    level = list(leaves) + [ZERO] * (size - len(leaves))
    levels = [level]
    while len(level) > 1:
        level = [keccak(level[k] + level[k + 1]) for k in range(0, len(level), 2)]
        levels.append(level)
    return levels


_POOL = [keccak(i.to_bytes(8, "big")) for i in range(1024)]


def leaves_of(n: int, salt: int = 0) -> list[bytes]:
    """n distinct leaves (a rotation of a fixed pool, so that trees differ per salt)."""
    assert n <= len(_POOL)
    return [_POOL[(salt * 37 + i) % len(_POOL)] for i in range(n)]


@pytest.fixture(params=["python", "batch"])
def pairs_engine(request, monkeypatch):
    """Hash levels with the eth_hash loop, or with the compiled kernel for every level."""
    if request.param == "batch":
        if merkle._batch() is None:
            pytest.fail("compiled batch keccak unavailable: numba is a declared dependency, reinstall with `make distclean test`")
        monkeypatch.setattr(merkle, "_BATCH_MIN_PAIRS", 1)
    else:
        monkeypatch.setattr(merkle, "_BATCH_MIN_PAIRS", 1 << 62)
    return request.param


def test_single_leaf_is_its_own_root():
    leaf = keccak(b"x")
    assert merkle_root([leaf]) == leaf
    assert merkle_proof([leaf], 0) == []
    assert verify_proof(leaf, 0, [], leaf)


def test_two_leaves():
    a, b = keccak(b"a"), keccak(b"b")
    assert merkle_root([a, b]) == keccak(a + b)
    assert merkle_proof([a, b], 1) == [a]


def test_three_leaves_pad_with_a_zero_leaf_not_a_duplicate():
    a, b, c = leaves_of(3)
    assert merkle_root([a, b, c]) == keccak(keccak(a + b) + keccak(c + ZERO))
    assert merkle_proof([a, b, c], 2) == [ZERO, keccak(a + b)]


def test_zero_subtrees():
    assert ZERO_SUBTREES[0] == ZERO
    assert ZERO_SUBTREES[2] == keccak(keccak(ZERO * 2) * 2)


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 31, 33, 100, 128, 129, 300])
def test_root_and_every_proof_match_the_naive_tree(n, pairs_engine):
    leaves = leaves_of(n, n)
    levels = naive_levels(leaves)
    root = levels[-1][0]
    assert merkle_root(leaves) == root
    assert tree_depth(n) == len(levels) - 1
    for i in sorted({0, n - 1, n // 2} | set(range(0, n, max(1, n // 16)))):
        proof = merkle_proof(leaves, i)
        assert proof == [levels[hgt][(i >> hgt) ^ 1] for hgt in range(len(levels) - 1)]
        assert verify_proof(leaves[i], i, proof, root)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 200), data=st.data())
def test_proofs_verify_and_fail_when_anything_changes(n, data):
    leaves = leaves_of(n, 1)
    root = merkle_root(leaves)
    i = data.draw(st.integers(0, n - 1))
    proof = merkle_proof(leaves, i)
    assert len(proof) == tree_depth(n)
    assert verify_proof(leaves[i], i, proof, root)
    assert not verify_proof(keccak(leaves[i]), i, proof, root)
    if proof:
        k = data.draw(st.integers(0, len(proof) - 1))
        bad = list(proof)
        bad[k] = keccak(bad[k])
        assert not verify_proof(leaves[i], i, bad, root)
        assert not verify_proof(leaves[i], i ^ (1 << k), proof, root)
        assert not verify_proof(leaves[i], i, proof[:-1], root)
    assert not verify_proof(leaves[i], i + (1 << len(proof)), proof, root)
    assert not verify_proof(leaves[i], -1, proof, root)


@settings(max_examples=60, deadline=None)
@given(n=st.integers(1, 700), cuts=st.lists(st.integers(1, 700), max_size=6))
def test_builder_matches_root_whatever_the_batches(n, cuts):
    leaves = leaves_of(n, 2)
    packed = b"".join(leaves)
    builder = MerkleBuilder()
    pos = 0
    for c in sorted(set(cuts)):
        if c < n:
            builder.add(packed[32 * pos : 32 * c])
            pos = c
    builder.add(packed[32 * pos :])
    assert builder.count == n
    assert builder.root() == merkle_root(leaves)


def test_hash_pairs_batch_equals_loop(monkeypatch):
    if merkle._batch() is None:
        pytest.fail("compiled batch keccak unavailable: numba is a declared dependency, reinstall with `make distclean test`")
    level = b"".join(leaves_of(300, 3))[: 64 * 150]
    loop = b"".join(keccak(level[k : k + 64]) for k in range(0, len(level), 64))
    monkeypatch.setattr(merkle, "_BATCH_MIN_PAIRS", 1)
    assert hash_pairs(level) == loop


def test_errors_name_the_problem():
    with pytest.raises(ValueError, match="no leaves"):
        merkle_root([])
    with pytest.raises(ValueError, match="leaf 1 is 31 bytes"):
        merkle_root([ZERO, bytes(31)])
    with pytest.raises(IndexError, match=r"leaf index \(3\)"):
        merkle_proof(leaves_of(3), 3)
    with pytest.raises(ValueError, match="no leaves"):
        MerkleBuilder().root()
    with pytest.raises(ValueError, match="multiple of 32"):
        MerkleBuilder().add(bytes(33))
    assert not verify_proof(bytes(31), 0, [], bytes(32))
