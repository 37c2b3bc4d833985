"""The network-Newton refit compiled for the networks a buyer most often ships:
`[standardize,] linear, <elementwise>, linear` (one hidden layer).

`refit.network_refit` is a damped Gauss-Newton loop: per step a backward pass, a CG solve of
(GGN_U + diag(pen) + H~) step = -g (`pcg(carry_h=True, reorth=True)` with the bundle's GGN,
`calculus.ggn_operator`, and `Curvature.inv`), then Armijo trials, each a forward pass above
the first layer. On small networks each of those is a few dozen numpy calls on short arrays,
and their overhead was most of a quote (breast_cancer and Adult: docs/decisions/2026-12-03-compiled-refit.md). `refit` here runs the whole loop in one compiled call: the same
recurrences, the same curvature kernels (`lowrank`), the same sparse first-layer kernels
(`sparse_rows`) and BLAS (scipy's, pinned to one thread with numpy's by
`pricing.numerics.threads`) for the dense products. Sums run in a fixed order on one thread, so
a result does not depend on the thread count; it equals the numpy loop's to rounding (the tests
compare the two). `refit` returns None for any other network, and the caller keeps the numpy
loop. The compiled loops are in `kernels`.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from common.jit import COMPILED

from ...numerics.linesearch import C1, HALVINGS
from ...proxies import Network, pointwise_grad
from . import calculus as nc
from .anchor import Anchor
from .curvature import Curvature
from .kernels import (ROW_BLOCK, WHOLE_ROWS, _RELU, _SIGMOID, _TANH, _back, _probe, _refit, _refit_rows, _scores,
                      _scores_rows, stream_block)
from .rows import Rows
from .sparse_rows import SparseRows

__all__ = ["refit", "probe_loss", "record_scores", "flat_grad", "one_hidden", "z_store_for", "AUTO",
           "ROW_BLOCK", "WHOLE_ROWS"]

#: the default `block` of `refit` and `record_scores`: `kernels.stream_block` of the row count
AUTO = "auto"

_ACTIVATIONS = ("relu", "tanh", "sigmoid")
_ACT_CODES = {"relu": _RELU, "tanh": _TANH, "sigmoid": _SIGMOID}
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
    return _row_operands(h) + (np.ascontiguousarray(a3), slopes, np.ascontiguousarray(w3))


def _row_operands(h: "np.ndarray | SparseRows") -> tuple:
    """The first linear layer's input as the kernels read it: (sparse, dense rows, CSR arrays,
    centring row), with placeholders for the form it is not in."""
    if isinstance(h, SparseRows):
        return (True, _NO_ROWS, h.indptr, h.indices, h.data, h.c)
    dense = np.ascontiguousarray(h, dtype=np.float64)
    return (False, dense, _NO_PTR, _NO_PTR, _NO_DATA, np.zeros(dense.shape[1]))


def _shape(net: Network) -> tuple[int, int, int, int] | None:
    """(activation code, hidden units, inputs, logits) of a `one_hidden` network, or None for any
    other network or without numba: what the compiled kernels need to know of it."""
    if not COMPILED or not one_hidden(net.kinds):
        return None
    first = 1 if net.kinds[0] == "standardize" else 0
    hid, d = net.params[first]["weight"].shape
    return _ACT_CODES[net.kinds[first + 1]], hid, d, net.params[first + 2]["weight"].shape[0]


def flat_grad(net: Network, acts: list, grad_out: np.ndarray) -> np.ndarray:
    """`calculus.flat_grad` (the flat gradient of sum(grad_out * output) from a forward pass's
    layer inputs), compiled for a `one_hidden` network, and the numpy one for any other."""
    if not COMPILED or not one_hidden(net.kinds):
        return nc.flat_grad(net, acts, grad_out)
    ops = _operands(net, acts)
    out = np.empty(sum(net.params[i]["weight"].size + net.params[i]["bias"].size for i in nc.linear_layers(net)))
    _back(np.ascontiguousarray(grad_out, dtype=np.float64), *ops, out)
    return out


def _row_source(net: Network, x: np.ndarray, anchor: Anchor | None) -> tuple:
    """The stacked rows (the bundle's, then the anchor's) as the streamed kernels read them:
    (sparse, raw bundle rows, standardise?, mean, scale, the anchor's first-layer input, CSR
    arrays, centring row). Dense rows stay the caller's array (standardised a block at a time
    in the kernels, never copied whole); rows sparse enough for `SparseRows` (the test `Rows`
    makes, on the same counts) are held in compressed form, as the whole-array path holds them."""
    first = nc.linear_layers(net)[0]
    std = net.kinds[:first] == ["standardize"]
    d = net.params[first]["weight"].shape[1]
    ax = anchor.x if anchor is not None else np.zeros((0, d))
    if std and SparseRows.worthwhile(x, ax):
        sp = SparseRows.standardized(np.concatenate([x, ax]) if anchor is not None else x,
                                     net.params[0]["mean"], net.params[0]["scale"])
        return (True, _NO_ROWS, False, _NO_DATA, _NO_DATA, _NO_ROWS, sp.indptr, sp.indices, sp.data, sp.c)
    mean, scale = (net.params[0]["mean"], net.params[0]["scale"]) if std else (_NO_DATA, _NO_DATA)
    ah = np.ascontiguousarray(anchor.h, dtype=np.float64) if anchor is not None else np.zeros((0, d))
    return (False, np.ascontiguousarray(x, dtype=np.float64), std, mean, scale, ah, _NO_PTR, _NO_PTR, _NO_DATA,
            np.zeros(d))


def refit(net: Network, x: np.ndarray, y: np.ndarray, theta0: np.ndarray, curv: Curvature, *, steps: int,
          cg_iters: int, cg_tol: float, newton_tol: float, penalty: np.ndarray | None, anchor: Anchor | None,
          workspace: Callable[[int, int], tuple], c1: float = C1, halvings: int = HALVINGS,
          block: int | str | None = AUTO, z_store: str = AUTO) -> np.ndarray | None:
    """`network_refit`'s whole damped Gauss-Newton loop in one compiled call for a `one_hidden`
    network: the same steps, CG solves and Armijo trials (sufficient-decrease constant `c1`,
    at most `halvings` of them), so the same refit to rounding. None for any other network or
    without numba (the caller then runs the loop in Python). On breast_cancer the loop's own
    numpy calls (forward passes, losses, the line's quadratic) were a third of a quote
    (docs/decisions/2026-12-03-compiled-refit.md). The rows stream through it `block` rows at a
    time (`kernels._refit_rows`; `AUTO`, one block up to `WHOLE_ROWS` rows, which is the
    whole-array refit bit for bit, else `ROW_BLOCK`); `block=None` runs the whole-array kernel
    (`kernels._refit`), the reference the tests compare with, and so does `AUTO` (with `z_store`
    `AUTO`) up to `WHOLE_ROWS` rows: the same efficacies, 1.1-1.6x faster than one streamed block
    (docs/decisions/2026-12-07-whole-array-refit-small-releases.md). `z_store` says whether the
    first layer's output is kept between passes (`"keep"`, one [rows, hidden] array) or
    recomputed a block at a time (`"recompute"`, memory O(block)); `AUTO` is `z_store_for(rows)`."""
    shape = _shape(net)
    if shape is None:
        return None
    k = shape[3]
    if anchor is None:
        a = (False, np.zeros((0, k)), 0.0, _NO_DATA, _NO_DATA)
    else:
        a = (True, np.ascontiguousarray(anchor.target, dtype=np.float64), float(anchor.weight),
             anchor.theta0, anchor.decay)
    pen = np.zeros_like(theta0) if penalty is None else penalty
    ws = workspace(cg_iters, theta0.shape[0])
    yy = np.ascontiguousarray(y, dtype=np.int64)
    curv_ops = (curv.v, curv.vt, curv.ev, curv.g, curv.kinv, curv.d, curv.dinv, curv.d_live, curv.dinv_live, curv.idx)
    n_rows = x.shape[0] + (0 if anchor is None else anchor.x.shape[0])
    if block is None or (block == AUTO and z_store == AUTO and n_rows <= WHOLE_ROWS):
        rows = Rows(net, x, anchor)
        return _refit(theta0, int(steps), int(cg_iters), float(cg_tol), float(newton_tol), float(c1), int(halvings),
                      *ws, *shape, *_row_operands(rows.h), rows.m, yy, pen, penalty is not None, *a, *curv_ops)
    return _refit_rows(theta0, int(steps), int(cg_iters), float(cg_tol), float(newton_tol), float(c1), int(halvings),
                       *ws, _block(block, n_rows), _z(z_store, n_rows, shape[1]), *shape, *_row_source(net, x, anchor), x.shape[0], n_rows, yy, pen,
                       penalty is not None, *a, *curv_ops)


def _z(z_store: str, n_rows: int, hid: int) -> np.ndarray:
    """The refit's first-layer output store: `kernels._refit_rows` keeps z in it, or with no
    rows recomputes z a block at a time."""
    mode = z_store_for(n_rows) if z_store == AUTO else z_store
    if mode == "keep":
        return np.empty((n_rows, hid))
    if mode == "recompute":
        return np.empty((0, hid))
    raise ValueError(f"z_store must be 'keep', 'recompute' or {AUTO!r}, got {z_store!r}")


def z_store_for(n_rows: int) -> str:
    """How a refit of `n_rows` rows holds the first layer's output between passes: kept up to
    `WHOLE_ROWS` (one block: the whole-array refit bit for bit), recomputed per block above, so
    the refit's memory does not grow with the release (about 1.2x the CPU;
    docs/decisions/2026-12-07-million-row-memory.md). A function of the row count alone."""
    return "keep" if n_rows <= WHOLE_ROWS else "recompute"


def _block(block: int | str, n_rows: int) -> int:
    if block == AUTO:
        return stream_block(n_rows)
    if isinstance(block, bool) or not isinstance(block, (int, np.integer)) or block < 1:
        raise ValueError(f"block must be a positive number of rows or {AUTO!r}, got {block!r}")
    return int(block)


def probe_loss(net: Network, rows: Rows, theta: np.ndarray, y: np.ndarray, *,
               grad: bool) -> tuple[float, np.ndarray | None] | None:
    """(the mean log-loss of `rows` at theta, with `grad` its flat gradient) in one compiled call
    (`kernels._probe`), or None for a network that is not `one_hidden` (the caller's numpy
    path, `method._probe_loss`, then runs)."""
    shape = _shape(net)
    if shape is None:
        return None
    res = np.empty(theta.shape[0])
    loss = _probe(theta, *shape, *_row_operands(rows.h), np.ascontiguousarray(y, dtype=np.int64), grad, res)
    n = y.shape[0]
    return loss / n, (res / n if grad else None)


def record_scores(net: Network, x: np.ndarray, theta: np.ndarray, y: np.ndarray, s: np.ndarray, *,
                  block: int | str | None = AUTO) -> np.ndarray | None:
    """Each record's loss gradient at theta dotted with s, a block of `block` rows at a time
    (`kernels._scores_rows`; `block=None`: the whole-array `kernels._scores`, the same
    numbers), or None for a network that is not `one_hidden`."""
    shape = _shape(net)
    if shape is None:
        return None
    yy = np.ascontiguousarray(y, dtype=np.int64)
    if block is None:
        return _scores(theta, s, *shape, *_row_operands(Rows(net, x, None).h), yy)
    src = _row_source(net, x, None)
    return _scores_rows(theta, s, _block(block, x.shape[0]), *shape, *src[:5], *src[6:], yy)
