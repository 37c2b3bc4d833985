"""The demo's less-trusted sale, measured: how often does an epsilon-1 release price above 0 and below
the exact one for the startup's spec? (docs/decisions/2026-12-07-demo-epsilon-1.md)

Run: ``.venv/bin/python -m benchmarks.demo_epsilon [--draws 200] [--epsilon 1] [--budget 10 --budget 50:1e-8]``

Everything is the demo's own (`oracle.demo`): the 20,000 rides of rides-2026 (seed 2026), the pilot
rows, the startup's spec from `buyer_spec` (`pricing.build_spec` on the pilot rows), the offer's
release (`ml-laplace-rr` at ``--epsilon``, drawn by `privacy.draw_release` with OpenDP's samplers,
as the hub draws it: no seed) and its terms (the linear MDE curve, 1 ETH per nat, maxPrice 3 ETH).
Each draw is priced by `pricing.price`, the function the hub quotes with. ``--budget STEPS[:NEWTON_TOL]``
(repeatable) replaces the spec's refit budget (the demo's `REFIT_HYPER`: hyper.steps, hyper.newton_tol,
0 when left out) to compare budgets: every budget prices the same draws. No chain is needed. Prints, a
line per budget, the count of draws priced above 0 and below the exact release, the efficacy and
price ranges, the largest efficacy difference from the first budget's on the same draw and the
median time of one `price` call, and writes them to
``benchmarks/results/demo_epsilon.txt``.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

ETHER = 10**18
RESULTS = Path(__file__).resolve().parent / "results" / "demo_epsilon.txt"

__all__ = ["budget", "measure", "main"]


def _terms(max_price: int) -> dict[str, Any]:
    from oracle.demo import SLOPE

    return {"pricing": {"method": "feature-newton", "curve": {"kind": "linear", "slope": str(SLOPE)}},
            "maxPrice": str(max_price)}


def budget(text: str) -> dict[str, float]:
    """``STEPS[:NEWTON_TOL]`` as the spec's hyper-parameters (newton_tol 0, every step, when left out)."""
    steps, _, tol = text.partition(":")
    return {"steps": float(int(steps)), "newton_tol": float(tol or 0.0)}


def _label(hyper: Mapping[str, float]) -> str:
    tol = hyper.get("newton_tol", 0.0)
    steps = int(hyper["steps"])
    return f"{steps} Newton steps" if not tol else f"at most {steps} Newton steps, newton_tol {tol:g}"


def measure(draws: int, epsilon: str, budgets: Sequence[Mapping[str, float]] | None = None) -> list[dict[str, Any]]:
    """Price `draws` fresh releases of rides-2026 at `epsilon` with the startup's spec under each refit
    budget (default: the demo's REFIT_HYPER), every budget on the same draws; the figures, a dict each."""
    import oracle.demo as demo
    from pricing import parse_spec, price
    from privacy import Offer, PrivacyLedger
    from privacy.mechanisms.exact import release_exact
    from privacy.offers import draw_release

    hypers = [dict(b) for b in budgets] if budgets else [dict(demo.REFIT_HYPER)]
    pilot = demo.ride_data(demo.PILOT_ROWS, seed=1)
    specs = [parse_spec(demo.buyer_spec(1, pilot, hyper=h)) for h in hypers]
    schema = demo.ride_schema()
    data = demo.ride_data(demo.RIDE_ROWS, seed=2026)
    terms = _terms(3 * ETHER)
    exact_release = release_exact(data, schema).to_bytes()
    exact = [price(s, exact_release, terms) for s in specs]
    offer = Offer(price_rule={}, epsilon=epsilon, mechanism="ml-laplace-rr")
    effs: list[list[float]] = [[] for _ in specs]
    prices: list[list[int]] = [[] for _ in specs]
    times: list[list[float]] = [[] for _ in specs]
    t0 = time.perf_counter()
    for _ in range(draws):
        release = draw_release(offer, schema, data, ledger=PrivacyLedger(cap_milli=10**9, spent_milli=0)).to_bytes()
        for i, s in enumerate(specs):
            t = time.perf_counter()
            res = price(s, release, terms)
            times[i].append(time.perf_counter() - t)
            effs[i].append(res.efficacy)
            prices[i].append(res.price)
    seconds = time.perf_counter() - t0
    out = []
    first = np.array(effs[0])
    for h, ex, e_list, p, ts in zip(hypers, exact, effs, prices, times):
        e = np.array(e_list)
        out.append({"off_first": float(np.abs(e - first).max()), "epsilon": epsilon, "budget": _label(h),
                    "hyper": h, "draws": draws,
                    "exact_efficacy": ex.efficacy, "exact_price": ex.price,
                    "above_zero": int(sum(1 for x in p if x > 0)), "below_exact": int(sum(1 for x in p if x < ex.price)),
                    "both": int(sum(1 for x in p if 0 < x < ex.price)),
                    "efficacy": (float(e.min()), float(np.median(e)), float(e.max())), "price": (min(p), max(p)),
                    "quote_ms": 1000 * float(np.median(ts)), "quote_ms_max": 1000 * float(np.max(ts)),
                    "seconds": seconds})
    return out


def _report(r: dict[str, Any]) -> str:
    lo, med, hi = r["efficacy"]
    return (f"epsilon {r['epsilon']}, {r['budget']}, {r['draws']} draws: {r['both']} priced above 0 and "
            f"below the exact release ({r['above_zero']} above 0, {r['below_exact']} below exact); efficacy "
            f"{lo:.4f} / {med:.4f} / {hi:.4f} (min / median / max) against exact {r['exact_efficacy']:.4f}; price "
            f"{r['price'][0] / ETHER:.4f} to {r['price'][1] / ETHER:.4f} ETH against exact "
            f"{r['exact_price'] / ETHER:.4f} ETH; at most {r['off_first']:.2g} nats from the first budget's; "
            f"a quote {r['quote_ms']:.0f} ms median, {r['quote_ms_max']:.0f} ms max; "
            f"{r['seconds']:.0f} s for every budget (load {os.getloadavg()[0]:.1f})")


def main(argv: list[str] | None = None) -> None:
    """Entry point of `python -m benchmarks.demo_epsilon` (and `python -m benchmarks demo_epsilon`)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--draws", type=int, default=200)
    parser.add_argument("--epsilon", default="1")
    parser.add_argument("--budget", type=budget, action="append", default=None, metavar="STEPS[:NEWTON_TOL]",
                        help="a refit budget of the spec, repeatable, all on the same draws (default: the demo's)")
    parser.add_argument("--steps", type=int, default=None, help="shorthand for --budget STEPS (fixed steps, no stop)")
    args = parser.parse_args(argv if argv is not None else [])
    budgets = (args.budget or []) + ([budget(str(args.steps))] if args.steps is not None else [])
    lines = [_report(r) for r in measure(args.draws, args.epsilon, budgets or None)]
    print("\n".join(lines))
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y-%m-%d %H:%M UTC ", time.gmtime())
    with open(RESULTS, "a") as f:
        f.write("".join(stamp + line + "\n" for line in lines))


if __name__ == "__main__":
    main(sys.argv[1:])
