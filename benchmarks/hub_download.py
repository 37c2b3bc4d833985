"""Hub downloads under load: 50 concurrent buyers fetching 8 MiB releases from one hub on loopback,
against a plain file server on the same machine as the baseline.

Run: ``.venv/bin/python -m benchmarks.hub_download [--buyers 50] [--mib 8] [--large-mib 64] [--rounds 3]``

What it measures:

* the hub: `oracle.api` under uvicorn (one process, one worker) in a child process, its store
  holding one Quoted deal per buyer whose ciphertext is a ``--mib`` MiB file; each buyer signs
  its delivery message (EIP-191) and GETs ``/v1/deals/<id>/ciphertext`` at the same moment,
  ``--rounds`` times. The full path runs per request: header grammar, signature recovery, the
  store's deal lookup, the phase check, the streamed body;
* the baseline: Python's ``http.server`` (ThreadingHTTPServer, the standard library's static
  file server) in a child process serving the very same files to the same client, no auth;
* throughput (bytes delivered / wall time of a round, best round) as a ratio hub / baseline,
  p50 and p99 of the per-download latency (request sent -> last byte) over every round;
* the hub process's peak RSS (VmHWM) against its RSS at rest before the load, for the
  ``--mib`` release and a ``--large-mib`` one: the growth must be flat in the release size
  (the hub streams 256 KiB reads; it never holds a release in memory).

The client is one asyncio process with httpx (the same for hub and baseline); on a 2-core
machine it competes with the server for CPU, so the absolute figures are the machine's, and the
ratio is the figure to read. The machine's load average is printed beside them.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

MiB = 1 << 20
TARGET_RATIO = 0.5  # the hub authenticates and streams from Python: at least half a static server's throughput


# ---------------------------------------------------------------- the hub child process


def _serve(data_dir: Path, port: int) -> None:
    """Child: a hub over the store in `data_dir` on an embedded chain's fresh exchange, on `port`."""
    import uvicorn

    from client.chain import Exchange, connect
    from oracle.api import create_app
    from oracle.context import HubContext
    from oracle.store import Store

    w3 = connect("embedded")
    accounts = w3.eth.accounts
    ex = Exchange.deploy(w3, sender=accounts[0])
    ctx = HubContext(store=Store(data_dir / "hub.sqlite"), exchange=ex, chain_id=int(w3.eth.chain_id),
                     seller=accounts[1], oracle=accounts[2])
    uvicorn.run(create_app(ctx), host="127.0.0.1", port=port, log_level="warning", access_log=False)


