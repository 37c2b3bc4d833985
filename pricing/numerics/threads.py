"""One BLAS thread while pricing, without rescanning the process on every quote."""

from __future__ import annotations

__all__ = ["one_thread"]

_CONTROLLER: list = []


def one_thread():
    """A context that pins BLAS / OpenMP to one thread, so summation orders never depend on
    the machine's thread count.

    `threadpool_limits(1)` scans the process's loaded libraries on every call (about 1.5 ms,
    as much as a whole breast_cancer quote); the scan is done once here, after numpy's and
    scipy's BLAS are loaded (pricing computes with nothing else)."""
    if not _CONTROLLER:
        import numpy  # noqa: F401
        import scipy.linalg  # noqa: F401  (loads scipy's own BLAS before the scan)
        from threadpoolctl import ThreadpoolController

        _CONTROLLER.append(ThreadpoolController())
    return _CONTROLLER[0].limit(limits=1)
