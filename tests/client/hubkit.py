"""Test kit for the buyer library: a hub from tests/oracle/conftest.py's `hub` fixture served over real
HTTP (uvicorn in a thread), its watcher stepped by the buyer's own progress callback (so the embedded
chain is only ever touched from the test's thread), ways to make the hub cheat, and a buyer account."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator

from eth_account import Account
from eth_account.signers.local import LocalAccount

from client.buyer import Buyer, Progress
from client.chain import Exchange, advance_time
from client.chain.exchange import ETH
from client.delivery import Commitment
from client.merkle import merkle_root
from oracle.api import create_app
from oracle.pipeline import QuotePipeline
from oracle.watcher import Watcher
from tests.oracle.test_http_deal import _loose_offer, served  # noqa: F401 - re-exported for the tests


class Killed(BaseException):
    """Raised from a progress callback to stop the buyer at a chosen step (as a SIGKILL would)."""


@dataclass
class LiveHub:
    """A hub served on `url`, and its watcher (stepped when the buyer waits, unless `stalled`)."""

    hub: Any
    url: str
    watcher: Watcher
    stalled: bool = False
    steps: int = 0
    seen: list[str] = field(default_factory=list)

    def step(self) -> None:
        if not self.stalled:
            self.watcher.step()
            self.steps += 1

    def drive(self, *, kill_at: str | None = None, advance_on: dict[str, int] | None = None
              ) -> Callable[[Progress], None]:
        """A progress callback: steps the hub when the buyer waits, moves chain time forward by
        `advance_on[stage]` seconds at that stage, and raises Killed at `kill_at` (once)."""
        state = {"killed": False}

        def progress(ev: Progress) -> None:
            self.seen.append(ev.stage)
            if kill_at is not None and ev.stage == kill_at and not state["killed"]:
                state["killed"] = True
                raise Killed(kill_at)
            if advance_on and ev.stage in advance_on:
                advance_time(self.hub.w3, advance_on[ev.stage])
            if ev.stage.startswith("waiting-"):
                self.step()

        return progress


@contextmanager
def live_hub(hub: Any) -> Iterator[LiveHub]:
    """Serve `hub`'s API on loopback with a watcher on its chain."""
    watcher = Watcher(hub.ctx, QuotePipeline(hub.ctx, signer=hub.oracle, tokens=[ETH]), start_block=0)
    with served(create_app(hub.ctx)) as url:
        yield LiveHub(hub, url, watcher)


def account_of(hub: Any, address: str) -> LocalAccount:
    """The LocalAccount of one of the embedded chain's funded accounts."""
    for k in hub.w3.provider.ethereum_tester.backend.account_keys:
        acct = Account.from_key(k)
        if acct.address == address:
            return acct
    raise KeyError(address)


_BUYERS: list[Buyer] = []


def make_buyer(hub: Any, state_dir: Path, address: str | None = None, **kw: Any) -> Buyer:
    """A Buyer for `hub.buyer` (or `address`) with its own Exchange binding and state directory
    (closed by `close_buyers`, which the test modules' autouse fixture calls)."""
    kw.setdefault("poll_interval", 0.0)
    buyer = Buyer(Exchange(hub.w3, hub.ex.address), account_of(hub, address or hub.buyer), state_dir, **kw)
    _BUYERS.append(buyer)
    return buyer


def close_buyers() -> None:
    """Close every buyer's hub connections (no sockets left to the garbage collector)."""
    while _BUYERS:
        _BUYERS.pop().close()


def cheat_bad_chunk(monkeypatch: Any, index: int = 0) -> None:
    """The hub commits to a plain leaf that chunk `index` does not decrypt to (both roots consistent
    with the files it serves, so only decryption shows it): a complaint proves it."""
    import oracle.pipeline as pipeline

    real = pipeline.encode_file

    def encode_file(plain, key, cipher_path, leaves_path) -> Commitment:
        c = real(plain, key, cipher_path, leaves_path)
        leaves = bytearray(Path(leaves_path).read_bytes())
        leaves[index * 32] ^= 0xFF
        Path(leaves_path).write_bytes(bytes(leaves))
        root = merkle_root([bytes(leaves[i:i + 32]) for i in range(0, len(leaves), 32)])
        return Commitment(root, c.cipher_root, c.key_commit, c.size)

    monkeypatch.setattr(pipeline, "encode_file", encode_file)


def cheat_not_a_release(monkeypatch: Any) -> None:
    """The hub encodes honestly, but what it encodes is a CSV, not a safetensors release: every chunk
    matches its commitment, so no complaint can prove anything."""
    import oracle.pipeline as pipeline

    real = pipeline.encode_file

    def encode_file(plain, key, cipher_path, leaves_path) -> Commitment:
        csv = Path(plain).with_suffix(".csv")
        csv.write_bytes(b"age,income\n" + b"41,52000\n" * 200)
        return real(csv, key, cipher_path, leaves_path)

    monkeypatch.setattr(pipeline, "encode_file", encode_file)


def cheat_wrong_root(hub: Any, deal_id: int) -> None:
    """After quoting, the hub serves other leaves than it committed to."""
    path = Path(hub.store.get_deal(deal_id).leaves_path)
    data = bytearray(path.read_bytes())
    data[-1] ^= 0x01
    path.write_bytes(bytes(data))


def cheat_no_reveal(monkeypatch: Any) -> None:
    """The hub never reveals the key of an accepted deal."""
    monkeypatch.setattr(Watcher, "_reveal", lambda self, deal_id, deadline, report: None)


def cheat_price(monkeypatch: Any, delta: int) -> None:
    """The hub quotes `delta` more than its own pricing says."""
    real = QuotePipeline._price
    monkeypatch.setattr(QuotePipeline, "_price", lambda self, plan, release: real(self, plan, release) + delta)


@contextmanager
def stepping(hubs: list[Any], lock: Any, interval: float = 0.05) -> Iterator[None]:
    """Step every hub's watcher (under the shared chain `lock`) in a thread while the block runs:
    one-person hubs on one embedded chain, as a fleet of home servers would poll their nodes."""
    import threading
    import time

    stop = threading.Event()

    def watch() -> None:
        while not stop.is_set():
            for h in hubs:
                if h.watcher is not None:
                    with lock:
                        h.watcher.step()
            time.sleep(interval)

    thread = threading.Thread(target=watch, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join(timeout=300)
        if thread.is_alive():  # never hand back stores a watcher step still writes to (the caller removes them)
            raise RuntimeError("a hub watcher step outlived the stepping block by 300 s")
