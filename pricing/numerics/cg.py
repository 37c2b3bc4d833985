"""Preconditioned conjugate gradients, shared by the Newton methods' inner solves."""

from __future__ import annotations

import threading

import numpy as np

__all__ = ["pcg", "workspace"]

_LOCAL = threading.local()


def workspace(iters: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per-thread buffers for the directions kept by `reorth`, reused across solves: fresh
    [iters, n] arrays cost their page faults on every solve (2 ms of a 60 ms MNIST quote).
    One solve at a time per thread: a `matvec` that itself called `pcg(reorth=True)` would
    overwrite them."""
    ws = getattr(_LOCAL, "ws", None)
    if ws is None or ws[0].shape != (iters, n):
        ws = (np.empty((iters, n)), np.empty((iters, n)), np.empty((iters, n)), np.empty(iters))
        _LOCAL.ws = ws
    return ws


def pcg(matvec, b: np.ndarray, precond, *, rtol: float = 1e-10, max_iter: int | None = None,
        carry_h: bool = False, reorth: bool = False) -> np.ndarray:
    """Preconditioned conjugate gradients for A x = b (A symmetric positive definite), with
    `precond(r)` applying a symmetric positive definite M ~ A^-1 (Hestenes & Stiefel 1952;
    Nocedal & Wright 2006, alg. 5.3). Stops when |r| <= rtol |b| or after max_iter (default
    2 len(b): finite precision loses the n-step termination) iterations, in either case before
    applying `precond` to the final residual, whose direction would never be taken.

    With `carry_h`, A = M^-1 + B and `matvec` applies B alone: M^-1 d is carried by a
    recursion instead of computed (d = z + beta d_prev and M^-1 z = r, so M^-1 d =
    r + beta M^-1 d_prev), one matrix-vector product per iteration fewer.

    With `reorth`, each new direction is made A-conjugate to every earlier one (Gram-Schmidt
    in the A inner product, O(k n) an iteration; the step is alpha = r'd / d'Ad), as exact
    arithmetic keeps them, so x stays the A-projection onto their span. Without it, on an
    ill-conditioned system the recurrences lose conjugacy within a few iterations and the
    iterates turn chaotic: a 1e-15 change of M moved a 10-iteration MNIST solve by 1e-2, and its
    residual rose above |b|; with it the change stays at 1e-15 and the residual falls to 0.19
    |b| (Greenbaum 1997, ch. 4; Saad 2003, sec. 6.7 on orthogonalised directions)."""
    if reorth and max_iter is None:
        raise ValueError("reorth keeps every direction: give max_iter")
    x = np.zeros_like(b)
    r = b.copy()
    stop = rtol * float(np.sqrt(b @ b))
    iters = max_iter or 2 * b.shape[0]
    if float(np.sqrt(r @ r)) <= stop or iters < 1:
        return x
    z = precond(r)
    d = z.copy()
    hd = r.copy() if carry_h else None
    rz = float(r @ z)
    if reorth:  # every direction so far, A times it, M^-1 times it (carry_h) and d'Ad
        ds, ads, hds, dads = workspace(iters, b.shape[0])
    for k in range(iters):
        ad = matvec(d) + hd if carry_h else matvec(d)
        dad = float(d @ ad)
        if dad <= 0:
            break
        alpha = (float(r @ d) if reorth else rz) / dad
        x += alpha * d
        r -= alpha * ad
        # stop before the preconditioner: its z would only build a direction never taken (on
        # MNIST the product with H~^-1 is the costliest of an iteration, and every solve ends so)
        if k == iters - 1 or float(np.sqrt(r @ r)) <= stop:
            break
        z = precond(r)
        if reorth:
            ds[k], ads[k], dads[k] = d, ad, dad
            if carry_h:
                hds[k] = hd
            c = (ads[:k + 1] @ z) / dads[:k + 1]
            d = z - c @ ds[:k + 1]
            if carry_h:
                hd = r - c @ hds[:k + 1]
            continue
        rz_new = float(r @ z)
        beta = rz_new / rz
        d = z + beta * d
        if carry_h:
            hd = r + beta * hd
        rz = rz_new
    return x
