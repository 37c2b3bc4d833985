"""price(): deterministic replay, duplicates priced once (`dedup_index`), a warm spec cache that
prices as the bytes do, terms checked against the spec."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from threadpoolctl import threadpool_limits

from benchmarks.mde_validation import perturbed  # the benchmark's replay stand-in, one definition
from pricing import SchemaMismatch, TermsError, make_spec, parse_spec, price, write_release
from pricing.price import dedup_index

METHODS = ("influence", "group-influence", "feature-newton", "tree", "distilled", "network-newton", "network-anchored")
PRICED_AS = {"network-anchored": "network-newton"}  # a spec label -> the method its terms name


def _terms(terms, label: str) -> dict:
    return terms(PRICED_AS.get(label, label))


@pytest.mark.parametrize("method", METHODS)
def test_price_is_bit_identical_across_runs_and_thread_counts(method, digits_small, digits_specs, release_of, terms):
    ds = digits_small
    pool = ds["pool"][:70]
    release = release_of(ds["x"][pool], ds["y"][pool], 3)
    results = []
    for threads in (1, 2, 1):
        with threadpool_limits(limits=threads):
            import torch
            torch.set_num_threads(threads)
            results.append(price(digits_specs[method], release, _terms(terms, method)))
    a = results[0]
    for b in results[1:]:
        assert b.price == a.price and b.efficacy == a.efficacy
        assert b.scores.tobytes() == a.scores.tobytes()
    assert a.method == PRICED_AS.get(method, method) and a.spec_hash == parse_spec(digits_specs[method]).hash


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), size=st.integers(1, 40), method=st.sampled_from(METHODS))
def test_price_replays_any_release_exactly(digits_small, digits_specs, release_of, terms, seed, size, method):
    ds = digits_small
    rng = np.random.default_rng(seed)
    pick = rng.choice(ds["pool"], size=size)
    labels = np.where(rng.random(size) < 0.3, rng.integers(0, 3, size), ds["y"][pick])
    release = release_of(ds["x"][pick] + rng.normal(scale=0.1, size=(size, ds["x"].shape[1])), labels, 3)
    a = price(digits_specs[method], release, _terms(terms, method))
    b = price(bytes(digits_specs[method]), bytes(release), dict(_terms(terms, method)))
    c = price(parse_spec(digits_specs[method]), release, _terms(terms, method))  # parsed once, at upload
    assert (a.price, a.efficacy, a.scores.tobytes()) == (b.price, b.efficacy, b.scores.tobytes())
    assert (a.price, a.efficacy, a.scores.tobytes(), a.spec_hash) == (c.price, c.efficacy, c.scores.tobytes(), c.spec_hash)
    assert 0 <= a.price <= 1_000_000


def _copies(spec_bytes: bytes, copies: str) -> bytes:
    """The same spec with `dedup.copies` set to `copies`."""
    spec = parse_spec(spec_bytes)
    return make_spec({**spec.manifest, "dedup": {**spec.manifest["dedup"], "copies": copies}}, spec.tensors)


@pytest.mark.parametrize("method", METHODS)
def test_ten_copies_never_price_above_one_copy(method, digits_small, digits_specs, release_of, terms):
    """'lower' (the default): ten copies price at the lower of one copy and the ten as delivered,
    each evaluated by the method alone; 'drop': exactly as one copy, the copies scored 0."""
    from pricing import get_method

    ds = digits_small
    pool = ds["pool"][:30]
    x, y = ds["x"][pool], ds["y"][pool]
    x10, y10 = np.tile(x, (10, 1)), np.tile(y, 10)
    spec = parse_spec(digits_specs[method])
    assert spec.copies == "lower"
    one = price(spec, release_of(x, y, 3), _terms(terms, method))
    ten = price(spec, release_of(x10, y10, 3), _terms(terms, method))
    delivered = get_method(spec.method).efficacy(spec, x10, y10)
    assert ten.unique_records == one.unique_records == 30
    assert ten.efficacy == min(one.efficacy, delivered.total) and ten.price <= one.price
    if delivered.total < one.efficacy:  # priced as delivered: every row carries its own score
        assert ten.scores.tobytes() == np.asarray(delivered.scores, np.float64).tobytes()
    else:
        assert ten.scores[:30].tobytes() == one.scores.tobytes() and np.count_nonzero(ten.scores[30:]) == 0
    drop = parse_spec(_copies(digits_specs[method], "drop"))
    ten_drop = price(drop, release_of(x10, y10, 3), _terms(terms, method))
    assert ten_drop.price == one.price and ten_drop.efficacy == one.efficacy
    assert np.count_nonzero(ten_drop.scores[30:]) == 0


def test_copies_that_hurt_the_model_as_delivered_lower_the_price(digits_small, digits_specs, release_of, terms):
    """Influence adds copies linearly, so a harmful bundle's ten copies are ten times as harmful
    as delivered: 'lower' takes that efficacy, 'drop' the one copy's."""
    ds = digits_small
    pool = ds["pool"][:30]
    x, y = np.tile(ds["x"][pool], (10, 1)), np.tile((ds["y"][pool] + 1) % 3, 10)
    low = price(digits_specs["influence"], release_of(x, y, 3), terms("influence"))
    drop = price(_copies(digits_specs["influence"], "drop"), release_of(x, y, 3), terms("influence"))
    assert drop.efficacy < 0 and low.efficacy == pytest.approx(10 * drop.efficacy, rel=1e-9)
    assert np.count_nonzero(low.scores) == 300 and np.count_nonzero(drop.scores[30:]) == 0


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), size=st.integers(1, 25), method=st.sampled_from(METHODS))
def test_copies_never_raise_a_price(digits_small, digits_specs, release_of, terms, seed, size, method):
    """Any release with any records repeated any number of times prices at most as its distinct
    records, under 'lower' and 'drop' alike, and exactly as them under 'drop'."""
    ds = digits_small
    rng = np.random.default_rng(seed)
    pick = rng.choice(ds["pool"], size=size, replace=False)
    labels = np.where(rng.random(size) < 0.3, rng.integers(0, 3, size), ds["y"][pick])
    rows = rng.permutation(np.concatenate([np.arange(size), rng.integers(0, size, rng.integers(1, 3 * size + 1))]))
    first = np.sort(np.unique(rows, return_index=True)[1])  # each record's first row, in release order
    x, y = ds["x"][pick][rows], labels[rows]
    for copies in ("lower", "drop"):
        spec = parse_spec(_copies(digits_specs[method], copies))
        distinct = price(spec, release_of(x[first], y[first], 3), _terms(terms, method))
        with_copies = price(spec, release_of(x, y, 3), _terms(terms, method))
        assert with_copies.unique_records == distinct.unique_records == size
        assert with_copies.price <= distinct.price and with_copies.efficacy <= distinct.efficacy
        if copies == "drop":
            assert with_copies.efficacy == distinct.efficacy and with_copies.price == distinct.price


