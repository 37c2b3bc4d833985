"""Proofs of misbehaviour on chain: the shared vectors, and complaints at depths 0 through 7."""

from __future__ import annotations

import io
import json
import secrets
from pathlib import Path

import pytest
from eth_hash.auto import keccak

from client.chain import State
from client.chain.errors import (
    BadChunkLength, BadProofLength, ChunkIndexOutOfRange, ComplaintUnfounded, DeadlinePassed, NotBuyer, ProofMismatch,
)
from client.chain.networks import advance_time
from client.delivery import CHUNK, Commitment, Complaint, build_complaint, check_complaint, decrypt_and_check, encode_bytes
from client.merkle import merkle_root
from tests.contracts.conftest import DISPUTE_WINDOW
from tests.contracts.helpers import MAX_PRICE, PRICE, open_deal, revealed_deal

VECTORS = Path(__file__).resolve().parents[2].parent / "shared" / "vectors" / "delivery.json"


def cheating_encoding(size: int, bad_index: int) -> tuple[bytes, bytes, bytes, Commitment]:
    """An encoding whose committed ciphertext has chunk `bad_index` corrupted (honest dataRoot)."""
    data, key = secrets.token_bytes(size), secrets.token_bytes(32)
    cipher, leaves, honest = encode_bytes(data, key)
    tampered = bytearray(cipher)
    tampered[bad_index * CHUNK] ^= 0xFF
    chunks = [bytes(tampered[i:i + CHUNK]) for i in range(0, len(tampered), CHUNK)]
    commitment = Commitment(honest.data_root, merkle_root([keccak(c) for c in chunks]), honest.key_commit, size)
    return key, bytes(tampered), leaves, commitment


def deal_on(env, key: bytes, commitment: Commitment, label: str = "c") -> int:
    deal = open_deal(env, label=label)
    env.ex.post_quote(deal, PRICE, 1000, commitment, sender=env.who.oracle)
    env.ex.accept(deal, sender=env.who.buyer)
    env.ex.reveal_key(deal, key, sender=env.who.oracle)
    return deal


def probe_complaint(probe: dict) -> Complaint:
    h = bytes.fromhex
    return Complaint(probe["index"], h(probe["cipherChunk"]), [h(p) for p in probe["cipherProof"]],
                     h(probe["plainLeaf"]), [h(p) for p in probe["dataProof"]])


@pytest.fixture(scope="module")
def cheating_vector() -> dict:
    if not VECTORS.exists():
        pytest.fail(f"shared vectors not found at {VECTORS}: check out shared/ beside the repo (CI always has it)", pytrace=False)
    return next(v for v in json.loads(VECTORS.read_text())["vectors"] if v["name"] == "cheating-seller")


def test_cheating_seller_vector_refunds_at_index_2(env, cheating_vector):
    v = cheating_vector
    key = bytes.fromhex(v["key"])
    commitment = Commitment(bytes.fromhex(v["dataRoot"]), bytes.fromhex(v["cipherRoot"]), keccak(b"\x00" + key), v["size"])
    deal = deal_on(env, key, commitment)
    result = env.ex.complain(deal, probe_complaint(v["probe"]), sender=env.who.buyer)
    assert result.event("Complained") == {"dealId": deal, "index": 2}
    assert result.event("Refunded") == {"dealId": deal, "toBuyer": MAX_PRICE, "toSeller": 0}
    assert env.ex.state(deal) == State.REFUNDED and env.ex.credit(env.who.buyer) == MAX_PRICE


def test_cheating_seller_vector_honest_chunk_1_reverts(env, cheating_vector):
    v = cheating_vector
    key = bytes.fromhex(v["key"])
    commitment = Commitment(bytes.fromhex(v["dataRoot"]), bytes.fromhex(v["cipherRoot"]), keccak(b"\x00" + key), v["size"])
    deal = deal_on(env, key, commitment)
    with pytest.raises(ComplaintUnfounded) as err:
        env.ex.complain(deal, probe_complaint(v["honestProbe"]), sender=env.who.buyer)
    assert err.value.index == 1
    assert env.ex.state(deal) == State.REVEALED


