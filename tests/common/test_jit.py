"""The shared numba decorator: cached where it can be, compiled in memory where it cannot."""

from __future__ import annotations

import pytest

from common import jit as _jit


def test_jit_falls_back_to_memory_when_no_cache_location_is_writable(monkeypatch):
    assert _jit.COMPILED  # numba is a declared dependency
    calls = []
    real = _jit.numba.njit

    def njit(*args, **opts):
        if args:  # numba's own modules, imported on the first compile, decorate with njit(fn)
            return real(*args, **opts)
        calls.append(opts["cache"])
        if opts["cache"]:
            raise RuntimeError("cannot cache function 'f': no locator available for file '/ro/f.py'")
        return real(**opts)

    monkeypatch.setattr(_jit.numba, "njit", njit)
    with pytest.warns(RuntimeWarning, match="NUMBA_CACHE_DIR"):

        @_jit.jit()
        def f(x):
            return x + 1

    assert calls == [True, False] and f(1) == 2
