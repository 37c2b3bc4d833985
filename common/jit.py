"""The one numba decorator the project's compiled kernels use (pricing's, all in
`pricing.methods.network_newton.kernels`; the client's batched keccak): cached beside the
module's file when writable, else in numba's user-wide cache (``NUMBA_CACHE_DIR``, else
``~/.cache/numba``), else compiled in memory with a warning that names the fix. Without numba it
returns the plain function; callers that have a faster numpy path check `COMPILED` instead of
running the loops in Python. In `common` because both `pricing` and `client` use it.
"""

from __future__ import annotations

import warnings

try:
    import numba
except Exception:  # pragma: no cover - numba is a declared dependency
    numba = None

__all__ = ["jit", "COMPILED"]

#: True when numba is importable and `jit` compiles.
COMPILED: bool = numba is not None


def jit(**options):
    """``numba.njit(cache=True, nogil=True, **options)``, without the cache where none is writable."""

    def decorate(fn):
        if numba is None:  # pragma: no cover
            return fn
        try:
            return numba.njit(cache=True, nogil=True, **options)(fn)
        except RuntimeError as exc:  # "cannot cache function ...: no locator available"
            warnings.warn(
                f"numba cannot cache {fn.__name__} ({exc}); compiling in memory. "
                "Set NUMBA_CACHE_DIR to a writable directory to keep compiled kernels.",
                RuntimeWarning,
                stacklevel=2,
            )
            return numba.njit(cache=False, nogil=True, **options)(fn)

    return decorate
