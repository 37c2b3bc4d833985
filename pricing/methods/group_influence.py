"""Group influence with a second-order correction (Koh et al. 2019; Basu, You, Feizi 2020).

The buyer ships the validation gradient g and the top-r eigenpairs (V, Lambda) of its
training Hessian (mean loss Hessian plus the L2 term); directions outside V get the
shipped ``residual`` curvature. The hub adds the group's own curvature H_U and takes the
Newton step Delta = (H + H_U)^{-1} G_U: expanding the inverse gives first-order influence
minus Basu et al.'s H^{-1} H_U H^{-1} correction, so a group's value saturates where
its records overlap (k copies: (H + k h)^{-1} k g, bounded in k). Efficacy =
g . Delta - 1/2 Delta' H Delta, the predicted validation-loss reduction to second order.
"""

from __future__ import annotations

import numpy as np
from scipy.linalg import cho_factor, cho_solve

from ..numerics import linear_head
from ..errors import NonOrthonormalBasis, SpecError
from .base import Efficacy, HeadMethod, check_at_most

__all__ = ["GroupInfluence", "MAX_PARAMS", "ORTHONORMAL_TOL"]

#: The most head parameters p a spec may have: pricing forms and factorises a dense p x p matrix
#: (4096: 128 MiB, its Cholesky 0.6 s on one core; the benchmarks' heads have at most 650, and
#: feature-newton's shipped p x p Hessian stops near 1,450 at the hub's 16 MiB spec limit).
MAX_PARAMS = 4096
#: How far V'V may be from the identity (network-newton's tolerance): eigh's vectors are within 1e-13.
ORTHONORMAL_TOL = 1e-6


class GroupInfluence(HeadMethod):
    """Second-order group influence with the buyer's low-rank Hessian."""

    name = "group-influence"
    defaults = {"n_train": 0.0, "residual": 1e-3, "curvature_penalty": 1.0}

    def tensor_shapes(self, manifest, *, d, width, classes, hyper):
        shapes = super().tensor_shapes(manifest, d=d, width=width, classes=classes, hyper=hyper)
        p = (classes or 1) * (width + 1)
        shapes.update({"group.grad_val": (p,), "group.eigvals": ("rank",), "group.eigvecs": (p, "rank")})
        return shapes

    def check_manifest(self, manifest, tensors, *, d, classes):
        super().check_manifest(manifest, tensors, d=d, classes=classes)
        if manifest.get("hyper", {}).get("residual", self.defaults["residual"]) <= 0:
            raise SpecError("hyper.residual (curvature outside the shipped eigenvectors) must be > 0")
        if (tensors["group.eigvals"] <= 0).any():
            raise SpecError("group.eigvals must be positive (the Hessian includes the L2 term)")
        vecs = tensors["group.eigvecs"]
        p, rank = vecs.shape
        check_at_most("the head's parameter count (classes x (the proxy's outputs + 1))", p, MAX_PARAMS,
                      "pricing factorises a dense p x p matrix; ship a smaller proxy or fewer classes")
        # with orthonormal V, H_low = V diag(lambda - rho) V' + rho I has eigenvalues lambda and rho, all > 0,
        # so adding the release's curvature keeps it positive definite; unchecked, its Cholesky factorisation
        # failed on some releases and not others, and whether pricing raised was a bit of the release
        if rank > p:  # V'V would be rank x rank, and more columns than rows are never orthonormal
            raise NonOrthonormalBasis("group.eigvecs", float("inf"), ORTHONORMAL_TOL, shape=vecs.shape)
        gram_err = float(np.abs(vecs.T @ vecs - np.eye(rank)).max(initial=0.0))
        if gram_err > ORTHONORMAL_TOL:
            raise NonOrthonormalBasis("group.eigvecs", gram_err, ORTHONORMAL_TOL)

    def _efficacy(self, spec, x, y):
        phi, w = self.features(spec, x), self.head(spec)
        n, rho = spec.hyper["n_train"], spec.hyper["residual"]
        v, lam = spec.tensors["group.eigvecs"], spec.tensors["group.eigvals"]
        g_val = spec.tensors["group.grad_val"]
        h_low = (v * (lam - rho)) @ v.T + rho * np.eye(v.shape[0])
        h_u = linear_head.hessian_sum(phi, w, spec.classification) / n
        h = h_low + h_u
        grads = linear_head.record_grads(phi, y, w, spec.classification) / n
        fac = cho_factor(h, lower=True, check_finite=False)
        scores = grads @ cho_solve(fac, g_val, check_finite=False)
        delta = cho_solve(fac, grads.sum(axis=0), check_finite=False)
        total = float(g_val @ delta)
        if spec.hyper["curvature_penalty"]:
            total -= 0.5 * float(delta @ h_low @ delta)
        return Efficacy(total, scores)
