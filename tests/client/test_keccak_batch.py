"""The compiled batch keccak against eth_hash, on random inputs of every shape it serves."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from eth_hash.auto import keccak
from hypothesis import given, settings
from hypothesis import strategies as st

from client import _keccak_batch as kb
from client import delivery

pytestmark = pytest.mark.skipif(not kb.AVAILABLE, reason="numba unavailable: the eth_hash path is the only engine")

REPO = Path(__file__).resolve().parents[2]


@settings(max_examples=60, deadline=None)
@given(length=st.integers(0, 700), count=st.integers(1, 9), data=st.data())
def test_batch_equals_eth_hash_for_any_fixed_length(length, count, data):
    msgs = [data.draw(st.binary(min_size=length, max_size=length)) for _ in range(count)]
    arr = np.frombuffer(b"".join(msgs), dtype=np.uint8).reshape(count, length)
    got = kb.keccak256_batch(arr)
    assert got.shape == (count, 32)
    assert [bytes(r) for r in got] == [keccak(m) for m in msgs]


@pytest.mark.parametrize("length", [0, 1, 32, 64, 65, 135, 136, 137, 271, 272, 1024, 1064, 1087, 1088])
def test_batch_at_padding_boundaries(length):
    rng = np.random.default_rng(length)
    arr = rng.integers(0, 256, size=(3, length), dtype=np.uint8)
    assert [bytes(r) for r in kb.keccak256_batch(arr)] == [keccak(bytes(r)) for r in arr]


def test_known_answers():
    empty = kb.keccak256_batch(np.zeros((1, 0), dtype=np.uint8))[0].tobytes()
    assert empty.hex() == "c5d2460186f7233c927e7db2dcc703c0e500b653ca82273b7bfad8045d85a470"
    abc = kb.keccak256_batch(np.frombuffer(b"abc", np.uint8).reshape(1, 3))[0].tobytes()
    assert abc.hex() == "4e03657aea45a94fc7d47ba826c8d667c0d1e6e33a64a036ec44f58fa12d6c45"


@settings(max_examples=30, deadline=None)
@given(key=st.binary(min_size=32, max_size=32), first=st.one_of(st.integers(0, 10**6), st.integers(2**64 - 40, 2**64 - 5)), count=st.integers(1, 5))
def test_keystream_words_equal_eth_hash(key, first, count):
    want = b"".join(keccak(b"\x02" + key + w.to_bytes(32, "big")) for w in range(first, first + count))
    assert kb.keystream_words(key, first, count) == want
    if first + count <= 10**6:
        assert delivery.keystream(key, first, count) == want


@settings(max_examples=25, deadline=None)
@given(
    key=st.binary(min_size=32, max_size=32),
    k=st.integers(1, 9),
    first=st.one_of(st.integers(0, 5000), st.just(0x0102030405060708 // 32), st.just((1 << 59) - 10)),
    seed=st.integers(0, 2**32),
)
def test_encode_and_decrypt_chunks_equal_the_python_engine(key, k, first, seed):
    plain = bytearray(np.random.default_rng(seed).integers(0, 256, size=k * 1024, dtype=np.uint8).tobytes())
    salt = keccak(b"\x01" + key)
    cipher, pleaves, cleaves = kb.encode_chunks(plain, first, key, salt)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(delivery, "_BATCH_MIN_CHUNKS", 1 << 62)
        want = delivery._encode_block(memoryview(plain), first, key, salt)
    assert (bytes(cipher), pleaves, cleaves) == want
    back, leaves2 = kb.decrypt_chunks(bytearray(cipher), first, key, salt)
    assert bytes(back) == bytes(plain) and leaves2 == pleaves
    assert kb.chunk_hashes(bytes(cipher)) == cleaves  # read-only input is copied, same answer


@settings(max_examples=25, deadline=None)
@given(pairs=st.integers(1, 70), seed=st.integers(0, 2**32))
def test_hash_pairs_equal_eth_hash(pairs, seed):
    level = np.random.default_rng(seed).integers(0, 256, size=64 * pairs, dtype=np.uint8).tobytes()
    assert kb.hash_pairs(level) == b"".join(keccak(level[k : k + 64]) for k in range(0, len(level), 64))


@pytest.mark.parametrize("threads", [1, 2, 3])
def test_split_across_threads_gives_the_same_bytes(threads):
    rng = np.random.default_rng(threads)
    plain = bytearray(rng.integers(0, 256, size=300 * 1024, dtype=np.uint8).tobytes())
    key, first = bytes(range(32)), 12345
    salt = keccak(b"\x01" + key)
    old = kb.set_threads(threads)
    try:
        cipher, pleaves, cleaves = kb.encode_chunks(plain, first, key, salt)
        back, leaves2 = kb.decrypt_chunks(bytearray(cipher), first, key, salt)
        level = bytes(plain[: 64 * 5000])
        pairs = kb.hash_pairs(level)
        words = kb.keystream_words(key, 7, 5000)
    finally:
        kb.set_threads(old)
    with pytest.MonkeyPatch.context() as m:
        m.setattr(delivery, "_BATCH_MIN_CHUNKS", 1 << 62)
        want = delivery._encode_block(memoryview(plain), first, key, salt)
    assert (bytes(cipher), pleaves, cleaves) == want
    assert bytes(back) == bytes(plain) and leaves2 == pleaves
    assert kb.chunk_hashes(bytes(cipher)) == cleaves
    assert pairs == b"".join(keccak(level[k : k + 64]) for k in range(0, len(level), 64))
    assert words == b"".join(keccak(b"\x02" + key + w.to_bytes(32, "big")) for w in range(7, 5007))


def test_set_threads_rejects_zero():
    with pytest.raises(ValueError, match=r"threads \(0\) must be at least 1"):
        kb.set_threads(0)


def test_wrappers_reject_misshapen_input():
    with pytest.raises(ValueError, match="whole 1024-byte chunks"):
        kb.chunk_hashes(bytes(1000))
    with pytest.raises(ValueError, match="multiple of 64 bytes"):
        kb.hash_pairs(bytes(96))
    with pytest.raises(ValueError, match="2-D"):
        kb.keccak256_batch(np.zeros(5, dtype=np.uint8))
    with pytest.raises(ValueError, match="uint64"):
        kb.keystream_words(bytes(32), 2**64 - 1, 2)


_PROBE = textwrap.dedent(
    """
    import sys, warnings
    sys.path.insert(0, sys.argv[1])
    warnings.simplefilter("error")  # any warning fails unless expected
    expect_warning = sys.argv[2] == "warn"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        from client import _keccak_batch as kb
    assert bool(caught) == expect_warning, [str(w.message) for w in caught]
    from eth_hash.auto import keccak
    assert kb.hash_pairs(bytes(range(64))) == keccak(bytes(range(64)))
    print("ok")
    """
)


def _read_only_package(tmp_path: Path) -> Path:
    """A copy of the client package whose __pycache__ cannot be created (even by root):
    a plain file sits where the directory would go."""
    pkg = tmp_path / "pkg" / "client"
    pkg.mkdir(parents=True)
    for name in ("__init__.py", "constants.py", "_keccak_batch.py"):
        (pkg / name).write_bytes((REPO / "client" / name).read_bytes())
    (pkg / "__pycache__").write_text("not a directory")
    return pkg.parent


def _run(pkg_root: Path, expect: str, **env) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if k not in ("NUMBA_CACHE_DIR", "XDG_CACHE_HOME")}
    full.update(env, PYTHONDONTWRITEBYTECODE="1")
    return subprocess.run([sys.executable, "-c", _PROBE, str(pkg_root), expect], env=full, capture_output=True, text=True, timeout=120)


def test_numba_cache_goes_to_numba_cache_dir_when_package_is_read_only(tmp_path):
    root = _read_only_package(tmp_path)
    cache = tmp_path / "numba-cache"
    r = _run(root, "quiet", NUMBA_CACHE_DIR=str(cache))
    assert r.returncode == 0, r.stderr
    assert any(p.suffix == ".nbi" for p in cache.rglob("*")), "numba wrote no cache index to NUMBA_CACHE_DIR"


def test_kernels_still_work_when_no_cache_location_is_writable(tmp_path):
    root = _read_only_package(tmp_path)
    blocked = tmp_path / "blocked"
    blocked.write_text("a file where the user cache directory would go")
    r = _run(root, "warn", XDG_CACHE_HOME=str(blocked), HOME=str(blocked))
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip() == "ok"
