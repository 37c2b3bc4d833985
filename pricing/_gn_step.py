"""The conjugate-gradient solve of one network-Newton step, compiled for the networks a buyer
most often ships: `[standardize,] linear, <elementwise>, linear` (one hidden layer).

`network_refit` solves (GGN_U + diag(pen) + H~) step = -g by `pcg(carry_h=True,
reorth=True)` with the bundle's GGN (`_netcurv.ggn_operator`) and `Curvature.inv` as Python
callables. On small networks each iteration is a few dozen numpy calls on short arrays, and
their overhead was most of a quote (breast_cancer and Adult: docs/pricing.md, "Where a quote's
time goes"). Here the same iterations run in one compiled call: the same recurrences, the same
curvature kernels (`pricing._lowrank`), the same sparse first-layer kernels
(`pricing._sparse_rows`) and BLAS (scipy's, pinned to one thread with numpy's by
`pricing._threads`) for the dense first layer. Vector sums run in a fixed order on one
thread, so a result does not depend on the thread count; it equals the numpy path's to
rounding (the tests compare the two). `solve_step` returns None for any other network, and
the caller keeps the numpy path. The compiled loops are in `pricing._kernels`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Callable

import numpy as np

from ._jit import COMPILED
from ._kernels import _back, _pcg
from . import _netcurv as nc
from ._netcurv import logit_hessian_weights
from ._sparse_rows import SparseRows
from .proxies import Network, pointwise_grad

if TYPE_CHECKING:
    from .methods.network_newton import Curvature

__all__ = ["solve_step", "flat_grad", "one_hidden"]

_ACTIVATIONS = ("relu", "tanh", "sigmoid")
# placeholders for the arguments a kernel does not read: the dense rows when they are sparse,
# the CSR arrays when they are dense, the penalty when there is none
_NO_ROWS = np.zeros((0, 0))
_NO_PTR = np.zeros(1, dtype=np.int64)
_NO_DATA = np.zeros(0)


def one_hidden(kinds: list[str]) -> bool:
    """Whether a network is `[standardize,] linear, <elementwise>, linear`, the compiled form."""
    k = kinds[1:] if kinds[:1] == ["standardize"] else kinds
    return len(k) == 3 and k[0] == "linear" and k[1] in _ACTIVATIONS and k[2] == "linear"


def _operands(net: Network, acts: list) -> tuple:
    """What the kernels read of a forward pass: (sparse, dense rows, CSR arrays, centring row,
    the hidden layer's output, the activation's slopes, the logits layer's weight)."""
    first = 1 if net.kinds[0] == "standardize" else 0
    kind, w3 = net.kinds[first + 1], net.params[first + 2]["weight"]
    h, z1, a3 = acts[first], acts[first + 1], acts[first + 2]
    slopes = np.ascontiguousarray(pointwise_grad(kind, {}, z1, np.ones_like(z1)))
    if isinstance(h, SparseRows):
        rows = (True, _NO_ROWS, h.indptr, h.indices, h.data, h.c)
    else:
        dense = np.ascontiguousarray(h, dtype=np.float64)
        rows = (False, dense, _NO_PTR, _NO_PTR, _NO_DATA, np.zeros(dense.shape[1]))
    return rows + (np.ascontiguousarray(a3), slopes, np.ascontiguousarray(w3))


def flat_grad(net: Network, acts: list, grad_out: np.ndarray) -> np.ndarray:
    """`_netcurv.flat_grad` (the flat gradient of sum(grad_out * output) from a forward pass's
    layer inputs), compiled for a `one_hidden` network, and the numpy one for any other."""
    if not COMPILED or not one_hidden(net.kinds):
        return nc.flat_grad(net, acts, grad_out)
    ops = _operands(net, acts)
    out = np.empty(sum(net.params[i]["weight"].size + net.params[i]["bias"].size for i in nc.linear_layers(net)))
    _back(np.ascontiguousarray(grad_out, dtype=np.float64), *ops, out)
    return out


def solve_step(net: Network, acts: list, logits: np.ndarray, g: np.ndarray, curv: "Curvature", *,
               rtol: float, max_iter: int, penalty: np.ndarray | None, workspace: Callable[[int, int], tuple]) -> np.ndarray | None:
    """The CG solution of (GGN_U + diag(penalty) + H~) x = g at the bundle's forward pass
    (`acts`, `logits`, the bundle's rows only), or None when the network is not `one_hidden`
    or numba is missing (the caller then runs `pcg`)."""
    if not COMPILED or not one_hidden(net.kinds):
        return None
    ds, ads, hds, dads = workspace(max_iter, g.shape[0])
    return _pcg(g, float(rtol), int(max_iter), ds, ads, hds, dads, *_operands(net, acts),
                np.ascontiguousarray(logit_hessian_weights(logits)), logits.shape[1] > 1,
                _NO_DATA if penalty is None else penalty, penalty is not None,
                curv.v, curv.vt, curv.ev, curv.kinv, curv.dinv, curv.dinv_live, curv.idx)

