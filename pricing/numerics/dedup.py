"""The first record of each group of duplicate records, in one compiled pass with a hash table.

`price()` groups a release's exact duplicates (same label and features, or the same on a grid
of step `tol`) by their float64 bytes. A Python dict of each row's bytes did it in linear time,
but one interpreter step and one bytes object a row: 1,000,000 x 64 rows took seconds and held
each row's 520 bytes again in the dict (docs/decisions/2026-12-06-million-row-pricing.md). Here
each row's key words (its features, folded -0.0 to 0.0 and, with `tol`, rounded to the grid, then
its label) are hashed into an open-addressing table of row indices, and a row joins a group only
when its key words equal the group's first row's, bit for bit: the same groups as the dict,
whatever the hash does, with no key stored but the table.
"""

from __future__ import annotations

import numpy as np

from common.jit import COMPILED, jit

__all__ = ["first_of_groups"]

_PRIME = np.uint64(0x100000001B3)
_MIX1 = np.uint64(0xBF58476D1CE4E5B9)
_MIX2 = np.uint64(0x94D049BB133111EB)
_BASIS = np.uint64(0xCBF29CE484222325)
_S30, _S27, _S31 = np.uint64(30), np.uint64(27), np.uint64(31)


@jit(inline="always")
def _key(x, y, i, tol, out):  # pragma: no cover - compiled
    d = x.shape[1]
    for c in range(d):
        v = x[i, c] + 0.0  # folds -0.0 into 0.0
        if tol > 0:
            v = np.floor(v / tol + 0.5) + 0.0
        out[c] = v
    out[d] = y[i] + 0.0


@jit(boundscheck=False)
def _first_of_groups(x, y, tol):  # pragma: no cover - compiled; checked against the dict
    n, d = x.shape
    size = 2
    while size < 2 * n:
        size *= 2
    mask = np.uint64(size - 1)
    table = np.full(size, -1, dtype=np.int64)
    keep = np.empty(n, dtype=np.int64)
    count = 0
    key = np.empty(d + 1)
    other = np.empty(d + 1)
    kb = key.view(np.uint64)
    ob = other.view(np.uint64)
    for i in range(n):
        _key(x, y, i, tol, key)
        h = _BASIS
        for c in range(d + 1):
            h = (h ^ kb[c]) * _PRIME
        h ^= h >> _S30
        h *= _MIX1
        h ^= h >> _S27
        h *= _MIX2
        h ^= h >> _S31
        slot = h & mask
        while True:
            j = table[slot]
            if j < 0:
                table[slot] = i
                keep[count] = i
                count += 1
                break
            _key(x, y, j, tol, other)
            same = True
            for c in range(d + 1):
                if kb[c] != ob[c]:
                    same = False
                    break
            if same:
                break
            slot = (slot + np.uint64(1)) & mask
    return keep[:count].copy()


def _first_of_groups_dict(x: np.ndarray, y: np.ndarray, tol: float) -> np.ndarray:
    """The same with a dict of row bytes, for an interpreter without numba."""
    key = np.asarray(x, dtype=np.float64) + 0.0
    if tol > 0:
        key = np.floor(key / tol + 0.5) + 0.0
    rows = np.ascontiguousarray(np.concatenate([key, np.asarray(y, dtype=np.float64)[:, None] + 0.0], axis=1))
    first: dict[bytes, int] = {}
    for i, row in enumerate(rows):
        first.setdefault(row.tobytes(), i)
    return np.fromiter(first.values(), dtype=np.int64, count=len(first))


def first_of_groups(x: np.ndarray, y: np.ndarray, tol: float = 0.0) -> np.ndarray:
    """Sorted indices of the first record of each duplicate group of rows x [n, d] with labels
    y [n]: equal float64 bytes of (features, label) after folding -0.0 into 0.0, the features
    first rounded to a grid of step `tol` when `tol` > 0."""
    if x.shape[0] == 0:
        return np.zeros(0, dtype=np.int64)
    if not COMPILED:  # pragma: no cover - numba is a declared dependency
        return _first_of_groups_dict(x, y, tol)
    return _first_of_groups(np.ascontiguousarray(x, dtype=np.float64), np.ascontiguousarray(y, dtype=np.float64),
                            float(tol))
