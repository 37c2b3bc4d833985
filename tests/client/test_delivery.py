"""The delivery encoding against the shared vectors, round trips, tampering and complaints."""

from __future__ import annotations

import io
import random

import pytest
from eth_hash.auto import keccak
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from client import delivery
from client.delivery import (
    CHUNK,
    Commitment,
    Complaint,
    Verdict,
    build_complaint,
    check_complaint,
    decrypt_and_check,
    encode_bytes,
    encode_file,
    encode_stream,
    judge_complaint,
    key_commit,
    n_chunks,
    salt_of,
    verify_download,
)
from client.errors import (
    ChunkCountMismatch,
    CipherRootMismatch,
    ClientError,
    DataRootMismatch,
    DeliveryError,
    IndexOutOfRange,
    InvalidKey,
    InvalidSize,
    KeyCommitMismatch,
    RootMismatch,
    TruncatedInput,
)
from client.merkle import merkle_proof, merkle_root

KEY = bytes(range(32))


def h(x: str) -> bytes:
    return bytes.fromhex(x.removeprefix("0x"))


def probe_complaint(probe: dict) -> Complaint:
    return Complaint(
        index=probe["index"],
        cipher_chunk=h(probe["cipherChunk"]),
        cipher_proof=[h(x) for x in probe["cipherProof"]],
        plain_leaf=h(probe["plainLeaf"]),
        data_proof=[h(x) for x in probe["dataProof"]],
    )


def chunks_of(blob: bytes, width: int) -> list[bytes]:
    return [blob[k : k + width] for k in range(0, len(blob), width)]


def rand_bytes(size: int, seed: int) -> bytes:
    return random.Random(seed).randbytes(size)


@pytest.fixture(params=["python", "batch"])
def engine(request, monkeypatch):
    """Run a test through the eth_hash loop and through the compiled batch kernels."""
    if request.param == "python":
        monkeypatch.setattr(delivery, "_BATCH_MIN_CHUNKS", 1 << 62)
    else:
        if delivery._batch_engine() is None:
            pytest.fail("compiled batch keccak unavailable: numba is a declared dependency, reinstall with `make distclean test`")
        monkeypatch.setattr(delivery, "_BATCH_MIN_CHUNKS", 1)
    return request.param


class NonSeekable(io.RawIOBase):
    """A read-only stream that cannot tell its length: forces the streaming length checks."""

    def __init__(self, data: bytes) -> None:
        self._f = io.BytesIO(data)

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        data = self._f.read(min(len(b), 777))  # short reads on purpose
        b[: len(data)] = data
        return len(data)


# ------------------------------------------------------------------ vectors


def test_vector_file_names_this_scheme(vectors_doc):
    assert vectors_doc["scheme"] == "spartacus-delivery-v1"
    assert vectors_doc["chunkSize"] == CHUNK
    names = [v["name"] for v in vectors_doc["vectors"]]
    assert len(names) == 5 and "cheating-seller" in names


def test_vector_encodes_bit_for_bit(vector, release_of, engine):
    data = release_of(vector)
    key = h(vector["key"])
    assert len(data) == vector["size"]
    assert key_commit(key) == h(vector["keyCommit"])
    assert salt_of(key) == h(vector["salt"])
    assert n_chunks(vector["size"]) == vector["nChunks"]

    cipher, leaves, com = encode_bytes(data, key)

    assert len(cipher) == vector["nChunks"] * CHUNK
    assert chunks_of(leaves, 32) == [h(x) for x in vector["plainLeaves"]]
    assert [keccak(c) for c in chunks_of(cipher, CHUNK)] == [h(x) for x in vector["cipherLeaves"]]
    assert com == Commitment(h(vector["dataRoot"]), h(vector["cipherRoot"]), h(vector["keyCommit"]), vector["size"])
    assert com.n == vector["nChunks"]

    probe = probe_complaint(vector["probe"])
    assert cipher[probe.index * CHUNK : (probe.index + 1) * CHUNK] == probe.cipher_chunk
    assert build_complaint(cipher, leaves, probe.index, com) == probe
    assert merkle_proof(chunks_of(leaves, 32), probe.index) == probe.data_proof
    assert len(probe.cipher_proof) == com.depth
    # an honest delivery gives no grounds to complain
    assert judge_complaint(probe, key, com) is Verdict.COMPLAINT_UNFOUNDED
    assert check_complaint(probe, key, com) is False


