"""Whether delivered bytes are a release as protocol.md "Release and pricing" defines one: a safetensors
file of named tensors with its metadata. The chain cannot judge this (the chunks match what the seller
committed to), so the wallet checks it after decryption and keeps the evidence when it fails."""

from __future__ import annotations

import os

from safetensors import SafetensorError, safe_open

__all__ = ["release_problem"]


def release_problem(path: str | os.PathLike[str]) -> str | None:
    """None when the file at `path` is a safetensors file holding at least one tensor and a metadata
    map; otherwise what is wrong with it, in words. Reads the header only (a release may be 500 MB)."""
    try:
        with safe_open(os.fspath(path), framework="numpy") as f:
            names, metadata = list(f.keys()), f.metadata()
    except (SafetensorError, OSError, ValueError) as err:
        return f"not a safetensors file ({type(err).__name__}: {err})"
    if not names:
        return "a safetensors file with no tensor in it"
    if not metadata:
        return "a safetensors file without metadata (the release's columns, schema and mechanism)"
    return None
