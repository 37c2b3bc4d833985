"""Batched keccak256 for the delivery encoding, compiled with numba.

Hashes many fixed-length messages at once, the shapes the delivery encoding needs:

* keystream words ``keccak(0x02 ‖ key ‖ uint256(w))`` (65-byte messages, one permutation each),
* plain leaves ``keccak(salt ‖ uint64(i) ‖ chunk_i)`` (1064 bytes, eight permutations),
* cipher leaves ``keccak(c_i)`` (1024 bytes, eight permutations),
* Merkle parents ``keccak(left ‖ right)`` (64 bytes, one permutation),
* and any other fixed length through :func:`keccak256_batch`.

The state is 25 little-endian 64-bit lanes; chunks are read and written as lanes
(``CHUNK`` = 1024 bytes = 128 lanes, and the 1064-byte plain-leaf message is 133 whole lanes;
every such number is derived from ``client.constants.CHUNK`` below), so no message is ever
assembled in memory: each kernel feeds the sponge straight from
the caller's buffers. The permutation is Keccak-f[1600] with the 25 lanes held in
locals (the round body is unrolled; the 24 rounds are a loop). Each call runs on every
core: the kernels take a range of items and release the GIL, and :func:`_parallel`
hands slices of the call to a small pool of threads (:func:`set_threads`; default
``NUMBA_NUM_THREADS`` or the CPU count).

Compiled code is cached (``cache=True``, by ``common.jit``): in ``client/__pycache__`` when that is
writable, else numba's user-wide cache (``NUMBA_CACHE_DIR`` if set, otherwise
``~/.cache/numba``); where no cache location is writable at all the kernels are
compiled in memory for the process. Nothing is compiled at import; the first call
of each kernel compiles it (a few seconds without a cache, well under a second with).
Everything here is checked against ``eth_hash`` in tests/client/test_keccak_batch.py.

Citations: G. Bertoni, J. Daemen, M. Peeters, G. Van Assche, "The Keccak reference",
version 3.0, 2011 (Keccak-f[1600], the pad10*1 rule; Ethereum's keccak256 is
Keccak[r=1088, c=512] with the original 0x01 domain padding).
"""

from __future__ import annotations

import sys
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from client.constants import CHUNK, LEAF, WORDS_PER_CHUNK
from common.jit import COMPILED, jit

__all__ = [
    "AVAILABLE",
    "keccak256_batch",
    "keystream_words",
    "encode_chunks",
    "decrypt_chunks",
    "chunk_hashes",
    "hash_pairs",
    "set_threads",
    "get_threads",
]

try:
    import numba
except Exception:  # pragma: no cover - numba is a declared dependency
    numba = None

#: True when the compiled kernels can be used (numba importable, little-endian host).
AVAILABLE: bool = COMPILED and sys.byteorder == "little"

# Protocol numbers, all derived from CHUNK and keccak256's rate (one place: client.constants).
_LANE_BYTES = 8  # a Keccak-f[1600] lane is 64 bits
_RATE = 136  # keccak256 = Keccak[c=512]: rate = (1600 - 512) / 8 = 136 bytes per block
_RATE_LANES = _RATE // _LANE_BYTES  # 17
_HASH_LANES = LEAF // _LANE_BYTES  # 4: a 32-byte digest, keystream word or salt
_INDEX_LANES = 1  # uint64(i) in a plain leaf
_CHUNK_LANES = CHUNK // _LANE_BYTES  # 128 for CHUNK = 1024
# plain leaf message: salt(32) ‖ uint64(i) ‖ chunk(CHUNK) = 1064 bytes = 133 lanes for CHUNK = 1024
_LEAF_DATA_LANE = _HASH_LANES + _INDEX_LANES  # 5: the chunk starts at lane 5
_LEAF_LANES = _LEAF_DATA_LANE + _CHUNK_LANES  # 133
# blocks absorbed for an L-byte message: pad10*1 adds at least one byte, so L // rate + 1
_LEAF_BLOCKS = (_LEAF_LANES * _LANE_BYTES) // _RATE + 1  # 8
_CHUNK_BLOCKS = CHUNK // _RATE + 1  # 8
# the last lane of the rate in the final block: where the closing 0x80 pad bit goes
_LEAF_LAST = _LEAF_BLOCKS * _RATE_LANES - 1  # 135
_CHUNK_LAST = _CHUNK_BLOCKS * _RATE_LANES - 1  # 135
# permutations per chunk: keystream words + plain leaf (+ cipher leaf when encoding)
_DECRYPT_WEIGHT = WORDS_PER_CHUNK + _LEAF_BLOCKS  # 40
_ENCODE_WEIGHT = _DECRYPT_WEIGHT + _CHUNK_BLOCKS  # 48
assert CHUNK % _LANE_BYTES == 0, "the kernels read chunks as whole 64-bit lanes"
_LANE = np.dtype("<u8")