def test_vector_streams_with_tiny_blocks_to_the_same_bytes(vector, release_of, engine):
    data = release_of(vector)
    key = h(vector["key"])
    cipher, leaves = io.BytesIO(), io.BytesIO()
    com = encode_stream(NonSeekable(data), len(data), key, cipher, leaves, block_chunks=2)
    assert (cipher.getvalue(), leaves.getvalue(), com) == encode_bytes(data, key)
    assert com.data_root == h(vector["dataRoot"]) and com.cipher_root == h(vector["cipherRoot"])


def test_vector_decrypts_to_the_release(vector, release_of, engine):
    data = release_of(vector)
    key = h(vector["key"])
    cipher, leaves, com = encode_bytes(data, key)
    verify_download(cipher, leaves, com)
    out = io.BytesIO()
    report = decrypt_and_check(cipher, leaves, key, com, out)
    assert report.ok and report.bad_indices == [] and report.n == vector["nChunks"]
    assert out.getvalue() == data


def _cheating_download(cheating, release_of):
    data = release_of(cheating)
    key = h(cheating["key"])
    cipher, leaves, _ = encode_bytes(data, key)
    bad = bytearray(cipher)
    bad[2 * CHUNK] ^= 0xFF  # "chunk 2 has its first byte flipped" (all eight bits)
    com = Commitment(h(cheating["dataRoot"]), h(cheating["cipherRoot"]), key_commit(key), cheating["size"])
    return bytes(bad), leaves, key, com


@pytest.mark.parametrize(("probe_name", "index", "verdict"),
                         [("probe", 2, Verdict.REFUNDED), ("honestProbe", 1, Verdict.COMPLAINT_UNFOUNDED)])
def test_cheating_seller_complaint_is_proven_at_index_2_and_refused_at_1(cheating, probe_name, index, verdict):
    key = h(cheating["key"])
    com = Commitment(h(cheating["dataRoot"]), h(cheating["cipherRoot"]), key_commit(key), cheating["size"])
    complaint = probe_complaint(cheating[probe_name])
    assert complaint.index == index
    assert judge_complaint(complaint, key, com) is verdict
    assert check_complaint(complaint, key, com) is (verdict is Verdict.REFUNDED)


def test_cheating_seller_download_is_caught_and_complaint_rebuilt(cheating, release_of, engine):
    cipher, leaves, key, com = _cheating_download(cheating, release_of)
    verify_download(cipher, leaves, com)  # the roots do match: the cheat only shows after the reveal
    out = io.BytesIO()
    report = decrypt_and_check(cipher, leaves, key, com, out)
    assert report.bad_indices == [2] and not report.ok
    assert build_complaint(cipher, leaves, 2, com) == probe_complaint(cheating["probe"])
    assert build_complaint(cipher, leaves, 1, com) == probe_complaint(cheating["honestProbe"])


# ------------------------------------------------------------------ round trips


