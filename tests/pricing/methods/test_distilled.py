"""Distilled proxy: seeded fine-tuning, clean data helps the probe loss, flipped labels hurt."""

from __future__ import annotations

import numpy as np

from pricing import parse_spec
from pricing.methods import get_method


def test_distilled_prefers_clean_to_flipped(clean_vs_flipped):
    clean, flipped = clean_vs_flipped("distilled", 80)
    assert clean > flipped and flipped < 0


def test_distilled_is_deterministic_and_leaves_the_spec_untouched(digits_small, digits_specs):
    ds = digits_small
    spec = parse_spec(digits_specs["distilled"])
    before = {k: v.copy() for k, v in spec.tensors.items()}
    pool = ds["pool"][:50]
    a = get_method("distilled").efficacy(spec, ds["x"][pool], ds["y"][pool])
    b = get_method("distilled").efficacy(spec, ds["x"][pool], ds["y"][pool])
    assert a.total == b.total and np.array_equal(a.scores, b.scores)
    assert all(np.array_equal(before[k], spec.tensors[k]) for k in before)