_RC = np.array(
    [
        0x0000000000000001, 0x0000000000008082, 0x800000000000808A, 0x8000000080008000,
        0x000000000000808B, 0x0000000080000001, 0x8000000080008081, 0x8000000000008009,
        0x000000000000008A, 0x0000000000000088, 0x0000000080008009, 0x000000008000000A,
        0x000000008000808B, 0x800000000000008B, 0x8000000000008089, 0x8000000000008003,
        0x8000000000008002, 0x8000000000000080, 0x000000000000800A, 0x800000008000000A,
        0x8000000080008081, 0x8000000000008080, 0x0000000080000001, 0x8000000080008008,
    ],
    dtype=np.uint64,
)

# Shift amounts as uint64 so that numba never widens a lane to int64 or float.
_S1, _S2, _S3, _S6, _S8, _S9, _S10, _S14 = (np.uint64(k) for k in (1, 2, 3, 6, 8, 9, 10, 14))
_S15, _S18, _S19, _S20, _S21, _S23, _S25, _S27 = (np.uint64(k) for k in (15, 18, 19, 20, 21, 23, 25, 27))
_S28, _S36, _S37, _S39, _S41, _S43, _S44, _S45 = (np.uint64(k) for k in (28, 36, 37, 39, 41, 43, 44, 45))
_S46, _S49, _S50, _S54, _S55, _S56, _S58, _S61 = (np.uint64(k) for k in (46, 49, 50, 54, 55, 56, 58, 61))
_S62, _S63 = (np.uint64(k) for k in (62, 63))
_ZERO = np.uint64(0)
_WORDS_U64 = np.uint64(WORDS_PER_CHUNK)  # as uint64, so the word index never widens to float
_ONE = np.uint64(1)
_BYTE = np.uint64(0xFF)
_PAD65 = np.uint64(0x100)  # 0x01 pad byte right after a 65-byte message, in lane 8
_TOP = np.uint64(0x8000000000000000)  # final 0x80 pad bit, last byte of the rate


