"""The demo's less-trusted sale, measured: how often does an epsilon-1 release price above 0 and below
the exact one for the startup's spec? (docs/decisions/2026-12-07-demo-epsilon-1.md)

Run: ``.venv/bin/python -m benchmarks.demo_epsilon [--draws 200] [--epsilon 1] [--steps 10]``

Everything is the demo's own (`oracle.demo`): the 20,000 rides of rides-2026 (seed 2026), the pilot
rows, the startup's spec from `buyer_spec` (`pricing.build_spec` on the pilot rows), the offer's
release (`ml-laplace-rr` at ``--epsilon``, drawn by `privacy.draw_release` with OpenDP's samplers,
as the hub draws it: no seed) and its terms (the linear MDE curve, 1 ETH per nat, maxPrice 3 ETH).
Each draw is priced by `pricing.price`, the function the hub quotes with. ``--steps`` overrides the
spec's Newton steps (REFIT_STEPS) to compare budgets. No chain is needed. Prints the count of draws
priced above 0 and below the exact release, the efficacy and price ranges, and writes them to
``benchmarks/results/demo_epsilon.txt``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ETHER = 10**18
RESULTS = Path(__file__).resolve().parent / "results" / "demo_epsilon.txt"

__all__ = ["measure", "main"]


def _terms(max_price: int) -> dict[str, Any]:
    from oracle.demo import SLOPE

    return {"pricing": {"method": "feature-newton", "curve": {"kind": "linear", "slope": str(SLOPE)}},
            "maxPrice": str(max_price)}


def measure(draws: int, epsilon: str, steps: int | None = None) -> dict[str, Any]:
    """Price `draws` fresh releases of rides-2026 at `epsilon` with the startup's spec; the figures."""
    import oracle.demo as demo
    from pricing import price
    from privacy import Offer, PrivacyLedger
    from privacy.mechanisms.exact import release_exact
    from privacy.offers import draw_release

    old = demo.REFIT_STEPS
    if steps is not None:
        demo.REFIT_STEPS = steps
    try:
        spec = demo.buyer_spec(1, demo.ride_data(demo.PILOT_ROWS, seed=1))
    finally:
        demo.REFIT_STEPS = old
    schema = demo.ride_schema()
    data = demo.ride_data(demo.RIDE_ROWS, seed=2026)
    terms = _terms(3 * ETHER)
    exact = price(spec, release_exact(data, schema).to_bytes(), terms)
    offer = Offer(price_rule={}, epsilon=epsilon, mechanism="ml-laplace-rr")
    effs, prices = [], []
    t0 = time.perf_counter()
    for _ in range(draws):
        release = draw_release(offer, schema, data, ledger=PrivacyLedger(cap_milli=10**9, spent_milli=0))
        res = price(spec, release.to_bytes(), terms)
        effs.append(res.efficacy)
        prices.append(res.price)
    e, p = np.array(effs), np.array(prices, dtype=object)
    return {"epsilon": epsilon, "steps": steps if steps is not None else old, "draws": draws,
            "exact_efficacy": exact.efficacy, "exact_price": exact.price,
            "above_zero": int(sum(1 for x in prices if x > 0)), "below_exact": int(sum(1 for x in prices if x < exact.price)),
            "both": int(sum(1 for x in prices if 0 < x < exact.price)),
            "efficacy": (float(e.min()), float(np.median(e)), float(e.max())), "price": (min(p), max(p)),
            "seconds": time.perf_counter() - t0}


def _report(r: dict[str, Any]) -> str:
    lo, med, hi = r["efficacy"]
    return (f"epsilon {r['epsilon']}, {r['steps']} Newton steps, {r['draws']} draws: {r['both']} priced above 0 and "
            f"below the exact release ({r['above_zero']} above 0, {r['below_exact']} below exact); efficacy "
            f"{lo:.4f} / {med:.4f} / {hi:.4f} (min / median / max) against exact {r['exact_efficacy']:.4f}; price "
            f"{r['price'][0] / ETHER:.4f} to {r['price'][1] / ETHER:.4f} ETH against exact "
            f"{r['exact_price'] / ETHER:.4f} ETH; {r['seconds']:.0f} s (load {os.getloadavg()[0]:.1f})")


def main(argv: list[str] | None = None) -> None:
    """Entry point of `python -m benchmarks.demo_epsilon` (and `python -m benchmarks demo_epsilon`)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--epsilon", default="1")
    parser.add_argument("--steps", type=int, default=None, help="Newton steps of the spec (default: the demo's)")
    args = parser.parse_args(argv if argv is not None else [])
    line = _report(measure(args.draws, args.epsilon, args.steps))
    print(line)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    with open(RESULTS, "a") as f:
        f.write(time.strftime("%Y-%m-%d %H:%M UTC ", time.gmtime()) + line + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