def test_price_flipped_labels_is_no_deal(digits_small, digits_specs, release_of, terms):
    ds = digits_small
    pool = ds["pool"][:60]
    res = price(digits_specs["feature-newton"], release_of(ds["x"][pool], (ds["y"][pool] + 1) % 3, 3),
                terms("feature-newton"))
    assert res.efficacy < 0 and res.price == 0


def test_price_rejects_terms_for_another_method(digits_small, digits_specs, release_of, terms):
    ds = digits_small
    rel = release_of(ds["x"][:5], ds["y"][:5], 3)
    with pytest.raises(TermsError, match="'influence'.*'tree'"):
        price(digits_specs["tree"], rel, terms("influence"))


def test_price_rejects_terms_naming_another_spec_hash(digits_small, digits_specs, release_of, terms):
    ds = digits_small
    rel = release_of(ds["x"][:5], ds["y"][:5], 3)
    t = {**terms("tree"), "specHash": "0x" + "00" * 32}
    with pytest.raises(TermsError, match="specHash"):
        price(digits_specs["tree"], rel, t)


def test_price_rejects_release_with_other_columns(digits_small, digits_specs, schema, terms):
    ds = digits_small
    s = schema(ds["x"].shape[1], 3)
    s["features"][0]["name"] = "pixel_zero"
    rel = write_release(ds["x"][:5], ds["y"][:5], s)
    with pytest.raises(SchemaMismatch, match="pixel_zero"):
        price(digits_specs["tree"], rel, terms("tree"))


@pytest.mark.parametrize("label", ["network-newton", "network-anchored"])
def test_network_newton_price_survives_a_rounding_change_of_the_spec(label, digits_small, digits_specs, release_of,
                                                                      terms):
    """Replay across machines: a buyer re-pricing on another BLAS gets the hub's efficacy to
    within rounding, not a different answer. Ten fixed releases (50 rows, 30% of the labels
    redrawn): plain CG moves the worst of them by 3.5e-6 here, conjugate directions by 3e-14."""
    ds = digits_small
    spec = parse_spec(digits_specs[label])
    for seed in range(10):
        rng = np.random.default_rng(seed)
        pick = rng.choice(ds["pool"], size=50, replace=False)
        labels = np.where(rng.random(50) < 0.3, rng.integers(0, 3, 50), ds["y"][pick])
        release = release_of(ds["x"][pick], labels, 3)
        a = price(spec, release, terms("network-newton"))
        b = price(perturbed(spec, seed=seed), release, terms("network-newton"))
        assert abs(a.efficacy - b.efficacy) <= 1e-9 * max(abs(a.efficacy), 1e-3), seed


