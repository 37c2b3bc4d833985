"""Delivery encoding throughput, as a ratio to raw keccak-256 on this machine, same run.

Run: ``.venv/bin/python -m benchmarks.delivery_throughput [--mib 64] [--repeat 3]``

What it measures, over one random file of ``--mib`` MiB on disk:

* raw: ``eth_hash`` (pycryptodome) keccak-256 over the whole buffer, one call: the
  machine's keccak speed, the yardstick;
* encoder: ``encode_file`` (plain file -> ciphertext file + leaf file + roots);
* verifier: ``verify_download`` (both roots) + ``decrypt_and_check`` (decrypt to a
  file, check every leaf), i.e. all a buyer does with a delivery;
* the same two through the per-call Python loop (eth_hash per message), on a 2 MiB
  slice, scaled: the baseline the compiled kernels replace;
* the encoder on one thread, to show what the second core buys;
* peak memory of encoder and verifier at two file sizes (tracemalloc peak, and the
  growth of the max RSS of a fresh child process), to show it is flat in the size.

Throughputs count plaintext bytes. Each timing is the best of ``--repeat`` runs, the
same rule for the yardstick and for the encoder, so that the ratio is fair on a
machine shared with other work. The encoding costs 48 keccak permutations per
1024-byte chunk (32 keystream, 8 plain leaf, 8 cipher leaf) against about 7.5 for raw
hashing, so one core's ceiling is about 0.16 of raw and two cores' about 0.31.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import resource
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from eth_hash.auto import keccak

from client import _keccak_batch, delivery
from client.delivery import decrypt_and_check, encode_bytes, encode_file, verify_download

TARGET = 0.10
MiB = 1 << 20
PERMS_PER_CHUNK = 32 + 8 + 8
RAW_PERMS_PER_CHUNK = 1024 / 136


def _write_random(path: Path, size: int) -> None:
    with open(path, "wb") as f:
        for off in range(0, size, MiB):
            f.write(os.urandom(min(MiB, size - off)))


def _encode(d: Path, key: bytes):
    return encode_file(d / "plain", key, d / "cipher", d / "leaves")


def _verify(d: Path, key: bytes, com) -> None:
    verify_download(d / "cipher", d / "leaves", com)
    with open(d / "out", "wb") as out:
        report = decrypt_and_check(d / "cipher", d / "leaves", key, com, out)
    if not report.ok:
        raise AssertionError(f"benchmark delivery failed its own check: {report.bad_indices[:5]}")


class _python_loop:
    """Force the per-call eth_hash engine (the compiled kernels off)."""

    def __enter__(self):
        self._old = delivery._BATCH_MIN_CHUNKS
        delivery._BATCH_MIN_CHUNKS = 1 << 62
        from client import merkle

        self._oldm, merkle._BATCH_MIN_PAIRS = merkle._BATCH_MIN_PAIRS, 1 << 62
        return self

    def __exit__(self, *exc):
        from client import merkle

        delivery._BATCH_MIN_CHUNKS = self._old
        merkle._BATCH_MIN_PAIRS = self._oldm


def _warm_up() -> float:
    """Load (or compile) every kernel the encoder and verifier use; return the seconds it took."""
    t = time.perf_counter()
    key = bytes(32)
    data = os.urandom(64 * 1024)
    cipher, leaves, com = encode_bytes(data, key)
    verify_download(cipher, leaves, com)
    decrypt_and_check(cipher, leaves, key, com, io.BytesIO())
    return time.perf_counter() - t


def _tracemalloc_peak(fn) -> int:
    tracemalloc.start()
    try:
        tracemalloc.reset_peak()
        base = tracemalloc.get_traced_memory()[0]
        fn()
        return tracemalloc.get_traced_memory()[1] - base
    finally:
        tracemalloc.stop()


def _child_rss(size: int) -> dict:
    """Max-RSS growth of encode and of verify+decrypt of a ``size``-byte file, in fresh processes."""
    out = {}
    for phase in ("encode", "verify"):
        r = subprocess.run(
            [sys.executable, "-m", "benchmarks.delivery_throughput", "--child-rss", phase, "--bytes", str(size)],
            capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parents[1],
        )
        out[phase] = json.loads(r.stdout.strip().splitlines()[-1])
    return out


def _status_kib(field: str) -> int | None:
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(field + ":"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def _reset_peak_rss() -> bool:
    """Reset the kernel's RSS high-water mark (VmHWM) of this process (Linux >= 4.0)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
        return True
    except OSError:
        return False