@jit()
def _permute(s):
    """Keccak-f[1600] in place on 25 uint64 lanes ``s[x + 5y]``."""
    a00 = s[0]
    a01 = s[1]
    a02 = s[2]
    a03 = s[3]
    a04 = s[4]
    a05 = s[5]
    a06 = s[6]
    a07 = s[7]
    a08 = s[8]
    a09 = s[9]
    a10 = s[10]
    a11 = s[11]
    a12 = s[12]
    a13 = s[13]
    a14 = s[14]
    a15 = s[15]
    a16 = s[16]
    a17 = s[17]
    a18 = s[18]
    a19 = s[19]
    a20 = s[20]
    a21 = s[21]
    a22 = s[22]
    a23 = s[23]
    a24 = s[24]
    for rnd in range(24):
        c0 = a00 ^ a05 ^ a10 ^ a15 ^ a20
        c1 = a01 ^ a06 ^ a11 ^ a16 ^ a21
        c2 = a02 ^ a07 ^ a12 ^ a17 ^ a22
        c3 = a03 ^ a08 ^ a13 ^ a18 ^ a23
        c4 = a04 ^ a09 ^ a14 ^ a19 ^ a24
        d0 = c4 ^ ((c1 << _S1) | (c1 >> _S63))
        d1 = c0 ^ ((c2 << _S1) | (c2 >> _S63))
        d2 = c1 ^ ((c3 << _S1) | (c3 >> _S63))
        d3 = c2 ^ ((c4 << _S1) | (c4 >> _S63))
        d4 = c3 ^ ((c0 << _S1) | (c0 >> _S63))
        t = a00 ^ d0
        b00 = t
        t = a05 ^ d0
        b16 = ((t << _S36) | (t >> _S28))
        t = a10 ^ d0
        b07 = ((t << _S3) | (t >> _S61))
        t = a15 ^ d0
        b23 = ((t << _S41) | (t >> _S23))
        t = a20 ^ d0
        b14 = ((t << _S18) | (t >> _S46))
        t = a01 ^ d1
        b10 = ((t << _S1) | (t >> _S63))
        t = a06 ^ d1
        b01 = ((t << _S44) | (t >> _S20))
        t = a11 ^ d1
        b17 = ((t << _S10) | (t >> _S54))
        t = a16 ^ d1
        b08 = ((t << _S45) | (t >> _S19))
        t = a21 ^ d1
        b24 = ((t << _S2) | (t >> _S62))
        t = a02 ^ d2
        b20 = ((t << _S62) | (t >> _S2))
        t = a07 ^ d2
        b11 = ((t << _S6) | (t >> _S58))
        t = a12 ^ d2
        b02 = ((t << _S43) | (t >> _S21))
        t = a17 ^ d2
        b18 = ((t << _S15) | (t >> _S49))
        t = a22 ^ d2
        b09 = ((t << _S61) | (t >> _S3))
        t = a03 ^ d3
        b05 = ((t << _S28) | (t >> _S36))
        t = a08 ^ d3
        b21 = ((t << _S55) | (t >> _S9))
        t = a13 ^ d3
        b12 = ((t << _S25) | (t >> _S39))
        t = a18 ^ d3
        b03 = ((t << _S21) | (t >> _S43))
        t = a23 ^ d3
        b19 = ((t << _S56) | (t >> _S8))
        t = a04 ^ d4
        b15 = ((t << _S27) | (t >> _S37))
        t = a09 ^ d4
        b06 = ((t << _S20) | (t >> _S44))
        t = a14 ^ d4
        b22 = ((t << _S39) | (t >> _S25))
        t = a19 ^ d4
        b13 = ((t << _S8) | (t >> _S56))
        t = a24 ^ d4
        b04 = ((t << _S14) | (t >> _S50))
        a00 = b00 ^ (~b01 & b02)
        a01 = b01 ^ (~b02 & b03)
        a02 = b02 ^ (~b03 & b04)
        a03 = b03 ^ (~b04 & b00)
        a04 = b04 ^ (~b00 & b01)
        a05 = b05 ^ (~b06 & b07)
        a06 = b06 ^ (~b07 & b08)
        a07 = b07 ^ (~b08 & b09)
        a08 = b08 ^ (~b09 & b05)
        a09 = b09 ^ (~b05 & b06)
        a10 = b10 ^ (~b11 & b12)
        a11 = b11 ^ (~b12 & b13)
        a12 = b12 ^ (~b13 & b14)
        a13 = b13 ^ (~b14 & b10)
        a14 = b14 ^ (~b10 & b11)
        a15 = b15 ^ (~b16 & b17)
        a16 = b16 ^ (~b17 & b18)
        a17 = b17 ^ (~b18 & b19)
        a18 = b18 ^ (~b19 & b15)
        a19 = b19 ^ (~b15 & b16)
        a20 = b20 ^ (~b21 & b22)
        a21 = b21 ^ (~b22 & b23)
        a22 = b22 ^ (~b23 & b24)
        a23 = b23 ^ (~b24 & b20)
        a24 = b24 ^ (~b20 & b21)
        a00 ^= _RC[rnd]
    s[0] = a00
    s[1] = a01
    s[2] = a02
    s[3] = a03
    s[4] = a04
    s[5] = a05
    s[6] = a06
    s[7] = a07
    s[8] = a08
    s[9] = a09
    s[10] = a10
    s[11] = a11
    s[12] = a12
    s[13] = a13
    s[14] = a14
    s[15] = a15
    s[16] = a16
    s[17] = a17
    s[18] = a18
    s[19] = a19
    s[20] = a20
    s[21] = a21
    s[22] = a22
    s[23] = a23
    s[24] = a24