SIZES = st.one_of(
    st.integers(min_value=1, max_value=20 * 1024),
    st.integers(min_value=1, max_value=20).map(lambda k: k * CHUNK),
    st.integers(min_value=1, max_value=20).map(lambda k: k * CHUNK + 1),
    st.integers(min_value=1, max_value=20).map(lambda k: k * CHUNK - 1),
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(size=SIZES, seed=st.integers(0, 2**32), key=st.binary(min_size=32, max_size=32))
def test_round_trip_encode_verify_decrypt(size, seed, key, engine):
    data = rand_bytes(size, seed)
    cipher, leaves, com = encode_bytes(data, key)
    assert len(cipher) == n_chunks(size) * CHUNK == com.n * CHUNK
    assert len(leaves) == com.n * 32
    assert com.key_commit == key_commit(key)
    assert com.data_root == merkle_root(chunks_of(leaves, 32))
    assert com.cipher_root == merkle_root([keccak(c) for c in chunks_of(cipher, CHUNK)])
    verify_download(cipher, leaves, com)
    out = io.BytesIO()
    report = decrypt_and_check(cipher, leaves, key, com, out)
    assert report.ok
    assert out.getvalue() == data


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(size=st.integers(1, 40 * 1024), seed=st.integers(0, 2**32), block=st.sampled_from([1, 3, 16, 1024]))
def test_streaming_equals_bytes_api(size, seed, block, tmp_path_factory, engine):
    data = rand_bytes(size, seed)
    key = keccak(seed.to_bytes(8, "big"))
    want = encode_bytes(data, key)
    cipher, leaves = io.BytesIO(), io.BytesIO()
    com = encode_stream(NonSeekable(data), size, key, cipher, leaves, block_chunks=block)
    assert (cipher.getvalue(), leaves.getvalue(), com) == want
    verify_download(NonSeekable(want[0]), NonSeekable(want[1]), com, block_chunks=block)
    out = io.BytesIO()
    assert decrypt_and_check(NonSeekable(want[0]), NonSeekable(want[1]), key, com, out, block_chunks=block).ok
    assert out.getvalue() == data


def test_files_equal_bytes_api(tmp_path, engine):
    data = rand_bytes(50_000, 7)
    (tmp_path / "plain").write_bytes(data)
    com = encode_file(tmp_path / "plain", KEY, tmp_path / "cipher", tmp_path / "leaves")
    cipher, leaves, want = encode_bytes(data, KEY)
    assert com == want
    assert (tmp_path / "cipher").read_bytes() == cipher
    assert (tmp_path / "leaves").read_bytes() == leaves
    verify_download(tmp_path / "cipher", str(tmp_path / "leaves"), com)
    with open(tmp_path / "out", "wb") as out:
        report = decrypt_and_check(tmp_path / "cipher", tmp_path / "leaves", KEY, com, out)
    assert report.ok and (tmp_path / "out").read_bytes() == data


# ------------------------------------------------------------------ tampering


@pytest.fixture
def delivered():
    data = rand_bytes(5 * CHUNK + 100, 1)
    cipher, leaves, com = encode_bytes(data, KEY)
    return data, cipher, leaves, com


@pytest.mark.parametrize("at", [0, 3 * CHUNK + 17, 6 * CHUNK - 1])
def test_verify_download_names_cipher_root_on_tampered_ciphertext(delivered, at):
    _, cipher, leaves, com = delivered
    bad = bytearray(cipher)
    bad[at] ^= 0x80
    with pytest.raises(CipherRootMismatch, match="cipherRoot recomputed") as e:
        verify_download(bytes(bad), leaves, com)
    assert e.value.expected == com.cipher_root and e.value.got != com.cipher_root
    assert isinstance(e.value, RootMismatch) and isinstance(e.value, ValueError)


def test_verify_download_names_data_root_on_tampered_leaves(delivered):
    _, cipher, leaves, com = delivered
    bad = bytearray(leaves)
    bad[33] ^= 1
    with pytest.raises(DataRootMismatch, match="dataRoot .* 0x" + com.data_root.hex()):
        verify_download(cipher, bytes(bad), com)


@pytest.mark.parametrize("cut", [-1, -CHUNK, +1, +CHUNK])
def test_verify_download_names_chunk_count_on_wrong_cipher_length(delivered, cut):
    _, cipher, leaves, com = delivered
    bad = cipher[:cut] if cut < 0 else cipher + bytes(cut)
    for src in (bad, NonSeekable(bad)):
        with pytest.raises(ChunkCountMismatch, match=rf"ciphertext holds {len(bad)} bytes .*\(n = 6 chunks\) requires exactly 6144") as e:
            verify_download(src, leaves, com)
        assert (e.value.expected_bytes, e.value.got_bytes) == (6 * CHUNK, len(bad))


@pytest.mark.parametrize("cut", [-32, -1, +32])
def test_verify_download_names_chunk_count_on_wrong_leaves_length(delivered, cut):
    _, cipher, leaves, com = delivered
    bad = leaves[:cut] if cut < 0 else leaves + bytes(cut)
    for src in (bad, NonSeekable(bad)):
        with pytest.raises(ChunkCountMismatch, match="plain-leaf file holds"):
            verify_download(cipher, src, com)


def test_decrypt_reports_the_chunks_a_seller_corrupted(delivered, engine):
    data, cipher, leaves, _ = delivered
    bad = bytearray(cipher)
    for i in (1, 4):
        bad[i * CHUNK + 5] ^= 0xFF
    # a cheating seller commits to the corrupted ciphertext, so the roots check out
    com = encode_bytes(data, KEY)[2]
    com = Commitment(com.data_root, merkle_root([keccak(c) for c in chunks_of(bytes(bad), CHUNK)]), com.key_commit, com.size)
    verify_download(bytes(bad), leaves, com)
    out = io.BytesIO()
    report = decrypt_and_check(bytes(bad), leaves, KEY, com, out)
    assert report.bad_indices == [1, 4]
    assert len(out.getvalue()) == len(data)


def test_decrypt_refuses_a_key_that_does_not_open_the_commitment(delivered):
    _, cipher, leaves, com = delivered
    with pytest.raises(KeyCommitMismatch, match="keyCommit 0x" + com.key_commit.hex()):
        decrypt_and_check(cipher, leaves, bytes(32), com, io.BytesIO())


def test_decrypt_refuses_leaves_that_are_not_the_committed_ones(delivered):
    _, cipher, leaves, com = delivered
    bad = bytearray(leaves)
    bad[0] ^= 1
    with pytest.raises(DataRootMismatch):
        decrypt_and_check(cipher, bytes(bad), KEY, com, io.BytesIO())


def test_bad_inputs_raise_errors_that_name_the_value():
    with pytest.raises(InvalidKey, match="32 bytes, got bytes of length 31"):
        encode_bytes(b"x", bytes(31))
    with pytest.raises(InvalidKey):
        key_commit("00" * 32)
    with pytest.raises(InvalidSize, match=r"\(0\)"):
        encode_bytes(b"", KEY)
    with pytest.raises(InvalidSize, match=r"\(-1\)"):
        n_chunks(-1)
    with pytest.raises(TruncatedInput, match="ended after 10 bytes but size says 11"):
        encode_stream(io.BytesIO(bytes(10)), 11, KEY, io.BytesIO(), io.BytesIO())
    with pytest.raises(ValueError, match="data_root must be 32 bytes"):
        Commitment(bytes(31), bytes(32), bytes(32), 1)
    with pytest.raises(InvalidSize):
        Commitment(bytes(32), bytes(32), bytes(32), 0)


def test_errors_share_one_root_and_the_builtin_they_resemble():
    for cls in (InvalidKey, InvalidSize, TruncatedInput, ChunkCountMismatch, DataRootMismatch,
                CipherRootMismatch, KeyCommitMismatch, IndexOutOfRange):
        assert issubclass(cls, DeliveryError) and issubclass(cls, ClientError) and issubclass(cls, ValueError)
    assert issubclass(IndexOutOfRange, IndexError)


def test_n_chunks_boundaries():
    assert [n_chunks(s) for s in (0, 1, 1023, 1024, 1025, 2048, 2049)] == [0, 1, 1, 1, 2, 2, 3]


# ------------------------------------------------------------------ complaints at every depth


def _cheat(data: bytes, key: bytes, bad_chunk: int, how: str):
    """A seller who corrupts one chunk and commits to what it ships."""
    cipher, leaves, com = encode_bytes(data, key)
    cipher, leaves = bytearray(cipher), bytearray(leaves)
    if how == "cipher":
        cipher[bad_chunk * CHUNK + 100] ^= 0x5A
    else:  # a plain leaf that no chunk decrypts to
        leaves[bad_chunk * 32] ^= 0x01
    cipher, leaves = bytes(cipher), bytes(leaves)
    com = Commitment(
        merkle_root(chunks_of(leaves, 32)), merkle_root([keccak(c) for c in chunks_of(cipher, CHUNK)]),
        com.key_commit, com.size,
    )
    return cipher, leaves, com


# (depth, n): the smallest and the largest n of every depth 0..7
DEPTH_CASES = [(0, 1)] + [(d, n) for d in range(1, 8) for n in sorted({2 ** (d - 1) + 1, 2**d})]


@pytest.mark.parametrize("how", ["cipher", "leaf"])
@pytest.mark.parametrize(("depth", "n"), DEPTH_CASES, ids=[f"d{d}-n{n}" for d, n in DEPTH_CASES])
def test_complaint_proven_at_every_depth(depth, n, how):
    rng = random.Random(n)
    size = (n - 1) * CHUNK + rng.randint(1, CHUNK)
    key = rng.randbytes(32)
    data = rng.randbytes(size)
    bad_chunk = rng.randrange(n)
    cipher, leaves, com = _cheat(data, key, bad_chunk, how)
    assert com.n == n and com.depth == depth
    verify_download(cipher, leaves, com)
    report = decrypt_and_check(cipher, leaves, key, com, io.BytesIO())
    assert report.bad_indices == [bad_chunk]

    complaint = build_complaint(cipher, leaves, bad_chunk, com)
    assert len(complaint.cipher_proof) == len(complaint.data_proof) == depth
    assert check_complaint(complaint, key, com) is True

    for honest in {0, n - 1, (bad_chunk + 1) % n} - {bad_chunk}:
        c = build_complaint(cipher, leaves, honest, com)
        assert judge_complaint(c, key, com) is Verdict.COMPLAINT_UNFOUNDED and check_complaint(c, key, com) is False


@pytest.fixture
def proven():
    """A proven complaint at depth 3 (n = 7) and its commitment, to tamper with."""
    data = rand_bytes(7 * CHUNK - 3, 3)
    cipher, leaves, com = _cheat(data, KEY, 5, "cipher")
    complaint = build_complaint(cipher, leaves, 5, com)
    assert check_complaint(complaint, KEY, com)
    return complaint, com


def _with(c: Complaint, **kw) -> Complaint:
    d = dict(index=c.index, cipher_chunk=c.cipher_chunk, cipher_proof=list(c.cipher_proof),
             plain_leaf=c.plain_leaf, data_proof=list(c.data_proof))
    d.update(kw)
    return Complaint(**d)


@pytest.mark.parametrize(
    ("tamper", "reason"),
    [
        (lambda c: _with(c, index=7), Verdict.CHUNK_INDEX_OUT_OF_RANGE),
        (lambda c: _with(c, index=-1), Verdict.CHUNK_INDEX_OUT_OF_RANGE),
        (lambda c: _with(c, index=4), Verdict.PROOF_MISMATCH),
        (lambda c: _with(c, index=5 + 8), Verdict.CHUNK_INDEX_OUT_OF_RANGE),
        (lambda c: _with(c, cipher_chunk=c.cipher_chunk[:-1]), Verdict.BAD_CHUNK_LENGTH),
        (lambda c: _with(c, cipher_chunk=c.cipher_chunk + b"\0"), Verdict.BAD_CHUNK_LENGTH),
        # the contract checks the chunk's length before the index
        (lambda c: _with(c, cipher_chunk=c.cipher_chunk[:-1], index=7), Verdict.BAD_CHUNK_LENGTH),
        (lambda c: _with(c, cipher_proof=c.cipher_proof[:-1]), Verdict.BAD_PROOF_LENGTH),
        (lambda c: _with(c, data_proof=c.data_proof + [bytes(32)]), Verdict.BAD_PROOF_LENGTH),
        (lambda c: _with(c, cipher_proof=c.cipher_proof[::-1]), Verdict.PROOF_MISMATCH),
        (lambda c: _with(c, cipher_chunk=bytes(CHUNK)), Verdict.PROOF_MISMATCH),
        (lambda c: _with(c, data_proof=[c.data_proof[0][::-1]] + c.data_proof[1:]), Verdict.PROOF_MISMATCH),
        (lambda c: _with(c, plain_leaf=bytes(32)), Verdict.PROOF_MISMATCH),
    ],
)
def test_tampered_complaint_is_refused_with_the_reason(proven, tamper, reason):
    complaint, com = proven
    bad = tamper(complaint)
    assert judge_complaint(bad, KEY, com) is reason
    assert not reason.proven and check_complaint(bad, KEY, com) is False


def test_verdicts_are_named_as_the_contract_names_its_outcomes():
    from client.chain.artifacts import load_artifact

    abi = load_artifact("DataExchange")["abi"]
    errors = {e["name"] for e in abi if e["type"] == "error"}
    events = {e["name"] for e in abi if e["type"] == "event"}
    for verdict in Verdict:
        if verdict.proven:
            assert verdict.value in events and verdict is Verdict.REFUNDED
        else:
            assert verdict.value in errors, f"{verdict.value} is not a custom error of DataExchange"
    assert [v for v in Verdict if v.proven] == [Verdict.REFUNDED]


def test_complaint_with_a_key_that_does_not_open_the_commitment_raises(proven):
    complaint, com = proven
    with pytest.raises(KeyCommitMismatch):
        check_complaint(complaint, bytes(32), com)


def test_build_complaint_refuses_out_of_range_and_foreign_files(delivered):
    data, cipher, leaves, com = delivered
    with pytest.raises(IndexOutOfRange, match=r"chunk index \(6\) must satisfy 0 <= index < n = 6"):
        build_complaint(cipher, leaves, 6, com)
    other = encode_bytes(data, bytes(32))
    with pytest.raises(DataRootMismatch):
        build_complaint(other[0], other[1], 0, com)
    with pytest.raises(CipherRootMismatch):
        build_complaint(other[0], leaves, 0, com)


def test_complaint_contract_args_are_in_complain_order(proven):
    complaint, _ = proven
    index, chunk, cproof, leaf, dproof = complaint.contract_args()
    assert (index, chunk, cproof, leaf, dproof) == (
        complaint.index, complaint.cipher_chunk, complaint.cipher_proof, complaint.plain_leaf, complaint.data_proof
    )


# ------------------------------------------------------------------ padding


def _padded_with(data: bytes, key: bytes, tail: bytes):
    """A hub that pads the last chunk with ``tail`` instead of zeros and commits honestly to what it ships."""
    size = len(data)
    assert size % CHUNK and len(tail) == CHUNK - size % CHUNK
    cipher, leaves, com = encode_bytes(data + tail, key)
    return cipher, leaves, Commitment(com.data_root, com.cipher_root, com.key_commit, size)


def test_zero_padding_is_not_reported(delivered, engine):
    data, cipher, leaves, com = delivered
    report = decrypt_and_check(cipher, leaves, KEY, com, io.BytesIO())
    assert report.ok and not report.bad_padding and report.bad_indices == report.bad_leaves == []


@pytest.mark.parametrize("where", [0, -1, "all"])
def test_non_zero_padding_is_a_bad_last_chunk(where, engine):
    data = rand_bytes(5 * CHUNK + 100, 11)
    tail = bytearray(CHUNK - 100)
    if where == "all":
        tail[:] = b"\xff" * len(tail)
    else:
        tail[where] = 0x01
    cipher, leaves, com = _padded_with(data, KEY, bytes(tail))
    verify_download(cipher, leaves, com)  # the roots are honest: the fault shows only after the reveal
    out = io.BytesIO()
    report = decrypt_and_check(cipher, leaves, KEY, com, out)
    assert out.getvalue() == data  # the release itself is intact: exactly size bytes are written
    assert report.bad_padding and not report.ok
    assert report.bad_indices == [com.n - 1] == [5]
    assert report.bad_leaves == []  # every chunk matches its committed leaf...
    # ...so a complaint would revert: protocol v1's contract refunds only a leaf mismatch (docs/protocol-notes.md)
    complaint = build_complaint(cipher, leaves, com.n - 1, com)
    assert judge_complaint(complaint, KEY, com) is Verdict.COMPLAINT_UNFOUNDED


def test_bad_padding_and_a_bad_leaf_are_both_reported(engine):
    data = rand_bytes(3 * CHUNK + 1, 12)
    tail = b"\x00" * (CHUNK - 2) + b"\x07"
    cipher, leaves, com = _padded_with(data, KEY, tail)
    bad = bytearray(cipher)
    bad[CHUNK + 9] ^= 0x10  # and a cheat in chunk 1, committed to
    com = Commitment(com.data_root, merkle_root([keccak(c) for c in chunks_of(bytes(bad), CHUNK)]), com.key_commit, com.size)
    report = decrypt_and_check(bytes(bad), leaves, KEY, com, io.BytesIO())
    assert report.bad_leaves == [1] and report.bad_padding
    assert report.bad_indices == [1, 3]


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(size=st.integers(1, 6 * CHUNK).filter(lambda s: s % CHUNK), seed=st.integers(0, 2**32), data=st.data())
def test_padding_is_reported_exactly_when_a_padding_byte_is_not_zero(size, seed, data, engine):
    pad = CHUNK - size % CHUNK
    at = data.draw(st.integers(0, pad - 1))
    value = data.draw(st.integers(0, 255))
    tail = bytes(at) + bytes([value]) + bytes(pad - at - 1)
    cipher, leaves, com = _padded_with(rand_bytes(size, seed), KEY, tail)
    report = decrypt_and_check(cipher, leaves, KEY, com, io.BytesIO(), block_chunks=data.draw(st.sampled_from([1, 2, 1024])))
    assert report.bad_padding is (value != 0)
    assert report.bad_indices == ([com.n - 1] if value else [])
    assert report.bad_leaves == []
