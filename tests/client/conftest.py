"""Shared fixtures for the client tests: the delivery test vectors of shared/vectors."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest
from eth_hash.auto import keccak

# shared/ beside the repo; $SPARTACUS_SHARED names it elsewhere (a git worktree lives one level deeper).
SHARED = Path(os.environ.get("SPARTACUS_SHARED") or Path(__file__).resolve().parents[2].parent / "shared")
VECTORS_PATH = SHARED / "vectors" / "delivery.json"
SHARED_ABSENT = not VECTORS_PATH.parent.parent.is_dir()

_RECIPE = re.compile(
    r"^(?P<size>\d+) bytes: concatenate keccak256\(uint256be\((?P<seed>\d+)\) \|\| uint256be\(c\)\) "
    r"for c = 0,1,2,\.\.\. and cut to length$"
)


def load_vectors() -> dict | None:
    """The parsed vector file, or None when the shared/ checkout is genuinely absent."""
    if SHARED_ABSENT:
        return None
    return json.loads(VECTORS_PATH.read_text())  # a missing file inside shared/ is an error, not a skip


def recipe_data(recipe: str) -> bytes:
    """Bytes described by a vector's ``data_recipe``; fails loudly on a recipe it does not know."""
    m = _RECIPE.match(recipe)
    if m is None:
        raise AssertionError(f"unknown data_recipe in {VECTORS_PATH}: {recipe!r}; teach tests/client/conftest.py")
    size, seed = int(m["size"]), int(m["seed"])
    out = bytearray()
    c = 0
    while len(out) < size:
        out += keccak(seed.to_bytes(32, "big") + c.to_bytes(32, "big"))
        c += 1
    return bytes(out[:size])


def vector_data(vector: dict, all_vectors: list[dict]) -> bytes:
    """The release bytes of a vector (hex, recipe, or 'same data as five-chunks')."""
    if vector.get("data_hex") is not None:
        return bytes.fromhex(vector["data_hex"])
    if vector.get("data_recipe") is not None:
        return recipe_data(vector["data_recipe"])
    m = re.search(r"same data and key as ([\w-]+)", vector.get("note", ""))
    if m is None:
        raise AssertionError(f"vector {vector['name']!r} names no data")
    (src,) = [v for v in all_vectors if v["name"] == m[1]]
    return vector_data(src, all_vectors)


_MISSING = (f"the protocol's delivery vectors are missing at {VECTORS_PATH}: check out shared/ beside the repo "
            "(CI always has it); without them the encoder cannot be checked against the protocol")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Parametrize ``vector`` over every honest vector and ``cheating`` over the cheating one."""
    doc = load_vectors()
    if "vector" in metafunc.fixturenames:
        if doc is None:
            pytest.fail(_MISSING, pytrace=False)
        else:
            honest = [v for v in doc["vectors"] if "nChunks" in v]
            metafunc.parametrize("vector", honest, ids=[v["name"] for v in honest])
    if "cheating" in metafunc.fixturenames:
        if doc is None:
            pytest.fail(_MISSING, pytrace=False)
        else:
            cheats = [v for v in doc["vectors"] if v["name"] == "cheating-seller"]
            assert cheats, f"{VECTORS_PATH} has no cheating-seller vector"
            metafunc.parametrize("cheating", cheats, ids=[v["name"] for v in cheats])


@pytest.fixture(scope="session")
def vectors_doc() -> dict:
    doc = load_vectors()
    if doc is None:
        pytest.fail(_MISSING, pytrace=False)
    return doc


@pytest.fixture
def all_vectors(vectors_doc: dict) -> list[dict]:
    return vectors_doc["vectors"]


@pytest.fixture
def release_of(all_vectors: list[dict]):
    """``release_of(vector)`` -> the release bytes the vector encodes."""
    return lambda vector: vector_data(vector, all_vectors)