@jit()
def _bswap64(x):
    """Byte-reverse a lane: a big-endian uint64 field read as a little-endian lane."""
    r = _ZERO
    for _ in range(8):
        r = (r << _S8) | (x & _BYTE)
        x >>= _S8
    return r


@jit()
def _keystream_word(st, template, w):
    """``st[0:4] = keccak(0x02 ‖ key ‖ uint256(w))`` as lanes; ``template`` holds 0x02 ‖ key and the padding."""
    for t in range(25):
        st[t] = template[t]
    # uint256(w) is bytes 33..64; w < 2**64 fills bytes 57..64: lane 7 (bytes 56..63) and lane 8's first byte
    st[7] = _bswap64(w) << _S8
    st[8] = (w & _BYTE) | _PAD65
    _permute(st)


@jit()
def _hash_plain_leaf(st, salt, index_lane, data, base, out, ob):
    """``out[ob:ob+4] = keccak(salt ‖ uint64(i) ‖ chunk)``: _LEAF_LANES (133) whole lanes, _LEAF_BLOCKS (8) blocks."""
    for t in range(25):
        st[t] = _ZERO
    for blk in range(_LEAF_BLOCKS):
        for t in range(_RATE_LANES):
            p = _RATE_LANES * blk + t
            if p < _HASH_LANES:
                v = salt[p]
            elif p < _LEAF_DATA_LANE:
                v = index_lane
            elif p < _LEAF_LANES:
                v = data[base + p - _LEAF_DATA_LANE]
            elif p == _LEAF_LANES:
                v = _ONE
            else:
                v = _ZERO
            if p == _LEAF_LAST:
                v ^= _TOP
            st[t] ^= v
        _permute(st)
    for t in range(_HASH_LANES):
        out[ob + t] = st[t]


@jit()
def _hash_chunk(st, data, base, out, ob):
    """``out[ob:ob+4] = keccak(data[base : base+_CHUNK_LANES] as CHUNK bytes)``: _CHUNK_BLOCKS (8) blocks."""
    for t in range(25):
        st[t] = _ZERO
    for blk in range(_CHUNK_BLOCKS):
        for t in range(_RATE_LANES):
            p = _RATE_LANES * blk + t
            if p < _CHUNK_LANES:
                v = data[base + p]
            elif p == _CHUNK_LANES:
                v = _ONE
            else:
                v = _ZERO
            if p == _CHUNK_LAST:
                v ^= _TOP
            st[t] ^= v
        _permute(st)
    for t in range(_HASH_LANES):
        out[ob + t] = st[t]


# The kernels below work on a range [lo, hi) of their items and release the GIL, so that
# _parallel can hand slices of one call to several threads. (A numba ``prange`` team was
# measured first: on a machine shared with other jobs its threads spin at every region's
# barrier, and the verifier lost 40 % of its CPU efficiency with two threads; threads that
# block in the OS cost nothing while they wait.)


@jit()
def _encode_range(plain, first, template, salt, cipher, pleaves, cleaves, lo, hi):
    st = np.empty(25, np.uint64)
    for c in range(lo, hi):
        i = np.uint64(first + c)
        base = _CHUNK_LANES * c
        for j in range(WORDS_PER_CHUNK):
            _keystream_word(st, template, i * _WORDS_U64 + np.uint64(j))
            for t in range(_HASH_LANES):
                cipher[base + _HASH_LANES * j + t] = plain[base + _HASH_LANES * j + t] ^ st[t]
        _hash_plain_leaf(st, salt, _bswap64(i), plain, base, pleaves, _HASH_LANES * c)
        _hash_chunk(st, cipher, base, cleaves, _HASH_LANES * c)


@jit()
def _decrypt_range(cipher, first, template, salt, plain, pleaves, lo, hi):
    st = np.empty(25, np.uint64)
    for c in range(lo, hi):
        i = np.uint64(first + c)
        base = _CHUNK_LANES * c
        for j in range(WORDS_PER_CHUNK):
            _keystream_word(st, template, i * _WORDS_U64 + np.uint64(j))
            for t in range(_HASH_LANES):
                plain[base + _HASH_LANES * j + t] = cipher[base + _HASH_LANES * j + t] ^ st[t]
        _hash_plain_leaf(st, salt, _bswap64(i), plain, base, pleaves, _HASH_LANES * c)


