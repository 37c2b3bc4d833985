"""`make bench`: run every benchmark in one go; each prints its figures beside its baseline.

`python -m benchmarks` runs them all; `python -m benchmarks gas delivery_throughput` runs
the named ones. A benchmark that fails is reported and the others still run; the exit
status is non-zero if any failed.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
import time
import traceback

ALL = ("gas", "delivery_throughput", "privacy_bench", "privacy_estimators", "privacy_throughput", "hub_quote_latency",
       "hub_download", "survey_scale", "pricing_scale", "sanitizer_tradeoff", "mde_validation", "mde_precision",
       "mde_outside")


def main(argv: list[str]) -> int:
    names = argv or [n for n in ALL if importlib.util.find_spec(f"benchmarks.{n}") is not None]
    failed = []
    for name in names:
        print(f"\n=== benchmarks.{name} ===", flush=True)
        start = time.perf_counter()
        try:
            module = importlib.import_module(f"benchmarks.{name}")
            module.main()
        except Exception:  # noqa: BLE001 - report and go on to the next benchmark
            traceback.print_exc()
            failed.append(name)
        print(f"=== benchmarks.{name}: {time.perf_counter() - start:.1f} s ===", flush=True)
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
