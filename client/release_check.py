"""Whether delivered bytes are a release as protocol.md "Release and pricing" defines one: a safetensors
file of named tensors with its metadata. The chain cannot judge this (the chunks match what the seller
committed to), so the wallet checks it after decryption and keeps the evidence when it fails."""

from __future__ import annotations

from common.safetensors_bytes import MalformedSafetensors, view_safetensors

__all__ = ["release_problem"]


def release_problem(data: bytes) -> str | None:
    """None when `data` is a safetensors file holding at least one tensor and a metadata map;
    otherwise what is wrong with it, in words (the project's one parser; no tensor is copied)."""
    try:
        tensors, metadata = view_safetensors(data)
    except MalformedSafetensors as err:
        return f"not a safetensors file ({err})"
    if not tensors:
        return "a safetensors file with no tensor in it"
    if not metadata:
        return "a safetensors file without metadata (the release's columns, schema and mechanism)"
    return None
