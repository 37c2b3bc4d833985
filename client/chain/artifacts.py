"""Load compiled contract artifacts (abi, bytecode) from build/contracts."""

from __future__ import annotations

import json
import os
from functools import lru_cache
from pathlib import Path

from client.errors import ClientError

__all__ = ["ArtifactMissing", "artifact_dir", "load_artifact"]


class ArtifactMissing(ClientError, FileNotFoundError):
    """Raised when a contract has not been compiled into build/contracts."""


def artifact_dir() -> Path:
    """Where artifacts live: $SPARTACUS_BUILD_DIR, else build/contracts beside the package."""
    env = os.environ.get("SPARTACUS_BUILD_DIR")
    return Path(env) if env else Path(__file__).resolve().parents[2] / "build" / "contracts"


@lru_cache(maxsize=None)
def load_artifact(name: str) -> dict:
    """Return the artifact of contract `name` (keys abi, bytecode, deployedBytecode)."""
    path = artifact_dir() / f"{name}.json"
    if not path.is_file():
        raise ArtifactMissing(f"no compiled artifact for {name} at {path}: run `make build` to compile contracts/")
    return json.loads(path.read_text())