def _child_main(phase: str, size: int) -> None:
    import gc

    with tempfile.TemporaryDirectory(prefix="spartacus-bench-") as tmp:
        d = Path(tmp)
        _write_random(d / "plain", size)
        key = secrets.token_bytes(32)
        _warm_up()
        com = _encode(d, key) if phase == "verify" else None
        gc.collect()
        if _reset_peak_rss():
            before = _status_kib("VmRSS")
        else:  # ru_maxrss never goes down: growth over the high-water mark so far
            before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        if phase == "encode":
            _encode(d, key)
        else:
            _verify(d, key, com)
        after = _status_kib("VmHWM") or resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"rss_growth": (after - before) * 1024, "max_rss": after * 1024}))


def _fmt_mb(nbytes: float) -> str:
    return f"{nbytes / MiB:7.1f} MiB"


def _paired(raw_fn, fn, nbytes: int, raw_bytes: int, repeat: int) -> dict:
    """Time ``fn`` right after a raw-keccak run, ``repeat`` times; the ratio is taken per pair
    (so a burst of load from other processes hits both sides alike) and the median reported."""
    ratios, cpu_ratios, walls, loads = [], [], [], []
    for _ in range(repeat):
        t, c = time.perf_counter(), time.process_time()
        raw_fn()
        t_raw, c_raw = time.perf_counter() - t, time.process_time() - c
        t, c = time.perf_counter(), time.process_time()
        fn()
        t_fn, c_fn = time.perf_counter() - t, time.process_time() - c
        ratios.append((nbytes / t_fn) / (raw_bytes / t_raw))
        cpu_ratios.append((nbytes / c_fn) / (raw_bytes / c_raw))
        walls.append(t_fn)
        loads.append(os.getloadavg()[0])
    return {
        "MBps": nbytes / statistics.median(walls) / 1e6,
        "best_MBps": nbytes / min(walls) / 1e6,
        "ratio": statistics.median(ratios),
        "ratios": ratios,
        "cpu_ratio": statistics.median(cpu_ratios),
        "load": statistics.median(loads),
    }


def run(mib: int, repeat: int, small_mib: int, baseline_mib: int) -> dict:
    size = mib * MiB
    key = secrets.token_bytes(32)
    threads = _keccak_batch.get_threads()
    res: dict = {"bytes": size, "repeat": repeat, "threads": threads, "cpus": os.cpu_count()}
    res["warmup_s"] = _warm_up()
    with tempfile.TemporaryDirectory(prefix="spartacus-bench-") as tmp:
        d = Path(tmp)
        _write_random(d / "plain", size)
        data = (d / "plain").read_bytes()
        keccak(b"")  # load the backend
        raws = []

        def raw() -> None:
            t = time.perf_counter()
            keccak(data)
            raws.append(time.perf_counter() - t)

        com = _encode(d, key)
        res["encoder"] = _paired(raw, lambda: _encode(d, key), size, size, repeat)
        res["verifier"] = _paired(raw, lambda: _verify(d, key, com), size, size, repeat)
        _keccak_batch.set_threads(1)
        try:
            res["encoder_1thread"] = _paired(raw, lambda: _encode(d, key), size, size, repeat)
            res["verifier_1thread"] = _paired(raw, lambda: _verify(d, key, com), size, size, repeat)
        finally:
            _keccak_batch.set_threads(threads)
        # the per-call Python loop on a slice, scaled by bytes
        bsize = res["baseline_bytes"] = baseline_mib * MiB
        b = d / "base"
        b.mkdir()
        (b / "plain").write_bytes(data[:bsize])
        with _python_loop():
            bcom = _encode(b, key)
            res["py_encoder"] = _paired(raw, lambda: _encode(b, key), bsize, size, 1)
            res["py_verifier"] = _paired(raw, lambda: _verify(b, key, bcom), bsize, size, 1)
        del data
    res["raw_MBps"] = size / statistics.median(raws) / 1e6
    res["raw_best_MBps"] = size / min(raws) / 1e6

    # memory, at two sizes
    mem = {}
    for m in sorted({small_mib, mib}):
        with tempfile.TemporaryDirectory(prefix="spartacus-bench-") as tmp:
            d = Path(tmp)
            _write_random(d / "plain", m * MiB)
            c = _encode(d, key)
            mem[m] = {
                "encode_tracemalloc_peak": _tracemalloc_peak(lambda: _encode(d, key)),
                "verify_tracemalloc_peak": _tracemalloc_peak(lambda: _verify(d, key, c)),
            }
        rss = _child_rss(m * MiB)
        for phase in ("encode", "verify"):
            mem[m][f"{phase}_rss_growth"] = rss[phase]["rss_growth"]
            mem[m][f"{phase}_max_rss"] = rss[phase]["max_rss"]
    res["memory"] = mem
    return res


