"""Preconditioned conjugate gradients, shared by the Newton methods' inner solves."""

from __future__ import annotations

import numpy as np

__all__ = ["pcg"]


def pcg(matvec, b: np.ndarray, precond, *, rtol: float = 1e-10, max_iter: int | None = None,
        carry_h: bool = False) -> np.ndarray:
    """Preconditioned conjugate gradients for A x = b (A symmetric positive definite), with
    `precond(r)` applying a symmetric positive definite M ~ A^-1 (Hestenes & Stiefel 1952;
    Nocedal & Wright 2006, alg. 5.3). Stops when |r| <= rtol |b| or after max_iter (default
    2 len(b): finite precision loses the n-step termination) iterations.

    With `carry_h`, A = M^-1 + B and `matvec` applies B alone: M^-1 d is carried by a
    recursion instead of computed (d = z + beta d_prev and M^-1 z = r, so M^-1 d =
    r + beta M^-1 d_prev), one matrix-vector product per iteration fewer."""
    x = np.zeros_like(b)
    r = b.copy()
    z = precond(r)
    d = z.copy()
    hd = r.copy() if carry_h else None
    rz = float(r @ z)
    stop = rtol * float(np.sqrt(b @ b))
    for _ in range(max_iter or 2 * b.shape[0]):
        if float(np.sqrt(r @ r)) <= stop:
            break
        ad = matvec(d) + hd if carry_h else matvec(d)
        dad = float(d @ ad)
        if dad <= 0:
            break
        alpha = rz / dad
        x += alpha * d
        r -= alpha * ad
        z = precond(r)
        rz_new = float(r @ z)
        beta = rz_new / rz
        d = z + beta * d
        if carry_h:
            hd = r + beta * hd
        rz = rz_new
    return x