@pytest.mark.parametrize("depth", range(0, 8))
def test_complaint_at_every_depth_refunds_a_bad_chunk_and_rejects_a_good_one(env, depth):
    n = 1 if depth == 0 else 2 ** (depth - 1) + 1  # the fewest chunks that need this depth
    size = (n - 1) * CHUNK + 17
    bad = n - 1  # the padded last chunk: the hardest index for the tree
    key, cipher, leaves, commitment = cheating_encoding(size, bad)
    assert commitment.depth == depth
    report = decrypt_and_check(io.BytesIO(cipher), io.BytesIO(leaves), key, commitment, io.BytesIO())
    assert report.bad_indices == [bad]
    deal = deal_on(env, key, commitment, label=f"d{depth}")
    if n > 1:
        good = build_complaint(io.BytesIO(cipher), io.BytesIO(leaves), 0, commitment)
        assert not check_complaint(good, key, commitment)
        with pytest.raises(ComplaintUnfounded):
            env.ex.complain(deal, good, sender=env.who.buyer)
    complaint = build_complaint(io.BytesIO(cipher), io.BytesIO(leaves), bad, commitment)
    assert check_complaint(complaint, key, commitment)
    env.ex.complain(deal, complaint, sender=env.who.buyer)
    assert env.ex.state(deal) == State.REFUNDED


@pytest.fixture()
def bad_deal(env):
    key, cipher, leaves, commitment = cheating_encoding(4 * CHUNK + 5, 3)
    deal = deal_on(env, key, commitment, label="bad")
    return deal, build_complaint(io.BytesIO(cipher), io.BytesIO(leaves), 3, commitment)


def test_complaint_by_anyone_but_the_buyer_reverts(env, bad_deal):
    deal, complaint = bad_deal
    with pytest.raises(NotBuyer):
        env.ex.complain(deal, complaint, sender=env.who.stranger)


def test_complaint_after_the_dispute_window_reverts_and_the_deal_finalizes(env, bad_deal):
    deal, complaint = bad_deal
    advance_time(env.w3, DISPUTE_WINDOW)
    with pytest.raises(DeadlinePassed):
        env.ex.complain(deal, complaint, sender=env.who.buyer)
    env.ex.finalize(deal, sender=env.who.stranger)
    assert env.ex.state(deal) == State.SETTLED


def test_complaint_with_a_short_chunk_reverts(env, bad_deal):
    deal, c = bad_deal
    with pytest.raises(BadChunkLength) as err:
        env.ex.complain_raw(deal, c.index, c.cipher_chunk[:-1], c.cipher_proof, c.plain_leaf, c.data_proof, sender=env.who.buyer)
    assert err.value.chunkLength == CHUNK - 1


def test_complaint_index_beyond_the_release_reverts(env, bad_deal):
    deal, c = bad_deal
    with pytest.raises(ChunkIndexOutOfRange) as err:
        env.ex.complain_raw(deal, 5, c.cipher_chunk, c.cipher_proof, c.plain_leaf, c.data_proof, sender=env.who.buyer)
    assert err.value.chunks == 5


def test_complaint_with_a_proof_of_the_wrong_length_reverts(env, bad_deal):
    deal, c = bad_deal
    with pytest.raises(BadProofLength) as err:
        env.ex.complain_raw(deal, c.index, c.cipher_chunk, c.cipher_proof[:-1], c.plain_leaf, c.data_proof, sender=env.who.buyer)
    assert err.value.depth == 3


@pytest.mark.parametrize("forge", ["chunk", "leaf", "index"])
def test_complaint_not_under_the_committed_roots_reverts(env, bad_deal, forge):
    deal, c = bad_deal
    chunk = bytes([c.cipher_chunk[0] ^ 1]) + c.cipher_chunk[1:] if forge == "chunk" else c.cipher_chunk
    leaf = keccak(c.plain_leaf) if forge == "leaf" else c.plain_leaf
    index = 2 if forge == "index" else c.index
    with pytest.raises(ProofMismatch):
        env.ex.complain_raw(deal, index, chunk, c.cipher_proof, leaf, c.data_proof, sender=env.who.buyer)


def test_complaint_on_an_honest_delivery_reverts_at_every_index(env):
    deal, key, cipher, leaves, commitment = revealed_deal(env, size=3 * CHUNK)
    for index in range(3):
        complaint = build_complaint(io.BytesIO(cipher), io.BytesIO(leaves), index, commitment)
        with pytest.raises(ComplaintUnfounded):
            env.ex.complain(deal, complaint, sender=env.who.buyer)
    env.ex.confirm(deal, sender=env.who.buyer)
    assert env.ex.credit(env.who.seller) == PRICE
