"""One BLAS thread while pricing: pinned inside, the caller's setting restored after."""

from __future__ import annotations

from threadpoolctl import threadpool_info, threadpool_limits

from pricing.numerics.threads import one_thread


def test_one_thread_pins_blas_and_restores():
    with threadpool_limits(limits=2):
        before = [i["num_threads"] for i in threadpool_info()]
        with one_thread():
            assert all(i["num_threads"] == 1 for i in threadpool_info() if i["user_api"] == "blas")
        assert [i["num_threads"] for i in threadpool_info()] == before
