"""A standardised input h = (x - mu) / s held as the sparse x / s and the dense row mu / s.

One-hot data (UCI Adult: 12% of its entries are nonzero) stays sparse under x / s though its
standardisation is dense, so the two products a refit takes with its first layer's input,
h B and g' h, cost a multiply-add per nonzero: h B = (x / s) B - 1 (c B) and g' h =
g' (x / s) - (g' 1) c' with c = mu / s. `SparseRows` stands in for the dense h in a forward
pass's layer inputs (`h @ B`, `g.T @ h` and leading-row slices `h[:m]`), so the code that
reads them does not change. The kernels are compiled (`kernels`) and sum
each output in the rows' stored order, single-threaded.
"""

from __future__ import annotations

import numpy as np

from common.jit import COMPILED

from .kernels import _t_times, _times

__all__ = ["SparseRows", "DENSITY"]

#: the largest share of nonzero entries at which `SparseRows` is used: on the benchmark's
#: machine it was 2x the dense product at Adult's 12% (64 outputs), and the whole refit lost
#: 13-15% with it on MNIST (about 25% after `Restriction`, 32 outputs) and digits
DENSITY = 0.2


class SparseRows:
    """Rows h = x / s - c (c = mu / s) in compressed-row form, for `h @ B`, `G @ h` and `h[:m]`."""

    __array_ufunc__ = None  # so `ndarray @ SparseRows` defers to __rmatmul__

    def __init__(self, indptr: np.ndarray, indices: np.ndarray, data: np.ndarray, c: np.ndarray):
        self.indptr, self.indices, self.data, self.c = indptr, indices, data, c
        self.shape = (indptr.shape[0] - 1, c.shape[0])

    @classmethod
    def standardized(cls, x: np.ndarray, mean: np.ndarray, scale: np.ndarray) -> "SparseRows":
        """(x - mean) / scale, from the nonzero entries of x, row by row."""
        rows, cols = np.nonzero(x)
        indptr = np.zeros(x.shape[0] + 1, dtype=np.int64)
        np.cumsum(np.bincount(rows, minlength=x.shape[0]), out=indptr[1:])
        return cls(indptr, cols.astype(np.int64), x[rows, cols] / scale[cols], mean / scale)

    @staticmethod
    def worthwhile(*parts: np.ndarray) -> bool:
        """Whether the rows of `parts`, stacked, are sparse enough for `SparseRows` to beat the
        dense product (counted part by part: no stacked copy)."""
        size = sum(p.size for p in parts)
        return COMPILED and size > 0 and sum(np.count_nonzero(p) for p in parts) <= DENSITY * size

    def dense(self) -> np.ndarray:
        out = np.repeat(-self.c[None, :], self.shape[0], axis=0)
        rows = np.repeat(np.arange(self.shape[0]), np.diff(self.indptr))
        out[rows, self.indices] += self.data
        return out

    def __getitem__(self, rows: slice) -> "SparseRows":
        start, stop, step = rows.indices(self.shape[0]) if isinstance(rows, slice) else (None, None, None)
        if start != 0 or step != 1:
            raise TypeError("SparseRows supports leading-row slices h[:m] only")
        end = self.indptr[stop]
        return SparseRows(self.indptr[:stop + 1], self.indices[:end], self.data[:end], self.c)

    def __matmul__(self, b: np.ndarray) -> np.ndarray:
        """h B for B [d, k]."""
        b = np.ascontiguousarray(b, dtype=np.float64)
        return _times(self.indptr, self.indices, self.data, self.c @ b, b)

    def __rmatmul__(self, gt: np.ndarray) -> np.ndarray:
        """G h for G [k, m] (a transposed residual g.T: read as g, no copy)."""
        g = np.ascontiguousarray(gt.T, dtype=np.float64)
        acc = _t_times(self.indptr, self.indices, self.data, self.shape[1], g)
        return (acc - np.outer(self.c, g.sum(axis=0))).T
