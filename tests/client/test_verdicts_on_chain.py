"""judge_complaint against DataExchange.complain on the embedded chain: the same verdict, named the same."""

from __future__ import annotations

import io
import random

import pytest
from eth_hash.auto import keccak

from client.chain import Exchange, State, connect
from client.chain.errors import ContractRevert
from client.delivery import CHUNK, Commitment, Complaint, Verdict, build_complaint, decrypt_and_check, encode_bytes, judge_complaint
from client.merkle import merkle_root

ETHER = 10**18
DATASET = b"\x5a" * 32
KEY = bytes(range(32))


@pytest.fixture(scope="module")
def chain():
    w3 = connect("embedded")
    deployer, seller, oracle, buyer = w3.eth.accounts[:4]
    ex = Exchange.deploy(w3, sender=deployer)
    ex.register_seller(oracle, sender=seller)
    ex.register_dataset(DATASET, 2**32 - 2, sender=seller)
    return ex, seller, oracle, buyer


def _revealed_deal(chain, commitment: Commitment, key: bytes, label: str) -> int:
    ex, seller, oracle, buyer = chain
    deal, _ = ex.open_deal(seller, DATASET, keccak(label.encode()), ETHER, 0, sender=buyer)
    ex.post_quote(deal, ETHER // 2, 1, commitment, sender=oracle)
    ex.accept(deal, sender=buyer)
    ex.reveal_key(deal, key, sender=oracle)
    return deal


def _chain_verdict(chain, commitment: Commitment, key: bytes, complaint: Complaint, label: str) -> str:
    ex, _, _, buyer = chain
    deal = _revealed_deal(chain, commitment, key, label)
    try:
        result = ex.complain(deal, complaint, sender=buyer)
    except ContractRevert as err:
        assert ex.state(deal) == State.REVEALED
        return err.error_name
    assert ex.state(deal) == State.REFUNDED and result.event("Refunded")["toBuyer"] == ETHER
    return "Refunded"


def _cheat(n_chunks: int, bad: int, seed: int):
    """A seller who flips a byte of chunk `bad` and commits to the ciphertext it ships."""
    rng = random.Random(seed)
    data = rng.randbytes((n_chunks - 1) * CHUNK + rng.randint(1, CHUNK))
    cipher, leaves, com = encode_bytes(data, KEY)
    cipher = bytearray(cipher)
    cipher[bad * CHUNK + 3] ^= 0x40
    cipher = bytes(cipher)
    com = Commitment(com.data_root, merkle_root([keccak(cipher[i:i + CHUNK]) for i in range(0, len(cipher), CHUNK)]),
                     com.key_commit, com.size)
    return cipher, leaves, com


def _with(c: Complaint, **kw) -> Complaint:
    d = dict(index=c.index, cipher_chunk=c.cipher_chunk, cipher_proof=list(c.cipher_proof), plain_leaf=c.plain_leaf,
             data_proof=list(c.data_proof))
    d.update(kw)
    return Complaint(**d)


TAMPER = {
    "proven": lambda c: c,
    "honest-chunk": None,  # built below from another index
    "index-too-high": lambda c: _with(c, index=7),
    "index-far": lambda c: _with(c, index=2**64 - 1),
    "other-index": lambda c: _with(c, index=4),
    "chunk-short": lambda c: _with(c, cipher_chunk=c.cipher_chunk[:-1]),
    "chunk-long": lambda c: _with(c, cipher_chunk=c.cipher_chunk + b"\0"),
    "chunk-short-and-index-too-high": lambda c: _with(c, cipher_chunk=c.cipher_chunk[:-1], index=9),
    "cipher-proof-short": lambda c: _with(c, cipher_proof=c.cipher_proof[:-1]),
    "data-proof-long": lambda c: _with(c, data_proof=c.data_proof + [bytes(32)]),
    "cipher-proof-reversed": lambda c: _with(c, cipher_proof=c.cipher_proof[::-1]),
    "zero-chunk": lambda c: _with(c, cipher_chunk=bytes(CHUNK)),
    "zero-leaf": lambda c: _with(c, plain_leaf=bytes(32)),
}


@pytest.mark.parametrize("case", list(TAMPER))
def test_client_verdict_is_the_contracts_outcome(chain, case):
    cipher, leaves, com = _cheat(7, 5, seed=3)
    complaint = build_complaint(cipher, leaves, 5, com)
    complaint = build_complaint(cipher, leaves, 2, com) if TAMPER[case] is None else TAMPER[case](complaint)
    verdict = judge_complaint(complaint, KEY, com)
    assert isinstance(verdict, Verdict)
    assert _chain_verdict(chain, com, KEY, complaint, case) == verdict.value


def test_verdicts_seen_on_chain_cover_every_member(chain):
    """The table above reaches every Verdict, so each name is checked against a real revert."""
    cipher, leaves, com = _cheat(7, 5, seed=3)
    base = build_complaint(cipher, leaves, 5, com)
    seen = {judge_complaint(build_complaint(cipher, leaves, 2, com) if f is None else f(base), KEY, com) for f in TAMPER.values()}
    assert seen == set(Verdict)


def test_a_padding_fault_alone_is_reported_but_the_contract_refuses_the_complaint(chain):
    size = 3 * CHUNK + 10
    data = random.Random(9).randbytes(size)
    cipher, leaves, com = encode_bytes(data + b"\x01" * (CHUNK - 10), KEY)
    com = Commitment(com.data_root, com.cipher_root, com.key_commit, size)
    report = decrypt_and_check(cipher, leaves, KEY, com, io.BytesIO())
    assert report.bad_indices == [3] and report.bad_padding and report.bad_leaves == []
    complaint = build_complaint(cipher, leaves, 3, com)
    assert judge_complaint(complaint, KEY, com) is Verdict.COMPLAINT_UNFOUNDED
    assert _chain_verdict(chain, com, KEY, complaint, "padding") == "ComplaintUnfounded"
