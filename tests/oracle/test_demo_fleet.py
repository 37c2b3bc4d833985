"""`HubFleet.close` never leaves a watcher step running: no hub is stepped once close() has begun, and
no store is closed (nor its folder handed back for `run_demo` to remove) under a step still running.

The interleaving is forced: hub A's step blocks until the test releases it, as a slow step does on a
loaded machine; hub B is due in the same pass. Before the fix the stepping loop went on to B after
close() had begun, and close() gave up waiting after 60 s and closed the stores (then `run_demo`
removed their folders) under the step still running: a FileNotFoundError in that step."""

from __future__ import annotations

import threading
import time
from types import SimpleNamespace
from typing import Any

import pytest

from oracle.demo_hubs import DemoHubError, HubFleet


class _Chain:
    """Just what the stepping loop reads: a head that moves, and no events."""

    def __init__(self) -> None:
        self._head = 0

    @property
    def block_number(self) -> int:
        self._head += 1
        return self._head

    def events(self, *_: Any) -> list:
        return []


def _hub(name: str, log: list[str], step) -> SimpleNamespace:
    chain = _Chain()
    ex = SimpleNamespace(w3=SimpleNamespace(eth=chain), events=chain.events)

    def close() -> None:
        log.append(f"{name} store closed")

    return SimpleNamespace(name=name, url=f"http://{name}", ctx=SimpleNamespace(exchange=ex),
                           seller=SimpleNamespace(address="0x" + "00" * 20),
                           store=SimpleNamespace(close=close, get_deal=lambda _: None),
                           watcher=SimpleNamespace(step=step, start_block=0))


def _fleet(close_timeout: float | None = None) -> tuple[HubFleet, list[str], threading.Event, threading.Event]:
    log: list[str] = []
    entered, release = threading.Event(), threading.Event()

    def slow_step() -> None:
        log.append("A step begins")
        entered.set()
        release.wait(30)
        log.append("A step ends")

    fleet = HubFleet([], poll=0.01) if close_timeout is None else HubFleet([], poll=0.01, close_timeout=close_timeout)
    fleet.hubs = [_hub("A", log, slow_step), _hub("B", log, lambda: log.append("B stepped"))]
    fleet.start()
    assert entered.wait(30), "the fleet never stepped hub A"
    return fleet, log, entered, release


def test_close_waits_for_the_running_step_and_starts_no_other() -> None:
    fleet, log, _, release = _fleet()
    closed = threading.Event()
    closer = threading.Thread(target=lambda: (fleet.close(), closed.set()), daemon=True)
    closer.start()
    time.sleep(0.3)
    assert not closed.is_set(), "close() returned while hub A's step was still running"
    release.set()
    closer.join(30)
    assert closed.is_set()
    assert "B stepped" not in log, log  # close() had begun: B's step would run into a store about to close
    assert log.index("A step ends") < log.index("A store closed"), log
    assert log[-2:] == ["A store closed", "B store closed"]


def test_a_step_outliving_close_timeout_leaves_every_store_open() -> None:
    fleet, log, _, release = _fleet(close_timeout=0.2)
    try:
        with pytest.raises(DemoHubError, match="still running"):
            fleet.close()
        assert not any("store closed" in line for line in log), log  # nothing closed under the running step
    finally:
        release.set()
    deadline = time.monotonic() + 30
    while "A step ends" not in log and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "B stepped" not in log, log