@jit()
def _chunk_hash_range(data, out, lo, hi):
    st = np.empty(25, np.uint64)
    for c in range(lo, hi):
        _hash_chunk(st, data, _CHUNK_LANES * c, out, _HASH_LANES * c)


@jit()
def _keystream_range(template, first, out, lo, hi):
    st = np.empty(25, np.uint64)
    for c in range(lo, hi):
        _keystream_word(st, template, first + np.uint64(c))
        for t in range(4):
            out[4 * c + t] = st[t]


@jit()
def _pairs_range(nodes, out, lo, hi):
    st = np.empty(25, np.uint64)
    for c in range(lo, hi):
        for t in range(25):
            st[t] = _ZERO
        for t in range(8):
            st[t] = nodes[8 * c + t]
        st[8] = _ONE
        st[16] = _TOP
        _permute(st)
        for t in range(4):
            out[4 * c + t] = st[t]


@jit()
def _absorb_range(lanes, blocks, out, lo, hi):
    """Hash rows lo..hi-1 of already padded lanes (``blocks`` × 17 per row)."""
    st = np.empty(25, np.uint64)
    for r in range(lo, hi):
        for t in range(25):
            st[t] = _ZERO
        for blk in range(blocks):
            for t in range(17):
                st[t] ^= lanes[r, 17 * blk + t]
            _permute(st)
        for t in range(4):
            out[r, t] = st[t]


# ------------------------------------------------------------------ threads

_threads: int = max(1, numba.config.NUMBA_NUM_THREADS if numba is not None else 1)
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()
# Work items per thread per call: more than one, so that a thread slowed by another
# process's job leaves its remaining items to the others instead of stalling the call.
_ITEMS_PER_THREAD = 4


def set_threads(n: int) -> int:
    """Use ``n`` threads for the kernels (default: NUMBA_NUM_THREADS or the CPU count); return the old value."""
    global _threads
    if n < 1:
        raise ValueError(f"threads ({n}) must be at least 1")
    old, _threads = _threads, int(n)
    return old


def get_threads() -> int:
    """Threads the kernels use."""
    return _threads


def _get_pool(n: int) -> ThreadPoolExecutor:
    global _pool
    with _pool_lock:
        if _pool is None or _pool._max_workers < n:  # grow only; idle workers cost nothing
            old, _pool = _pool, ThreadPoolExecutor(max_workers=n, thread_name_prefix="keccak-batch")
            if old is not None:
                old.shutdown(wait=False)
        return _pool


