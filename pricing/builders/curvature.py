"""Buyer side: the curvature model of a whole network's training objective that network-newton
ships, top eigenpairs of the GGN plus its exact diagonal (the training data stay home)."""

from __future__ import annotations

import numpy as np
from scipy.sparse.linalg import LinearOperator, eigsh

from ..methods.network_newton import calculus as nc
from ..errors import SpecError
from ..proxies import Network

__all__ = ["network_curvature", "CURVATURE_BYTES", "CURVATURE_RTOL", "capped_rank", "check_rtol", "numerical_rank"]

# The default cap on the eigenvectors the hub reads, V [live rows, r] in float64. A Newton-CG
# iteration reads V twice, so past the cache a quote is bound by reading it: MNIST's rank-64 V
# (9.8 MB) took 40% of a quote. At 4 MiB MNIST ships rank 27, 1.3x faster at the same rho on
# the development split (docs/decisions/2026-12-02-curvature-byte-cap.md); the other data sets' V are
# smaller and keep their rank.
CURVATURE_BYTES = 4 * 2**20

# The GGN's numerical rank: an eigenpair is shipped when the data's own curvature along it,
# v' GGN v = lambda - v' (weight decay) v, is at least this share of the largest. Below that the
# direction's curvature is the weight decay's to within 0.1% of the top eigenvalue, and the
# eigenpairs there are a near-degenerate plateau (breast_cancer: 38-48 of 64, at 1e-10 to 1e-3
# of the top), each costing a quote two passes over V as any other. docs/decisions/2026-12-06-curvature-numerical-rank.md.
CURVATURE_RTOL = 1e-3


def capped_rank(rank: int, live_rows: int, max_bytes: int | None) -> int:
    """The rank shipped: `rank`, lowered so that V's live rows fit in `max_bytes` (None: no cap),
    and at least 1."""
    if max_bytes is not None:
        rank = min(rank, max_bytes // (8 * max(live_rows, 1)))
    return max(1, int(rank))


def check_rtol(rtol: float | None) -> None:
    """Refuse a numerical-rank tolerance outside [0, 1) (NaN included): 1 or more would ship one
    pair whatever the spectrum, and a negative one means nothing."""
    if rtol is not None and not 0.0 <= rtol < 1.0:
        raise SpecError(f"curvature_rtol must be in [0, 1) (a share of the largest data curvature), got {rtol!r}")


def numerical_rank(vals: np.ndarray, vecs: np.ndarray, reg: np.ndarray, rtol: float | None) -> np.ndarray:
    """Which eigenpairs (eigenvalues `vals` of GGN + diag(reg), eigenvectors `vecs`) the data's
    curvature makes worth shipping: v_i' GGN v_i = vals_i - v_i' diag(reg) v_i at least `rtol`
    times the largest of them (None or 0: every pair). The pair with the largest is always kept.
    `rtol` outside [0, 1) is refused (`check_rtol`)."""
    check_rtol(rtol)
    keep = np.ones(vals.shape[0], dtype=bool)
    if rtol:
        share = vals - np.einsum("pk,p,pk->k", vecs, reg, vecs)
        keep = share >= rtol * share.max()
        keep[np.argmax(share)] = True
    return keep


def network_curvature(net: Network, x_train: np.ndarray, *, weight_decay: float, rank: int,
                      seed: int = 0, max_bytes: int | None = CURVATURE_BYTES,
                      rtol: float | None = CURVATURE_RTOL) -> dict[str, np.ndarray]:
    """Tensors for H = sum_i J_i' H_i J_i + weight_decay on the weights (sum units, so a
    scikit-learn MLP's `alpha` itself): `curvature.eigvecs` [P, r] and `curvature.eigvals` [r]
    (Lanczos, top r), `curvature.diag` [P]. A floor of 1e-9 of the largest diagonal entry
    keeps every direction (e.g. the unregularised biases) positive definite. The labels are not
    needed: the GGN of the log-loss does not depend on them. Parameters with a zero GGN
    diagonal get exactly zero rows in the eigenvectors, which the hub skips. The rank is
    lowered where the live rows of V would exceed `max_bytes` (`capped_rank`), and of the top
    `rank` only the pairs the data's curvature holds up are shipped (`numerical_rank`, `rtol`)."""
    check_rtol(rtol)  # before Lanczos, not after it
    logits, acts = net.forward(np.asarray(x_train, np.float64), keep=True)
    theta = nc.flat(net)
    mask = nc.weight_mask(net)
    diag_data = nc.ggn_diag(net, x_train)
    reg = weight_decay * mask
    reg = reg + 1e-9 * max(float((diag_data + reg).max()), 1e-12)
    p = theta.size
    r = max(1, min(capped_rank(rank, int(np.count_nonzero(diag_data)), max_bytes), p - 2))
    ggn = nc.ggn_operator(net, acts, logits)
    op = LinearOperator((p, p), matvec=lambda v: ggn(np.ravel(v)) + reg * np.ravel(v),
                        dtype=np.float64)
    # a parameter the training rows never move (the weights of an input constant there) has a
    # zero GGN row; a start with no component there keeps every Lanczos vector, and so the
    # eigenvectors, exactly zero on it, and the hub skips those rows (network_newton.Curvature)
    v0 = np.where(diag_data == 0.0, 0.0, np.random.default_rng(seed).normal(size=p))
    vals, vecs = eigsh(op, k=r, which="LA", v0=v0, tol=1e-8)
    order = np.argsort(vals)[::-1]
    vals, vecs = vals[order], vecs[:, order]
    keep = numerical_rank(vals, vecs, reg, rtol)
    return {"curvature.eigvals": np.ascontiguousarray(vals[keep]), "curvature.eigvecs": np.ascontiguousarray(vecs[:, keep]),
            "curvature.diag": diag_data + reg}
