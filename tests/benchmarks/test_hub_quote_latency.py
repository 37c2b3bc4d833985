"""The hub quote-latency benchmark at a tiny size: repeats quote (each deal its own spec) and are reported."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.neural_network import MLPClassifier

from benchmarks import hub_quote_latency
from oracle.pipeline import STAGES
from pricing import parse_spec
from pricing.builders import build_spec


def test_two_repeats_each_quote_with_their_own_spec_and_are_reported_beside_the_median() -> None:
    figures = hub_quote_latency.run(rows=300, repeats=2)
    runs = figures["runs"]
    assert len(runs) == 2 and all(r["quoted_price"] > 0 for r in runs)
    assert runs[0]["spec_hash"] != runs[1]["spec_hash"]  # the second would be declined as already evaluated
    assert all(r["total"] >= sum(r[k] for k in STAGES) > 0 for r in runs)
    # on 300 records the epsilon-1 release is sometimes priced above 0 and quoted: the repeats quote
    # either way, since the decline's deal has a spec of its own
    assert figures["declined"]["action"] in ("declined", "quoted")
    text = hub_quote_latency.report(figures)
    assert "median of 2 run(s)" in text and f"epsilon {figures['decline_epsilon']}" in text
    per_repeat = [line for line in text.splitlines() if line.lstrip().startswith("#")]
    assert [line.split()[0] for line in per_repeat] == ["#1", "#2"]
    assert float(per_repeat[1].split()[1]) == pytest.approx(runs[1]["total"] * 1000, abs=0.05)


def test_zero_repeats_is_refused_before_any_setup() -> None:
    with pytest.raises(ValueError, match=r"repeats \(0\) must be at least 1"):
        hub_quote_latency.run(rows=300, repeats=0)
    with pytest.raises(SystemExit) as e:  # the command line says so as a usage error
        hub_quote_latency.main(["--repeats", "0"])
    assert e.value.code == 2


@pytest.mark.parametrize("method", ["feature-newton", "group-influence"])
def test_another_seed_renames_the_spec_but_keeps_its_tensors(method: str) -> None:
    # what the benchmark's repeats rely on: the seed changes the hash, not the pricing work
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(80, 5)), rng.integers(0, 2, 80)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MLPClassifier((4,), max_iter=50, random_state=0).fit(x[:40], y[:40])
    a, b = (parse_spec(build_spec(method, model, x[:40], y[:40], x[40:], y[40:], classes=2, l2=1e-2, seed=s))
            for s in (1, 2))
    assert a.hash != b.hash
    assert a.tensors.keys() == b.tensors.keys()
    assert all(np.array_equal(a.tensors[k], b.tensors[k]) for k in a.tensors)
    assert a.manifest["seeds"] != b.manifest["seeds"]
    unseeded = [{k: v for k, v in s.manifest.items() if k != "seeds"} for s in (a, b)]
    assert unseeded[0] == unseeded[1]
