"""A survey of many one-person hubs on loopback against as many separate buys, on the embedded chain.

Run: ``.venv/bin/python -m benchmarks.survey_scale [--hubs 200] [--workers 8]``

What it measures:

* ``--hubs`` real hubs (`oracle.demo_hubs`: the FastAPI app under uvicorn on 127.0.0.1 in a
  thread each, its own SQLite store, its watcher stepped by one thread), each holding one person's
  trip length and offering it at a fixed price; one embedded chain behind one lock;
* the survey: `client.survey.survey` asks every hub through one `Buyer` with ``--workers``
  threads (each answer a whole deal: oracle check, terms, openDeal, quote, verified download,
  accept, reveal, decrypt and check, confirm), and combines the answers;
* the baseline: separate buys, one after the other, each by a fresh `Buyer` (new HTTP
  connections, new state directory), which is what a run of ``spartacus buy`` does once its
  interpreter is up; ``--baseline`` of them (default 20, on the first hubs) are timed and the cost
  of ``--hubs`` runs is their mean times ``--hubs`` (on a loaded 2-CPU machine 200 sequential buys
  take over half an hour; each costs the same, so the mean is the figure). The interpreter's
  start-up and imports, which each separate run pays on top, are measured once in a child process;
* wall time per answer and gas per answer (every transaction of each deal, from its receipts),
  printed with the ratios survey / baseline, and the machine's load average.

Each hub's dataset cap allows two sales, so the survey and the baseline buy from the same hubs.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ETHER = 10**18
RESULTS = Path(__file__).resolve().parent / "results" / "survey_scale.txt"


def _startup_seconds() -> float:
    """Wall time of a child interpreter importing what `spartacus buy` imports (best of 3)."""
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        subprocess.run([sys.executable, "-c", "import client.buyer, client.survey, client.chain, pricing, privacy"],
                       check=True, cwd=Path(__file__).resolve().parents[1])
        best = min(best, time.perf_counter() - t0)
    return best


def run(hubs: int = 200, workers: int = 8, baseline: int = 20, *, startup: bool = True) -> dict[str, float]:
    """Run the survey and the baseline over `hubs` one-person hubs; return the figures (`startup`:
    also time a child interpreter's start-up, else count it 0)."""
    from client.buyer import Buyer, Outcome
    from client.survey import Question, survey
    from oracle.demo import SURVEY_EPSILON, TRIP_BOUNDS, trip_lengths, _release
    from oracle.demo_hubs import Chain, Hub, HubFleet, deals_gas
    from privacy import Column, Schema
    from tqdm import tqdm

    root = Path(tempfile.mkdtemp(prefix="survey-scale-"))
    chain = Chain.start()
    schema = Schema(columns=(Column("trip_km", "float", bounds=TRIP_BOUNDS),))
    release = _release(SURVEY_EPSILON, "table")
    fixed = {"method": "fixed", "price": str(ETHER // 1000)}
    milli = int(float(SURVEY_EPSILON) * 1000)
    t0 = time.perf_counter()
    people = []
    for i, v in enumerate(tqdm(trip_lengths(hubs, seed=7), total=hubs, desc="hubs", unit="hub")):
        person = chain.account(f"person-{i}", ether=1)
        hub = Hub.create(chain, f"person-{i}", root / "hubs", seller=person, oracle=person)
        hub.add_dataset("my-trip", schema, {"trip_km": np.array([v])}, cap_milli=2 * milli)
        hub.add_offer("trip", "my-trip", release, fixed, min_quote_fee=ETHER // 10_000)
        people.append(hub)
    # every hub is registered before any is served: the fleet's watcher loop would otherwise step
    # the growing fleet through each new hub's set-up blocks (quadratic set-up)
    fleet = HubFleet(people)
    with fleet:
        urls = [hub.url for hub in people]
        setup = time.perf_counter() - t0
        print(f"{hubs} hubs up in {setup:.1f} s", flush=True)

        buyer = Buyer(chain.ex, chain.account("bench/planner", ether=10), root / "planner", chain_lock=chain.lock,
                      poll_interval=0.5, wait_timeout=600)
        res = survey(buyer, urls, Question("trip_km"), limit=ETHER // 500, workers=workers)
        buyer.close()
        ids = [a.deal_id for a in res.answers if a.status == "answered"]
        s_gas = sum(deals_gas(chain, ids).values())
        print(f"survey: {len(ids)} answers in {res.seconds:.1f} s", flush=True)

        acct = chain.account("bench/one-by-one", ether=10)
        t1 = time.perf_counter()
        b_ids = []
        for i, url in enumerate(urls[:baseline]):
            one = Buyer(chain.ex, acct, root / "one-by-one" / str(i), chain_lock=chain.lock, poll_interval=0.5,
                        wait_timeout=600)
            r = one.buy(url, "trip", max_price=ETHER // 500)
            one.close()
            if r.outcome == Outcome.SETTLED:
                b_ids.append(int(r.deal_id))
        b_seconds = time.perf_counter() - t1
        b_gas = sum(deals_gas(chain, b_ids).values())
        print(f"baseline: {len(b_ids)} separate buys in {b_seconds:.1f} s", flush=True)
        b_seconds *= hubs / max(1, len(b_ids))  # the mean buy, times the hubs
        b_gas_total = b_gas * hubs / max(1, len(b_ids))
    shutil.rmtree(root, ignore_errors=True)
    startup_s = _startup_seconds() if startup else 0.0
    return {"hubs": hubs, "workers": workers, "setup_s": setup, "survey_s": res.seconds, "survey_answers": len(ids),
            "survey_gas": s_gas, "baseline_s": b_seconds, "baseline_answers": hubs, "baseline_gas": b_gas_total, "baseline_sample": len(b_ids),
            "startup_s": startup_s, "estimate": res.value, "ci_lo": res.ci[0], "ci_hi": res.ci[1],
            "truth": float(np.mean(np.clip(trip_lengths(hubs, seed=7), *TRIP_BOUNDS))),
            "load": os.getloadavg()[0]}


def report(f: dict[str, float]) -> str:
    """The figures as the text `make bench` prints and results/survey_scale.txt keeps."""
    s_per = f["survey_s"] / max(1, f["survey_answers"])
    b_per = f["baseline_s"] / max(1, f["baseline_answers"])
    s_gas = f["survey_gas"] / max(1, f["survey_answers"])
    b_gas = f["baseline_gas"] / max(1, f["baseline_answers"])
    with_startup = f["baseline_s"] + f["baseline_answers"] * f["startup_s"]
    return "\n".join([
        f"survey of {f['hubs']} one-person hubs on loopback (embedded chain, {f['workers']} workers), "
        f"load average {f['load']:.1f} on {os.cpu_count()} CPUs",
        f"  survey:   {f['survey_answers']} answers in {f['survey_s']:.1f} s = {s_per:.2f} s/answer, "
        f"{s_gas:,.0f} gas/answer; estimate {f['estimate']:.2f} km, 95% CI [{f['ci_lo']:.2f}, {f['ci_hi']:.2f}] "
        f"against the true mean {f['truth']:.2f} km ({'covered' if f['ci_lo'] <= f['truth'] <= f['ci_hi'] else 'NOT covered'})",
        f"  baseline: {f['baseline_answers']} separate buys (the mean of {f['baseline_sample']} timed, times "
        f"{f['hubs']}) in {f['baseline_s']:.1f} s = {b_per:.2f} s/answer, "
        f"{b_gas:,.0f} gas/answer; plus {f['startup_s']:.2f} s of interpreter start-up per `spartacus buy` run "
        f"({with_startup:.1f} s in all)",
        f"  ratios survey / baseline: wall time {s_per / b_per:.2f} "
        f"({f['survey_s'] / with_startup:.2f} with the baseline's start-ups), gas {s_gas / b_gas:.3f}",
        f"  (hub set-up, not in either figure: {f['setup_s']:.1f} s)",
    ])


def main(argv: list[str] | None = None) -> None:
    """Run with `make bench` or `python -m benchmarks.survey_scale`; prints and keeps the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hubs", type=int, default=200)
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--baseline", type=int, default=20, help="separate buys timed for the baseline")
    args = parser.parse_args(argv if argv is not None else [])
    text = report(run(args.hubs, args.workers, args.baseline))
    print(text)
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(text + "\n")


if __name__ == "__main__":
    main(sys.argv[1:])
