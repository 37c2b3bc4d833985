"""The delivery encoding: a one-chunk FairSwap (protocol.md, "Delivery encoding").

The hub encrypts the release under a fresh 32-byte key with a keccak keystream and
commits to two Merkle roots: ``dataRoot`` over salted plain-chunk hashes and
``cipherRoot`` over ciphertext-chunk hashes, plus ``keyCommit``. The buyer checks the
roots before it accepts, decrypts after the key is revealed on chain, checks every
chunk, and where one fails proves it to the contract with a :class:`Complaint`.

Everything streams over files in blocks of :data:`BLOCK_CHUNKS` chunks, so memory
stays flat in the size of the release. Blocks are hashed by the compiled batch kernel
in :mod:`client._keccak_batch` (both cores) when it is available and the block is
large enough to be worth it; otherwise by a plain loop over ``eth_hash``. Both give
the same bytes; the tests hold them to it.

Citations: S. Dziembowski, L. Eckey, S. Faust, "FairSwap: How to fairly exchange
digital goods", ACM CCS 2018.
"""

from __future__ import annotations

import enum
import io
import os
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import BinaryIO, Iterator, Union

import numpy as np
from eth_hash.auto import keccak

from client.constants import CHUNK, LEAF, WORD, WORDS_PER_CHUNK  # re-exported: the delivery encoding's numbers
from client.errors import (
    ChunkCountMismatch,
    CipherRootMismatch,
    DataRootMismatch,
    IndexOutOfRange,
    InvalidKey,
    InvalidSize,
    KeyCommitMismatch,
    TruncatedInput,
)
from client.merkle import MerkleBuilder, merkle_proof, root_from_proof, tree_depth, verify_proof


__all__ = [
    "CHUNK",
    "LEAF",
    "WORD",
    "WORDS_PER_CHUNK",
    "BLOCK_CHUNKS",
    "key_commit",
    "salt_of",
    "n_chunks",
    "keystream",
    "Commitment",
    "DecryptReport",
    "Complaint",
    "Verdict",
    "encode_stream",
    "encode_file",
    "encode_bytes",
    "verify_download",
    "decrypt_and_check",
    "build_complaint",
    "judge_complaint",
    "check_complaint",
]

#: Chunks per streaming block: 1024 chunks = 1 MiB of data in memory at a time.
BLOCK_CHUNKS: int = 1024
# Blocks with fewer chunks than this go through the eth_hash loop (no JIT warm-up for tiny files).
_BATCH_MIN_CHUNKS: int = 16

_MAX_SIZE = 1 << 64

Source = Union[str, "os.PathLike[str]", BinaryIO, bytes, bytearray, memoryview]


# ---------------------------------------------------------------- primitives


def _check_key(key: object) -> bytes:
    if not isinstance(key, (bytes, bytearray, memoryview)) or len(key) != 32:
        raise InvalidKey(key)
    return bytes(key)


def key_commit(key: bytes) -> bytes:
    """``keyCommit = keccak(0x00 ‖ key)``, what the quote commits and revealKey checks."""
    return keccak(b"\x00" + _check_key(key))


def salt_of(key: bytes) -> bytes:
    """``salt = keccak(0x01 ‖ key)``: hides the plain leaves until the key is revealed."""
    return keccak(b"\x01" + _check_key(key))