def _reference_dedup(x, y, tol):
    key = x + 0.0
    if tol > 0:
        key = np.floor(key / tol + 0.5) + 0.0
    rows = np.concatenate([key, np.asarray(y, dtype=np.float64)[:, None]], axis=1)
    _, first = np.unique(rows, axis=0, return_index=True)
    return np.sort(first)


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), m=st.integers(1, 40), tol=st.sampled_from([0.0, 0.5]))
def test_dedup_index_matches_sorting_reference(seed, m, tol):
    rng = np.random.default_rng(seed)
    base = rng.integers(-2, 3, size=(max(1, m // 3), 3)).astype(np.float64)
    x = base[rng.integers(0, base.shape[0], size=m)] + rng.choice([0.0, 0.2, 1e-9], size=(m, 3))
    x[x == 0] *= rng.choice([1.0, -1.0], size=int((x == 0).sum()))  # -0.0 equals 0.0
    y = rng.integers(0, 2, size=m)
    assert dedup_index(x, y, tol).tolist() == _reference_dedup(x, y, tol).tolist()


def test_dedup_index_treats_negative_zero_as_zero_and_labels_apart():
    x = np.array([[0.0, 1.0], [-0.0, 1.0], [0.0, 1.0]])
    assert dedup_index(x, np.array([0, 0, 1])).tolist() == [0, 2]


@pytest.mark.parametrize("method", ["feature-newton", "influence", "distilled", "network-newton"])
def test_parsed_spec_with_warm_cache_prices_bit_for_bit_as_bytes(method, digits_small, digits_specs, release_of, terms):
    ds = digits_small
    spec = parse_spec(digits_specs[method])
    releases = [release_of(ds["x"][ds["pool"][i:i + 30]], ds["y"][ds["pool"][i:i + 30]], 3) for i in (0, 30)]
    with threadpool_limits(limits=2):  # a cache warmed on two threads must not differ
        warm = [price(spec, r, terms(method)) for r in releases]
    cold = [price(digits_specs[method], r, terms(method)) for r in releases]
    again = [price(spec, r, terms(method)) for r in releases]
    for a, b, c in zip(warm, cold, again):
        assert a.efficacy == b.efficacy == c.efficacy and a.price == b.price == c.price
        assert a.scores.tobytes() == b.scores.tobytes() == c.scores.tobytes()
    if method == "feature-newton":
        assert "feature-newton" in spec.cache


def _dict_dedup(x, y, tol):
    """`dedup_index` as it was before the compiled hash table: a dict of each row's bytes."""
    key = np.asarray(x, dtype=np.float64) + 0.0
    if tol > 0:
        key = np.floor(key / tol + 0.5) + 0.0
    rows = np.ascontiguousarray(np.concatenate([key, np.asarray(y, dtype=np.float64)[:, None] + 0.0], axis=1))
    first: dict[bytes, int] = {}
    for i, row in enumerate(rows):
        first.setdefault(row.tobytes(), i)
    return np.fromiter(first.values(), dtype=np.int64, count=len(first))


@settings(max_examples=80, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), m=st.integers(0, 400), d=st.integers(1, 6), distinct=st.integers(1, 50),
       tol=st.sampled_from([0.0, 1e-3, 0.5]), float_label=st.booleans())
def test_dedup_index_is_the_dict_of_row_bytes(seed, m, d, distinct, tol, float_label):
    """The compiled hash table groups exactly as the dict of row bytes it replaced: many copies,
    signed zeros, labels that alone tell rows apart, values a grid step apart, and enough rows
    that table slots collide and are probed."""
    rng = np.random.default_rng(seed)
    base = rng.normal(size=(distinct, d)) * rng.choice([1e-4, 1.0, 1e6])
    base[rng.random(base.shape) < 0.2] = 0.0
    x = base[rng.integers(0, distinct, size=m)]
    x[x == 0] *= rng.choice([1.0, -1.0], size=int((x == 0).sum()))
    x += rng.choice([0.0, 0.0, 1e-4], size=x.shape)
    y = rng.integers(0, 3, size=m)
    if float_label:
        y = y.astype(np.float64) * 0.5
    got = dedup_index(x, y, tol)
    assert got.dtype == np.int64
    assert got.tolist() == _dict_dedup(x, y, tol).tolist()


def _old_efficacy_of(spec, x, y):
    """`efficacy_of` as it was: the dict's groups, a copy of the distinct rows, and network-newton's
    whole-array kernels (`block=None`)."""
    from pricing.methods.network_newton import NetworkNewton
    from pricing.numerics.threads import one_thread

    method = NetworkNewton(block=None)
    keep = _dict_dedup(x, y, spec.dedup_tol)
    with one_thread():
        eff = method.efficacy(spec, x[keep], y[keep])
        scores = np.zeros(x.shape[0])
        scores[keep] = eff.scores
        total = eff.total
        if keep.shape[0] < x.shape[0] and spec.copies == "lower":
            delivered = method.efficacy(spec, x, y)
            if delivered.total < total:
                total, scores = delivered.total, np.asarray(delivered.scores, dtype=np.float64)
    return total, scores, int(keep.shape[0])


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(seed=st.integers(0, 2**32 - 1), size=st.integers(1, 60), copies=st.integers(0, 30),
       label=st.sampled_from(["network-newton", "network-anchored"]), block=st.integers(1, 50),
       z_store=st.sampled_from(["keep", "recompute"]))
def test_streamed_pricing_is_the_whole_array_pricing(digits_small, digits_specs, monkeypatch, seed, size, copies,
                                                     label, block, z_store):
    """Releases with duplicates priced by today's path (hash-table groups, no copy of a release
    without duplicates, network-newton streamed over blocks of rows) and by the path before it:
    the same groups and, up to `WHOLE_ROWS` rows, the same efficacy and scores bit for bit; with
    every pass streamed a few rows at a time, the first layer's output kept between passes or
    recomputed a block at a time (`z_store`), the same to rounding (1e-9 of the efficacy)."""
    from pricing.methods.network_newton import compiled
    from pricing.price import efficacy_of

    ds = digits_small
    rng = np.random.default_rng(seed)
    pick = rng.choice(ds["pool"], size=size)
    x = ds["x"][pick] + rng.normal(scale=0.1, size=(size, ds["x"].shape[1]))
    y = np.where(rng.random(size) < 0.3, rng.integers(0, 3, size), ds["y"][pick])
    again = rng.integers(0, size, size=copies)
    x, y = np.concatenate([x, x[again]]), np.concatenate([y, y[again]])
    spec = parse_spec(digits_specs[label])
    want = _old_efficacy_of(spec, x, y)
    got = efficacy_of(spec, x, y)
    assert got[2] == want[2] and got[0] == want[0] and got[1].tobytes() == want[1].tobytes()
    with monkeypatch.context() as patched:  # undone before Hypothesis's next example
        patched.setattr(compiled, "stream_block", lambda n_rows: block)
        patched.setattr(compiled, "z_store_for", lambda n_rows: z_store)
        small = efficacy_of(parse_spec(digits_specs[label]), x, y)
    assert small[2] == want[2]
    assert abs(small[0] - want[0]) <= 1e-9 * max(abs(want[0]), 1e-3)
    np.testing.assert_allclose(small[1], want[1], rtol=0, atol=1e-9 * max(1.0, float(np.abs(want[1]).max())))


@pytest.mark.parametrize("method", METHODS)
def test_a_release_too_large_for_the_spec_is_refused_naming_its_largest_value(method, digits_small, digits_specs,
                                                                              release_of, terms):
    """A release of finite values near float64's limit (an exact release of raw data nobody clamped)
    overflows the methods' arithmetic: the refusal names the value and the fix, where it used to
    blame the spec. The tree only compares values with its thresholds, so it still prices them."""
    from pricing import NonFiniteEfficacy

    x = np.full((20, digits_small["x"].shape[1]), 1e308)
    x[::2] *= -1
    release = release_of(x, digits_small["y"][digits_small["pool"][:20]], 3)
    if method == "tree":
        res = price(digits_specs[method], release, _terms(terms, method))
        assert np.isfinite(res.efficacy) and res.price >= 0
        return
    with pytest.raises(NonFiniteEfficacy, match=r"largest \|feature\| is 1e\+308.*clamp the release") as err:
        price(digits_specs[method], release, _terms(terms, method))
    assert err.value.method == PRICED_AS.get(method, method) and err.value.largest == 1e308