def _parallel(kernel, items: int, weight: int, *args) -> None:
    """Run ``kernel(*args, lo, hi)`` over ``[0, items)`` split across the threads.

    ``weight`` is the number of permutations per item: calls with less than about a
    millisecond of work run in the calling thread.
    """
    threads = _threads
    if threads == 1 or items * weight < 4096:
        kernel(*args, 0, items)
        return
    parts = min(items, threads * _ITEMS_PER_THREAD)
    bounds = [items * k // parts for k in range(parts + 1)]
    pool = _get_pool(threads)
    futures = [pool.submit(kernel, *args, lo, hi) for lo, hi in zip(bounds, bounds[1:])]
    for f in futures:
        f.result()


# ------------------------------------------------------------------ Python-facing wrappers


def _lanes(buf, what: str) -> np.ndarray:
    """A writable uint64 lane view of a bytes-like object (copied only if read-only)."""
    arr = np.frombuffer(buf, dtype=np.uint8)
    if arr.size % 8:
        raise ValueError(f"{what} must be a multiple of 8 bytes, got {arr.size}")
    if not arr.flags.writeable or not arr.flags.c_contiguous:
        arr = arr.copy()
    return arr.view(_LANE)


def _key_template(key: bytes) -> np.ndarray:
    """State lanes for ``0x02 ‖ key ‖ uint256(0)`` with keccak padding at byte 65 and 135."""
    if len(key) != 32:
        raise ValueError(f"key must be 32 bytes, got {len(key)}")
    block = bytearray(200)
    block[0] = 0x02
    block[1:33] = key
    block[65] = 0x01
    block[_RATE - 1] |= 0x80
    return np.frombuffer(bytes(block), dtype=_LANE).copy()


def _chunk_lanes(buf, what: str) -> np.ndarray:
    lanes = _lanes(buf, what)
    if lanes.size % _CHUNK_LANES:
        raise ValueError(f"{what} must be whole {CHUNK}-byte chunks, got {lanes.size * _LANE_BYTES} bytes")
    return lanes


def encode_chunks(plain, first: int, key: bytes, salt: bytes) -> tuple[memoryview, bytes, bytes]:
    """Encrypt whole chunks ``first, first+1, ...``: ``(cipher, plain leaves, cipher leaves)``."""
    p = _chunk_lanes(plain, "plaintext")
    k = p.size // _CHUNK_LANES
    cipher = np.empty_like(p)
    pleaves = np.empty(_HASH_LANES * k, dtype=np.uint64)
    cleaves = np.empty(_HASH_LANES * k, dtype=np.uint64)
    _parallel(_encode_range, k, _ENCODE_WEIGHT, p, np.uint64(first), _key_template(key), _lanes(bytearray(salt), "salt"), cipher, pleaves, cleaves)
    return memoryview(cipher).cast("B"), pleaves.tobytes(), cleaves.tobytes()


def decrypt_chunks(cipher, first: int, key: bytes, salt: bytes) -> tuple[memoryview, bytes]:
    """Decrypt whole chunks ``first, first+1, ...``: ``(plain, recomputed plain leaves)``."""
    c = _chunk_lanes(cipher, "ciphertext")
    k = c.size // _CHUNK_LANES
    plain = np.empty_like(c)
    pleaves = np.empty(_HASH_LANES * k, dtype=np.uint64)
    _parallel(_decrypt_range, k, _DECRYPT_WEIGHT, c, np.uint64(first), _key_template(key), _lanes(bytearray(salt), "salt"), plain, pleaves)
    return memoryview(plain).cast("B"), pleaves.tobytes()


def chunk_hashes(data) -> bytes:
    """``keccak`` of every 1024-byte chunk of ``data``, concatenated (the cipher leaves)."""
    d = _chunk_lanes(data, "data")
    k = d.size // _CHUNK_LANES
    out = np.empty(_HASH_LANES * k, dtype=np.uint64)
    _parallel(_chunk_hash_range, k, _CHUNK_BLOCKS, d, out)
    return out.tobytes()


def keystream_words(key: bytes, first: int, count: int) -> bytes:
    """Keystream words ``first .. first+count-1``: ``keccak(0x02 ‖ key ‖ uint256(w))``, 32 bytes each."""
    if first < 0 or first + count > 1 << 64:
        raise ValueError(f"word indices {first}..{first + count - 1} must fit in a uint64")
    out = np.empty(4 * count, dtype=np.uint64)
    _parallel(_keystream_range, count, 1, _key_template(key), np.uint64(first), out)
    return out.tobytes()


def hash_pairs(level) -> bytes:
    """``keccak(left ‖ right)`` for every consecutive 64-byte pair of ``level``."""
    nodes = _lanes(level, "level")
    if nodes.size % 8:
        raise ValueError(f"a level of pairs must be a multiple of 64 bytes, got {nodes.size * 8}")
    out = np.empty(nodes.size // 2, dtype=np.uint64)
    _parallel(_pairs_range, nodes.size // 8, 1, nodes, out)
    return out.tobytes()


def keccak256_batch(messages: np.ndarray) -> np.ndarray:
    """keccak256 of every row of a 2-D uint8 array (all messages the same length): (m, 32) uint8."""
    msgs = np.asarray(messages, dtype=np.uint8)
    if msgs.ndim != 2:
        raise ValueError(f"messages must be a 2-D uint8 array (m, length), got shape {msgs.shape}")
    m, length = msgs.shape
    blocks = length // _RATE + 1
    padded = np.zeros((m, blocks * _RATE), dtype=np.uint8)
    padded[:, :length] = msgs
    padded[:, length] ^= 0x01
    padded[:, -1] ^= 0x80
    out = np.empty((m, 4), dtype=np.uint64)
    _parallel(_absorb_range, m, blocks, padded.view(_LANE), blocks, out)
    return out.view(np.uint8).reshape(m, 32)
