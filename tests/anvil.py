"""A real local node for the tests that need one: anvil from node_modules on 127.0.0.1, on a free
port, stopped when the context ends (module- or test-scoped fixtures wrap `running_anvil`)."""

from __future__ import annotations

import socket
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

import pytest

ANVIL = Path(__file__).resolve().parents[1] / "node_modules" / ".bin" / "anvil"

__all__ = ["ANVIL", "free_port", "running_anvil"]


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def running_anvil(start_timeout: float = 30.0) -> Iterator[str]:
    """Start anvil (automine, prague) and yield its URL; fail naming the fix if it is not installed."""
    if not ANVIL.exists():
        pytest.fail(f"anvil not installed at {ANVIL}: run `make build` (npm install) first")
    port = free_port()
    proc = subprocess.Popen([str(ANVIL), "--host", "127.0.0.1", "--port", str(port), "--hardfork", "prague",
                             "--silent"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + start_timeout
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                    break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    err = proc.stderr.read().decode(errors="replace") if proc.poll() is not None and proc.stderr else ""
                    raise RuntimeError(f"anvil did not start on port {port}: {err}") from None
                time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
