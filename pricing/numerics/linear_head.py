"""Float64 math of a linear head (softmax or least squares) on fixed features.

Parameters are W [k, q] with the bias as the last feature column; theta = W.ravel().
The buyer's objective is (1/n) * sum(loss) + (l2 / 2) * |theta|^2, so adding records to the
sum (with the same 1/n weight) is what "retraining with the bundle" means for the head.
"""

from __future__ import annotations

import numpy as np

__all__ = [
    "add_bias", "softmax", "losses", "mean_loss", "residual", "record_grads", "grad_sum", "hessian_sum",
    "fit_head",
]


def add_bias(phi: np.ndarray) -> np.ndarray:
    """Append the constant column that carries the bias."""
    return np.concatenate([phi, np.ones((phi.shape[0], 1))], axis=1)


def softmax(z: np.ndarray) -> np.ndarray:
    """Row-wise softmax of logits z [m, k], shifted by each row's maximum."""
    z = z - z.max(axis=1, keepdims=True)
    e = np.exp(z)
    return e / e.sum(axis=1, keepdims=True)


def _onehot(y: np.ndarray, k: int) -> np.ndarray:
    out = np.zeros((y.shape[0], k))
    out[np.arange(y.shape[0]), y.astype(np.int64)] = 1.0
    return out


def losses(phi: np.ndarray, y: np.ndarray, w: np.ndarray, classification: bool) -> np.ndarray:
    """Per-record loss: cross-entropy, or half the squared error."""
    z = phi @ w.T
    if classification:
        z = z - z.max(axis=1, keepdims=True)
        lse = np.log(np.exp(z).sum(axis=1))
        return lse - z[np.arange(z.shape[0]), y.astype(np.int64)]
    return 0.5 * (z[:, 0] - y) ** 2


def mean_loss(phi: np.ndarray, y: np.ndarray, w: np.ndarray, classification: bool) -> float:
    """Mean per-record loss (0 for no records)."""
    return float(losses(phi, y, w, classification).mean()) if phi.shape[0] else 0.0


def residual(phi: np.ndarray, y: np.ndarray, w: np.ndarray, classification: bool) -> np.ndarray:
    """Per-record gradient of the loss wrt the logits [m, k]: p - onehot(y), or z - y."""
    z = phi @ w.T
    if classification:
        return softmax(z) - _onehot(y, w.shape[0])
    return z - y[:, None]


def record_grads(phi: np.ndarray, y: np.ndarray, w: np.ndarray, classification: bool) -> np.ndarray:
    """Per-record loss gradients wrt theta, shape [m, k*q] (Koh & Liang's grad L(z, theta))."""
    r = residual(phi, y, w, classification)
    return (r[:, :, None] * phi[:, None, :]).reshape(phi.shape[0], -1)


def grad_sum(phi: np.ndarray, y: np.ndarray, w: np.ndarray, classification: bool) -> np.ndarray:
    """Sum of per-record gradients, shape [k*q], without forming the [m, k*q] matrix."""
    return (residual(phi, y, w, classification).T @ phi).ravel()


def hessian_sum(phi: np.ndarray, w: np.ndarray, classification: bool) -> np.ndarray:
    """Sum of per-record loss Hessians wrt theta, shape [k*q, k*q] (does not depend on labels)."""
    k, q = w.shape
    if not classification:
        return phi.T @ phi
    p = softmax(phi @ w.T)
    h = np.empty((k * q, k * q))
    for c in range(k):
        for c2 in range(c, k):
            a = p[:, c] * ((c == c2) - p[:, c2])
            block = (phi * a[:, None]).T @ phi
            h[c * q : (c + 1) * q, c2 * q : (c2 + 1) * q] = block
            h[c2 * q : (c2 + 1) * q, c * q : (c + 1) * q] = block.T
    return h


def fit_head(phi: np.ndarray, y: np.ndarray, *, classes: int, l2: float, steps: int = 50,
             tol: float = 1e-10) -> np.ndarray:
    """Minimise (1/n) sum loss + l2/2 |theta|^2 by damped Newton; returns W [k, q] (buyer side)."""
    classification = classes > 0
    n, q = phi.shape
    k = classes if classification else 1
    w = np.zeros((k, q))
    if not classification:
        a = phi.T @ phi / n + l2 * np.eye(q)
        return np.linalg.solve(a, phi.T @ y / n)[None, :]

    def objective(wm: np.ndarray) -> float:
        return mean_loss(phi, y, wm, True) + 0.5 * l2 * float(wm.ravel() @ wm.ravel())

    f = objective(w)
    for _ in range(steps):
        g = grad_sum(phi, y, w, True) / n + l2 * w.ravel()
        if float(np.abs(g).max()) < tol:
            break
        h = hessian_sum(phi, w, True) / n + l2 * np.eye(k * q)
        d = -np.linalg.solve(h, g)
        t = 1.0
        while True:
            w_new = w + t * d.reshape(k, q)
            f_new = objective(w_new)
            if f_new <= f + 1e-4 * t * float(g @ d) or t < 1e-8:
                break
            t *= 0.5
        w, f = w_new, f_new
    return w
