"""Buyer side: the curvature model of a whole network's training objective that network-newton
ships, top eigenpairs of the GGN plus its exact diagonal (the training data stay home)."""

from __future__ import annotations

import numpy as np
from scipy.sparse.linalg import LinearOperator, eigsh

from .. import _netcurv as nc
from ..proxies import Network

__all__ = ["network_curvature"]


def network_curvature(net: Network, x_train: np.ndarray, *, weight_decay: float, rank: int,
                      seed: int = 0) -> dict[str, np.ndarray]:
    """Tensors for H = sum_i J_i' H_i J_i + weight_decay on the weights (sum units, so a
    scikit-learn MLP's `alpha` itself): `curvature.eigvecs` [P, r] and `curvature.eigvals` [r]
    (Lanczos, top r), `curvature.diag` [P]. A floor of 1e-9 of the largest diagonal entry
    keeps every direction (e.g. the unregularised biases) positive definite. The labels are not
    needed: the GGN of the log-loss does not depend on them. Parameters with a zero GGN
    diagonal get exactly zero rows in the eigenvectors, which the hub skips."""
    logits, acts = net.forward(np.asarray(x_train, np.float64), keep=True)
    theta = nc.flat(net)
    mask = nc.weight_mask(net)
    diag_data = nc.ggn_diag(net, x_train)
    reg = weight_decay * mask
    reg = reg + 1e-9 * max(float((diag_data + reg).max()), 1e-12)
    p = theta.size
    r = max(1, min(int(rank), p - 2))
    ggn = nc.ggn_operator(net, acts, logits)
    op = LinearOperator((p, p), matvec=lambda v: ggn(np.ravel(v)) + reg * np.ravel(v),
                        dtype=np.float64)
    # a parameter the training rows never move (the weights of an input constant there) has a
    # zero GGN row; a start with no component there keeps every Lanczos vector, and so the
    # eigenvectors, exactly zero on it, and the hub skips those rows (network_newton.Curvature)
    v0 = np.where(diag_data == 0.0, 0.0, np.random.default_rng(seed).normal(size=p))
    vals, vecs = eigsh(op, k=r, which="LA", v0=v0, tol=1e-8)
    order = np.argsort(vals)[::-1]
    return {"curvature.eigvals": np.ascontiguousarray(vals[order]), "curvature.eigvecs": np.ascontiguousarray(vecs[:, order]),
            "curvature.diag": diag_data + reg}