# ---------------------------------------------------------------- set-up


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _write_random(path: Path, size: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        for off in range(0, size, MiB):
            f.write(os.urandom(min(MiB, size - off)))


def _prepare(data_dir: Path, buyers: list[Any], size: int) -> None:
    """A store with deal i (1..) Quoted for buyers[i-1], its ciphertext a hard link to one random file."""
    from oracle.store import Store

    blob = data_dir / "blob"
    _write_random(blob, size)
    leaves = data_dir / "leaves-blob"
    _write_random(leaves, size // 32)
    store = Store(data_dir / "hub.sqlite")
    for i, acct in enumerate(buyers, start=1):
        d = store.deal_dir(i)
        d.mkdir(parents=True, exist_ok=True)
        os.link(blob, d / "cipher")
        os.link(leaves, d / "leaves")
        store.record_deal_opened(i, buyer=acct.address, terms_hash="0x" + f"{i:064x}", dataset_id="0x" + "11" * 32,
                                 token="0x" + "00" * 20, max_price=1, quote_fee=0, block=1)
        store.record_quote_prepared(i, spec_hash=None, dataset_id="0x" + "11" * 32, price=1, epsilon_milli=1000,
                                    key=bytes(32), data_root=bytes(32), cipher_root=bytes(32),
                                    key_commit=i.to_bytes(32, "big"), size=size, n=size // 1024,
                                    release_path=d / "cipher", cipher_path=d / "cipher", leaves_path=d / "leaves")
        store.set_phase(i, "Quoted")
    store.close()


def _start(cmd: list[str], url: str, cwd: Path | None = None) -> subprocess.Popen:
    import httpx

    proc = subprocess.Popen(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{cmd[2:4]} exited at start: {proc.stderr.read().decode()[-2000:]}")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    proc.kill()
    raise RuntimeError(f"{cmd} did not answer {url} within 120 s")


def _stop(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def _status_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise KeyError(field)


# ---------------------------------------------------------------- the load


def _auth(acct: Any, chain_id: int, contract: str, deal_id: int) -> str:
    from eth_account import Account
    from eth_account.messages import encode_defunct

    issued = int(time.time())
    msg = f"spartacus delivery\nchain: {chain_id}\ncontract: {contract}\ndeal: {deal_id}\nissued: {issued}".encode()
    sig = Account.sign_message(encode_defunct(primitive=msg), acct.key).signature
    return f"Spartacus issued={issued}, signature=0x{bytes(sig).hex()}"


async def _round(base: str, requests: list[tuple[str, dict[str, str]]], size: int) -> tuple[float, list[float]]:
    """All requests at once; (wall seconds, per-request latencies). Every body is counted, then dropped."""
    import httpx

    async def one(client: httpx.AsyncClient, path: str, headers: dict[str, str]) -> float:
        t0 = time.perf_counter()
        got = 0
        async with client.stream("GET", path, headers=headers) as r:
            if r.status_code != 200:
                raise RuntimeError(f"GET {path} answered {r.status_code}: {(await r.aread())[:300]!r}")
            async for chunk in r.aiter_raw():
                got += len(chunk)
        if got != size:
            raise RuntimeError(f"GET {path} delivered {got} bytes, expected {size}")
        return time.perf_counter() - t0

    limits = httpx.Limits(max_connections=len(requests), max_keepalive_connections=len(requests))
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=600) as client:
        t0 = time.perf_counter()
        lat = await asyncio.gather(*(one(client, p, h) for p, h in requests))
        return time.perf_counter() - t0, list(lat)


def _load(base: str, make_requests, size: int, rounds: int) -> dict[str, float]:
    walls, lats = [], []
    for _ in range(rounds):
        wall, lat = asyncio.run(_round(base, make_requests(), size))
        walls.append(wall)
        lats.extend(lat)
    n = len(make_requests())
    lats.sort()
    return {"throughput": n * size / min(walls), "p50": statistics.median(lats),
            "p99": lats[min(len(lats) - 1, int(round(0.99 * (len(lats) - 1))))], "walls": walls}


def _measure(size: int, buyers: list[Any], rounds: int, tmp: Path, baseline: bool) -> dict[str, Any]:
    data_dir = tmp / f"hub-{size}"
    _prepare(data_dir, buyers, size)
    out: dict[str, Any] = {"size": size}
    port = _free_port()
    base = f"http://127.0.0.1:{port}"
    hub = _start([sys.executable, "-m", "benchmarks.hub_download", "--serve", str(data_dir), "--port", str(port)],
                 base + "/v1/info", cwd=Path(__file__).resolve().parents[1])
    try:
        import httpx

        info = httpx.get(base + "/v1/info").json()
        time.sleep(0.5)
        out["rss_rest"] = _status_kib(hub.pid, "VmRSS") * 1024
        out["hwm_rest"] = _status_kib(hub.pid, "VmHWM") * 1024

        def hub_requests() -> list[tuple[str, dict[str, str]]]:
            return [(f"/v1/deals/{i}/ciphertext", {"Authorization": _auth(a, info["chainId"], info["contract"], i)})
                    for i, a in enumerate(buyers, start=1)]

        out["hub"] = _load(base, hub_requests, size, rounds)
        out["hwm"] = _status_kib(hub.pid, "VmHWM") * 1024
    finally:
        _stop(hub)
    if baseline:
        port = _free_port()
        base = f"http://127.0.0.1:{port}"
        static = _start([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1",
                         "--directory", str(data_dir)], base + "/blob")
        try:
            out["baseline"] = _load(base, lambda: [(f"/deals/{i}/cipher", {}) for i in range(1, len(buyers) + 1)],
                                    size, rounds)
        finally:
            _stop(static)
    return out


# ---------------------------------------------------------------- report


def _mb(v: float) -> str:
    return f"{v / MiB:7.1f} MiB"


def report(res: dict[str, Any]) -> None:
    """Print the figures beside the baseline."""
    small, large = res["small"], res["large"]
    hub, base = small["hub"], small["baseline"]
    ratio = hub["throughput"] / base["throughput"]
    print(f"{res['buyers']} concurrent buyers x {small['size'] // MiB} MiB, {res['rounds']} rounds, "
          f"load average {res['load'][0]:.1f} / {res['load'][1]:.1f} on {os.cpu_count()} CPUs")
    print(f"{'':22}{'throughput':>14}{'p50':>10}{'p99':>10}")
    for name, r in (("hub (auth + stream)", hub), ("http.server (static)", base)):
        print(f"{name:22}{r['throughput'] / MiB:9.1f} MiB/s{r['p50']:9.2f}s{r['p99']:9.2f}s")
    print(f"ratio hub / baseline: {ratio:.2f} (target >= {TARGET_RATIO}: {'met' if ratio >= TARGET_RATIO else 'NOT met'})")
    print("hub process memory (RSS):   at rest      peak   growth under load")
    for r in (small, large):
        print(f"  {r['size'] // MiB:5} MiB releases   {_mb(r['rss_rest'])} {_mb(r['hwm'])}  {_mb(r['hwm'] - r['rss_rest'])}"
              f"   ({r['hub']['throughput'] / MiB:.0f} MiB/s)")
    growth_small, growth_large = small["hwm"] - small["rss_rest"], large["hwm"] - large["rss_rest"]
    flat = growth_large <= growth_small + 16 * MiB
    print(f"growth {large['size'] // small['size']}x the release size: {growth_large / max(growth_small, 1):.2f}x the "
          f"memory ({'flat' if flat else 'NOT flat'})")


def run(buyers_n: int, mib: int, large_mib: int, rounds: int) -> dict[str, Any]:
    """Both sizes against the hub, the small one against the baseline too."""
    from eth_account import Account

    buyers = [Account.from_key(i.to_bytes(32, "big")) for i in range(1, buyers_n + 1)]
    with tempfile.TemporaryDirectory(prefix="hub-download-") as tmp:
        small = _measure(mib * MiB, buyers, rounds, Path(tmp), baseline=True)
        large = _measure(large_mib * MiB, buyers, 1, Path(tmp), baseline=False)
    return {"buyers": buyers_n, "rounds": rounds, "small": small, "large": large, "load": os.getloadavg()}


def main(argv: list[str] | None = None) -> dict[str, Any] | None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--buyers", type=int, default=50, help="concurrent buyers (default 50)")
    ap.add_argument("--mib", type=int, default=8, help="release size in MiB (default 8)")
    ap.add_argument("--large-mib", type=int, default=64, help="larger release for the memory comparison (default 64)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of all buyers at once (default 3)")
    ap.add_argument("--serve", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--port", type=int, help=argparse.SUPPRESS)
    args = ap.parse_args([] if argv is None else argv)
    if args.serve is not None:
        _serve(args.serve, args.port)
        return None
    res = run(args.buyers, args.mib, args.large_mib, args.rounds)
    report(res)
    return res


if __name__ == "__main__":
    main(sys.argv[1:])
