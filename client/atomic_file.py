"""One way to replace a file so a crash leaves the old bytes or the new, never half: the buyer's
state and the hub's store both write through it."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

__all__ = ["atomic_write"]


def atomic_write(path: Path, data: bytes) -> None:
    """Write `data` to `path` through a temporary file of its own (fsynced, then renamed over it).

    The temporary name is unique to the call: with one fixed name, two writers of the same path
    shared it, and the second rename raised FileNotFoundError once the first had moved it away."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