def n_chunks(size: int) -> int:
    """Number of 1024-byte chunks of a release of ``size`` bytes: ``ceil(size / 1024)``."""
    if isinstance(size, bool) or not isinstance(size, int) or not 0 <= size < _MAX_SIZE:
        raise InvalidSize(size)
    return -(-size // CHUNK)


def _check_size(size: object) -> int:
    if isinstance(size, bool) or not isinstance(size, int) or not 0 < size < _MAX_SIZE:
        raise InvalidSize(size)
    return size


def _py_keystream(key: bytes, first_word: int, count: int) -> bytes:
    return b"".join(keccak(b"\x02" + key + (w).to_bytes(32, "big")) for w in range(first_word, first_word + count))


def keystream(key: bytes, first_word: int, count: int) -> bytes:
    """Keystream words ``first_word .. first_word+count-1``, 32 bytes each:
    ``word w = keccak(0x02 ‖ key ‖ uint256(w))``; chunk ``i`` uses words ``32·i … 32·i+31``
    (:data:`WORDS_PER_CHUNK` = CHUNK / 32 per chunk)."""
    return _py_keystream(_check_key(key), first_word, count)


def _xor(a: bytes | memoryview, b: bytes) -> bytes:
    return (int.from_bytes(a, "little") ^ int.from_bytes(b, "little")).to_bytes(len(b), "little")


def _plain_leaf(salt: bytes, index: int, chunk: bytes | memoryview) -> bytes:
    return keccak(salt + index.to_bytes(8, "big") + bytes(chunk))


# ---------------------------------------------------------------- block engines


_kb = None  # client._keccak_batch once loaded: importing numba costs ~0.2 s, so only when a block needs it
_kb_tried = False


def _batch_engine():
    """The compiled kernels module, or None if numba is unavailable (the eth_hash loop is then used)."""
    global _kb, _kb_tried
    if not _kb_tried:
        _kb_tried = True
        try:  # an accelerator, never a requirement
            from client import _keccak_batch

            _kb = _keccak_batch if _keccak_batch.AVAILABLE else None
        except Exception:  # pragma: no cover - numba missing or broken
            _kb = None
    return _kb


def _use_batch(k: int) -> bool:
    return k >= _BATCH_MIN_CHUNKS and _batch_engine() is not None


def _encode_block(plain: memoryview, i0: int, key: bytes, salt: bytes) -> tuple[bytes, bytes, bytes]:
    """Encrypt k whole (padded) chunks starting at chunk ``i0``: (cipher, plain leaves, cipher leaves)."""
    k = len(plain) // CHUNK
    if _use_batch(k):
        return _kb.encode_chunks(plain, i0, key, salt)
    cipher, pleaves, cleaves = [], [], []
    for c in range(k):
        chunk = plain[c * CHUNK : (c + 1) * CHUNK]
        ct = _xor(chunk, _py_keystream(key, WORDS_PER_CHUNK * (i0 + c), WORDS_PER_CHUNK))
        cipher.append(ct)
        pleaves.append(_plain_leaf(salt, i0 + c, chunk))
        cleaves.append(keccak(ct))
    return b"".join(cipher), b"".join(pleaves), b"".join(cleaves)


def _decrypt_block(cipher: memoryview, i0: int, key: bytes, salt: bytes) -> tuple[bytes, bytes]:
    """Decrypt k chunks starting at chunk ``i0``: (plain, plain leaves recomputed)."""
    k = len(cipher) // CHUNK
    if _use_batch(k):
        return _kb.decrypt_chunks(cipher, i0, key, salt)
    plain, pleaves = [], []
    for c in range(k):
        pt = _xor(cipher[c * CHUNK : (c + 1) * CHUNK], _py_keystream(key, WORDS_PER_CHUNK * (i0 + c), WORDS_PER_CHUNK))
        plain.append(pt)
        pleaves.append(_plain_leaf(salt, i0 + c, pt))
    return b"".join(plain), b"".join(pleaves)


def _cipher_leaves(cipher: memoryview) -> bytes:
    k = len(cipher) // CHUNK
    if _use_batch(k):
        return _kb.chunk_hashes(cipher)
    return b"".join(keccak(bytes(cipher[c * CHUNK : (c + 1) * CHUNK])) for c in range(k))


# ---------------------------------------------------------------- I/O helpers


@contextmanager
def _opened(src: Source, what: str) -> Iterator[BinaryIO]:
    """A readable binary stream for a path, a bytes-like object or an open binary file."""
    if isinstance(src, (str, os.PathLike)):
        with open(src, "rb") as f:
            yield f
    elif isinstance(src, (bytes, bytearray, memoryview)):
        yield io.BytesIO(src)
    elif hasattr(src, "read"):
        yield src  # the caller owns it
    else:
        raise TypeError(f"{what} must be a path, bytes or a binary file opened for reading, got {type(src).__name__}")


def _remaining_length(f: BinaryIO) -> int | None:
    """Bytes left in ``f`` if it can tell without reading, else None."""
    try:
        if not f.seekable():
            return None
        pos = f.tell()
        end = f.seek(0, io.SEEK_END)
        f.seek(pos)
        return end - pos
    except (AttributeError, OSError, ValueError):
        return None


def _read_into(f: BinaryIO, mv: memoryview) -> int:
    """Fill ``mv`` from ``f``; return how many bytes were read (fewer only at EOF)."""
    got = 0
    readinto = getattr(f, "readinto", None)
    while got < len(mv):
        if readinto is not None:
            r = readinto(mv[got:])
        else:
            data = f.read(len(mv) - got)
            r = len(data)
            mv[got : got + r] = data
        if not r:
            break
        got += r
    return got


def _check_lengths(cf: BinaryIO, lf: BinaryIO, n: int) -> None:
    for f, what, rec in ((lf, "plain-leaf file", LEAF), (cf, "ciphertext", CHUNK)):
        length = _remaining_length(f)
        if length is not None and length != n * rec:
            raise ChunkCountMismatch(what, n * rec, length, n)


def _blocks(f: BinaryIO, record: int, n: int, what: str, block_chunks: int) -> Iterator[tuple[int, memoryview]]:
    """Yield (first index, block) over exactly n records of ``record`` bytes; the
    block buffer is reused. Raises ChunkCountMismatch if the stream is short or long."""
    buf = bytearray(min(n, block_chunks) * record)
    mv = memoryview(buf)
    i = 0
    while i < n:
        k = min(block_chunks, n - i)
        got = _read_into(f, mv[: k * record])
        if got != k * record:
            raise ChunkCountMismatch(what, n * record, i * record + got, n)
        yield i, mv[: k * record]
        i += k
    if f.read(1):
        rest = _remaining_length(f)
        if rest is None:  # count what is left without holding it
            rest = 0
            while piece := f.read(1 << 20):
                rest += len(piece)
        raise ChunkCountMismatch(what, n * record, n * record + 1 + rest, n)


# ---------------------------------------------------------------- commitment


@dataclass(frozen=True)
class Commitment:
    """What a quote commits to: ``postQuote(..., dataRoot, cipherRoot, keyCommit, size)``."""

    data_root: bytes
    cipher_root: bytes
    key_commit: bytes
    size: int

    def __post_init__(self) -> None:
        for name in ("data_root", "cipher_root", "key_commit"):
            value = getattr(self, name)
            if not isinstance(value, (bytes, bytearray)) or len(value) != 32:
                raise ValueError(f"Commitment.{name} must be 32 bytes, got {value!r}")
            object.__setattr__(self, name, bytes(value))
        _check_size(self.size)

    @property
    def n(self) -> int:
        """Number of chunks, ``ceil(size / 1024)``."""
        return n_chunks(self.size)

    @property
    def depth(self) -> int:
        """Depth of both trees, ``ceil(log2(n))``: the length of every proof."""
        return tree_depth(self.n)

    def check_key(self, key: bytes) -> None:
        """Raise :class:`KeyCommitMismatch` unless ``keccak(0x00 ‖ key) == key_commit``."""
        got = key_commit(key)
        if got != self.key_commit:
            raise KeyCommitMismatch(self.key_commit, got)

    def quote_args(self) -> tuple[bytes, bytes, bytes, int]:
        """``(dataRoot, cipherRoot, keyCommit, size)`` in postQuote's order."""
        return self.data_root, self.cipher_root, self.key_commit, self.size


@dataclass(frozen=True)
class DecryptReport:
    """Outcome of :func:`decrypt_and_check`: which chunks are not what the protocol requires.

    ``bad_leaves``: chunks that do not decrypt to their committed plain leaf (each is a
    complaint the contract refunds). ``bad_padding``: the last chunk's bytes beyond ``size``
    are not all zero; the contract cannot refund that (protocol-notes.md, "Padding"), but the
    hub broke the encoding, and anyone holding the revealed key can check it."""

    n: int
    size: int
    bad_leaves: list[int] = field(default_factory=list)
    bad_padding: bool = False

    @property
    def bad_indices(self) -> list[int]:
        """Every bad chunk, ascending: the leaf mismatches, and the last chunk if its padding is not zero."""
        return sorted(set(self.bad_leaves) | ({self.n - 1} if self.bad_padding else set()))

    @property
    def ok(self) -> bool:
        """True when every chunk decrypted to its committed plain leaf and the padding is zero."""
        return not self.bad_leaves and not self.bad_padding


@dataclass(frozen=True)
class Complaint:
    """A proof of misbehaviour for one chunk, the arguments of ``complain`` after dealId."""

    index: int
    cipher_chunk: bytes
    cipher_proof: list[bytes]
    plain_leaf: bytes
    data_proof: list[bytes]

    def contract_args(self) -> tuple[int, bytes, list[bytes], bytes, list[bytes]]:
        """``(index, cipherChunk, cipherProof, plainLeaf, dataProof)`` in complain()'s order."""
        return self.index, self.cipher_chunk, list(self.cipher_proof), self.plain_leaf, list(self.data_proof)


# ---------------------------------------------------------------- encoder


def encode_stream(
    src: BinaryIO, size: int, key: bytes, cipher_out: BinaryIO, leaves_out: BinaryIO, *, block_chunks: int = BLOCK_CHUNKS
) -> Commitment:
    """Encode ``size`` bytes read from ``src``: write the ciphertext (n × 1024 bytes) to
    ``cipher_out`` and the plain leaves (n × 32 bytes) to ``leaves_out``; return the
    commitment to quote. Memory is O(block_chunks · 1024 + log n)."""
    key = _check_key(key)
    size = _check_size(size)
    n = n_chunks(size)
    salt = salt_of(key)
    data_tree, cipher_tree = MerkleBuilder(), MerkleBuilder()
    buf = bytearray(min(n, block_chunks) * CHUNK)
    mv = memoryview(buf)
    i = done = 0
    while i < n:
        k = min(block_chunks, n - i)
        want = min(k * CHUNK, size - done)
        got = _read_into(src, mv[:want])
        if got != want:
            raise TruncatedInput(size, done + got)
        mv[want : k * CHUNK] = bytes(k * CHUNK - want)  # zero-pad the last chunk
        cipher, pleaves, cleaves = _encode_block(mv[: k * CHUNK], i, key, salt)
        cipher_out.write(cipher)
        leaves_out.write(pleaves)
        data_tree.add(pleaves)
        cipher_tree.add(cleaves)
        i += k
        done += want
    return Commitment(data_tree.root(), cipher_tree.root(), key_commit(key), size)


def encode_file(
    plain_path: str | os.PathLike[str], key: bytes, cipher_path: str | os.PathLike[str], leaves_path: str | os.PathLike[str]
) -> Commitment:
    """Encode the file at ``plain_path``; write the ciphertext and plain-leaf files."""
    size = os.path.getsize(plain_path)
    with open(plain_path, "rb") as src, open(cipher_path, "wb") as c, open(leaves_path, "wb") as lv:
        return encode_stream(src, size, key, c, lv)


def encode_bytes(data: bytes, key: bytes) -> tuple[bytes, bytes, Commitment]:
    """Encode in memory: ``(ciphertext n×1024, plain leaves n×32, commitment)``."""
    cipher, leaves = io.BytesIO(), io.BytesIO()
    commitment = encode_stream(io.BytesIO(data), len(data), key, cipher, leaves)
    return cipher.getvalue(), leaves.getvalue(), commitment


# ---------------------------------------------------------------- buyer side


def _leaves_root(lf: BinaryIO, n: int, block_chunks: int) -> bytes:
    tree = MerkleBuilder()
    for _, block in _blocks(lf, LEAF, n, "plain-leaf file", block_chunks):
        tree.add(block)
    return tree.root()


def verify_download(cipher: Source, leaves: Source, commitment: Commitment, *, block_chunks: int = BLOCK_CHUNKS) -> None:
    """Check a download against the quote before accepting it.

    Raises :class:`ChunkCountMismatch` if either file does not hold exactly n records,
    :class:`DataRootMismatch` if the plain leaves do not hash to ``dataRoot``,
    :class:`CipherRootMismatch` if the ciphertext does not hash to ``cipherRoot``.
    """
    n = commitment.n
    with _opened(cipher, "cipher") as cf, _opened(leaves, "leaves") as lf:
        _check_lengths(cf, lf, n)
        got = _leaves_root(lf, n, block_chunks)
        if got != commitment.data_root:
            raise DataRootMismatch(commitment.data_root, got)
        tree = MerkleBuilder()
        for _, block in _blocks(cf, CHUNK, n, "ciphertext", block_chunks):
            tree.add(_cipher_leaves(block))
        got = tree.root()
        if got != commitment.cipher_root:
            raise CipherRootMismatch(commitment.cipher_root, got)


def decrypt_and_check(
    cipher: Source, leaves: Source, key: bytes, commitment: Commitment, plain_out: BinaryIO, *, block_chunks: int = BLOCK_CHUNKS
) -> DecryptReport:
    """Decrypt with the revealed key, write exactly ``size`` bytes to ``plain_out`` and
    check every chunk against its plain leaf, and the last chunk's padding against zero.
    Chunks that fail are listed in the report's ``bad_indices``; those in ``bad_leaves``
    are grounds for :func:`build_complaint` (a padding fault alone is not: the contract
    refunds only a leaf mismatch).

    Raises :class:`KeyCommitMismatch` for a key that is not the committed one,
    :class:`ChunkCountMismatch` for files of the wrong length and
    :class:`DataRootMismatch` if the leaves are not the committed ones (a complaint
    built on them would be refused). The ciphertext is checked against ``cipherRoot``
    by :func:`verify_download`, which the buyer runs before accepting.
    """
    key = _check_key(key)
    commitment.check_key(key)
    salt = salt_of(key)
    n, size = commitment.n, commitment.size
    bad: list[int] = []
    bad_padding = False
    data_tree = MerkleBuilder()
    with _opened(cipher, "cipher") as cf, _opened(leaves, "leaves") as lf:
        _check_lengths(cf, lf, n)
        leaf_blocks = _blocks(lf, LEAF, n, "plain-leaf file", block_chunks)
        for (i, cblock), (_, lblock) in zip(_blocks(cf, CHUNK, n, "ciphertext", block_chunks), leaf_blocks):
            plain, computed = _decrypt_block(cblock, i, key, salt)
            data_tree.add(lblock)
            if computed != lblock:
                diff = np.frombuffer(computed, np.uint8).reshape(-1, LEAF) != np.frombuffer(lblock, np.uint8).reshape(-1, LEAF)
                bad.extend(int(i + c) for c in np.flatnonzero(diff.any(axis=1)))
            end = min(len(plain), size - i * CHUNK)
            plain_out.write(memoryview(plain)[:end])
            if end < len(plain):  # the last chunk: protocol.md zero-pads it to CHUNK bytes
                bad_padding = any(memoryview(plain)[end:])
        for _ in leaf_blocks:  # drain: checks the leaf file ends where it should
            pass
    got = data_tree.root()
    if got != commitment.data_root:
        raise DataRootMismatch(commitment.data_root, got)
    return DecryptReport(n=n, size=size, bad_leaves=bad, bad_padding=bad_padding)


def build_complaint(cipher: Source, leaves: Source, index: int, commitment: Commitment, *, block_chunks: int = BLOCK_CHUNKS) -> Complaint:
    """Build the complaint for chunk ``index`` from the downloaded files.

    Reads the ciphertext once (to hash every chunk for the cipher proof) and holds
    the two leaf levels (n × 32 bytes each). Raises :class:`IndexOutOfRange`,
    :class:`ChunkCountMismatch`, or a :class:`RootMismatch` if the files are not the
    committed ones (the contract would refuse the complaint).
    """
    n = commitment.n
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < n:
        raise IndexOutOfRange(index, n)
    with _opened(cipher, "cipher") as cf, _opened(leaves, "leaves") as lf:
        _check_lengths(cf, lf, n)
        plain_leaves = b"".join(bytes(b) for _, b in _blocks(lf, LEAF, n, "plain-leaf file", block_chunks))
        cleaves, chunk = [], b""
        for i, block in _blocks(cf, CHUNK, n, "ciphertext", block_chunks):
            cleaves.append(_cipher_leaves(block))
            if i <= index < i + len(block) // CHUNK:
                chunk = bytes(block[(index - i) * CHUNK : (index - i + 1) * CHUNK])
    cipher_leaves = b"".join(cleaves)
    plain_leaf = plain_leaves[index * LEAF : (index + 1) * LEAF]
    data_proof = merkle_proof(plain_leaves, index)
    cipher_proof = merkle_proof(cipher_leaves, index)
    if not verify_proof(plain_leaf, index, data_proof, commitment.data_root):
        raise DataRootMismatch(commitment.data_root, root_from_proof(plain_leaf, index, data_proof))
    if not verify_proof(cipher_leaves[index * LEAF : (index + 1) * LEAF], index, cipher_proof, commitment.cipher_root):
        raise CipherRootMismatch(commitment.cipher_root, root_from_proof(keccak(chunk), index, cipher_proof))
    return Complaint(index, chunk, cipher_proof, plain_leaf, data_proof)


class Verdict(enum.Enum):
    """What ``DataExchange.complain`` does with a complaint: refund the buyer, or revert with one of
    its custom errors (each member's value is the contract's name for the outcome)."""

    #: Misbehaviour proven: the contract emits Complained and Refunded and refunds ``maxPrice``.
    REFUNDED = "Refunded"
    #: ``cipherChunk`` is not CHUNK bytes long.
    BAD_CHUNK_LENGTH = "BadChunkLength"
    #: ``index`` is not below the number of chunks.
    CHUNK_INDEX_OUT_OF_RANGE = "ChunkIndexOutOfRange"
    #: A Merkle proof is not exactly the tree's depth long.
    BAD_PROOF_LENGTH = "BadProofLength"
    #: The chunk or the plain leaf is not under the committed roots.
    PROOF_MISMATCH = "ProofMismatch"
    #: The chunk decrypts to its committed leaf: the seller delivered that chunk honestly.
    COMPLAINT_UNFOUNDED = "ComplaintUnfounded"

    @property
    def proven(self) -> bool:
        """True only for :attr:`REFUNDED`."""
        return self is Verdict.REFUNDED


def judge_complaint(complaint: Complaint, key: bytes, commitment: Commitment) -> Verdict:
    """What the contract would decide on this complaint, checked in the contract's order:
    :attr:`Verdict.REFUNDED`, or the custom error ``complain`` would revert with.

    Judges the complaint itself; the deal's state, the caller and the dispute window
    (``DealWrongState``, ``NotBuyer``, ``DeadlinePassed``) are the chain's to check. Raises
    :class:`KeyCommitMismatch` for a key the contract would never have accepted at reveal.
    """
    commitment.check_key(key)
    key = bytes(key)
    n, depth = commitment.n, commitment.depth
    index = complaint.index
    if len(complaint.cipher_chunk) != CHUNK:
        return Verdict.BAD_CHUNK_LENGTH
    if not 0 <= index < n:
        return Verdict.CHUNK_INDEX_OUT_OF_RANGE
    if len(complaint.cipher_proof) != depth or len(complaint.data_proof) != depth:
        return Verdict.BAD_PROOF_LENGTH
    chunk = bytes(complaint.cipher_chunk)
    if not verify_proof(keccak(chunk), index, complaint.cipher_proof, commitment.cipher_root):
        return Verdict.PROOF_MISMATCH
    if not verify_proof(complaint.plain_leaf, index, complaint.data_proof, commitment.data_root):
        return Verdict.PROOF_MISMATCH
    plain = _xor(chunk, _py_keystream(key, WORDS_PER_CHUNK * index, WORDS_PER_CHUNK))
    if _plain_leaf(salt_of(key), index, plain) == bytes(complaint.plain_leaf):
        return Verdict.COMPLAINT_UNFOUNDED
    return Verdict.REFUNDED


def check_complaint(complaint: Complaint, key: bytes, commitment: Commitment) -> bool:
    """True iff the contract would accept the complaint (misbehaviour proven: refund).
    A pure-Python mirror of ``DataExchange.complain``'s checks; see :func:`judge_complaint`."""
    return judge_complaint(complaint, key, commitment).proven