def report(res: dict) -> None:
    raw = res["raw_MBps"]
    print(f"Delivery encoding throughput over {res['bytes'] // MiB} MiB "
          f"({res['cpus']} CPUs, kernel threads {res['threads']}, {res['repeat']} paired runs, medians)")
    print(f"kernel warm-up (cache load or JIT compile): {res['warmup_s']:.2f} s; "
          f"raw keccak {raw:.1f} MB/s median, {res['raw_best_MBps']:.1f} best")
    print()
    print(f"{'':36}{'MB/s':>8}{'÷ raw':>8}{'target':>8}  {'verdict':13}{'CPU-time ÷ raw':>15}{'load':>6}")
    rows = [
        ("encoder (encode_file)", "encoder", TARGET),
        ("verifier (verify + decrypt/check)", "verifier", TARGET),
        ("encoder, 1 thread", "encoder_1thread", None),
        ("verifier, 1 thread", "verifier_1thread", None),
        ("per-call Python loop: encoder", "py_encoder", None),
        ("per-call Python loop: verifier", "py_verifier", None),
    ]
    print(f"{'raw keccak-256 (eth_hash, 1 call)':36}{raw:8.1f}{1.0:8.3f}")
    for name, key, target in rows:
        r = res[key]
        verdict = "" if target is None else ("meets target" if r["ratio"] >= target else "BELOW TARGET")
        tgt = f"{target:8.2f}" if target is not None else " " * 8
        print(f"{name:36}{r['MBps']:8.1f}{r['ratio']:8.3f}{tgt}  {verdict:13}{r['cpu_ratio']:15.3f}{r['load']:6.1f}")
    ceiling1 = RAW_PERMS_PER_CHUNK / PERMS_PER_CHUNK
    print("(÷ raw: throughput over raw keccak measured just before, per run; CPU-time ÷ raw: the same per CPU-second,")
    print(f" insensitive to other processes on the machine; load: 1-min load average; the Python loop ran on a "
          f"{res['baseline_bytes'] // MiB} MiB slice, scaled.)")
    print(f"ceiling from the permutation count: {ceiling1:.3f} of raw per core, {res['cpus'] * ceiling1:.3f} on {res['cpus']} cores")
    print(f"speed-up over the per-call Python loop: encoder {res['encoder']['MBps'] / res['py_encoder']['MBps']:.1f}x, "
          f"verifier {res['verifier']['MBps'] / res['py_verifier']['MBps']:.1f}x")
    print()
    print("peak memory (flat in the file size):")
    print(f"{'file':>8}  {'tracemalloc peak':>28}  {'child max RSS (growth in the call)':>44}")
    print(f"{'':>8}  {'encode':>13}  {'verify':>13}  {'encode':>21}  {'verify':>21}")
    for m, v in res["memory"].items():
        print(f"{m:5} MiB  {_fmt_mb(v['encode_tracemalloc_peak']):>13}  {_fmt_mb(v['verify_tracemalloc_peak']):>13}  "
              f"{_fmt_mb(v['encode_max_rss'])} ({v['encode_rss_growth'] / MiB:+.1f})  "
              f"{_fmt_mb(v['verify_max_rss'])} ({v['verify_rss_growth'] / MiB:+.1f})")


def main(argv: list[str] | None = None) -> dict | None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--mib", type=int, default=64, help="file size in MiB (default 64)")
    ap.add_argument("--small-mib", type=int, default=16, help="second size for the memory comparison (default 16)")
    ap.add_argument("--baseline-mib", type=int, default=2, help="slice for the per-call Python loop (default 2)")
    ap.add_argument("--repeat", type=int, default=3, help="best of this many runs per timing (default 3)")
    ap.add_argument("--json", type=Path, help="also write the figures here")
    ap.add_argument("--child-rss", choices=["encode", "verify"], help=argparse.SUPPRESS)
    ap.add_argument("--bytes", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child_rss:
        _child_main(args.child_rss, args.bytes)
        return None
    res = run(args.mib, args.repeat, args.small_mib, args.baseline_mib)
    report(res)
    if args.json:
        args.json.write_text(json.dumps(res, indent=2, default=str))
    return res


if __name__ == "__main__":
    main()
