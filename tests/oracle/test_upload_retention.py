"""Unauthenticated uploads are not kept for ever (the security review's B2): specs and terms that no
deal references are pruned once past the retention period, and the once-per-pair rule outlives them."""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from oracle.errors import Conflict
from oracle.pipeline import QuotePipeline
from oracle.service import accept_spec, accept_terms
from oracle.settings import SettingsError, load_settings
from oracle.store import DatasetRecord, Store, TermsRecord
from oracle.watcher import DEFAULT_RETENTION_SECONDS, Watcher
from tests.oracle.conftest import ETH

DS = "0x" + "11" * 32
BUYER = "0x" + "22" * 20
SCHEMA = {"features": [{"name": "x0", "kind": "float", "bounds": [0.0, 1.0]}],
          "label": {"name": "y", "kind": "categorical", "classes": 2}}


def _after(t: float) -> None:
    """Wait until the clock is past `t`, so uploads either side of a cutoff differ in time."""
    while time.time() <= t:
        time.sleep(0.0005)


_uploads = st.fixed_dictionaries({
    "specs": st.lists(st.booleans(), max_size=6),  # per spec: uploaded (last) after the cutoff?
    "terms": st.lists(st.tuples(st.integers(-1, 5), st.booleans(), st.booleans()), max_size=8),
    #              per terms: the spec it names (-1 none), uploaded after the cutoff?, a deal opened on it?
    "evaluated": st.lists(st.integers(0, 5), max_size=3),  # specs a deal's draw marked evaluated
})


@settings(max_examples=60, deadline=None)
@given(plan=_uploads)
def test_pruning_deletes_exactly_the_stale_uploads_nothing_references(plan) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        s = Store(Path(tmp) / "hub.sqlite")
        s.add_dataset(DatasetRecord(DS, "census", SCHEMA, 10, 5000), b"raw")
        specs = [f"0x{i:064x}" for i in range(len(plan["specs"]))]
        terms = [(f"0x{i + 100:064x}", specs[j] if 0 <= j < len(specs) else None, fresh, dealt)
                 for i, (j, fresh, dealt) in enumerate(plan["terms"])]
        evaluated = sorted({specs[j] for j in plan["evaluated"] if j < len(specs)})

        def upload(fresh: bool) -> None:
            for h, f in zip(specs, plan["specs"]):
                if f == fresh:
                    s.put_spec(h, b"bundle " + h.encode())
            for th, sh, f, _ in terms:
                if f == fresh:
                    s.put_terms(TermsRecord(th, th.encode(), BUYER, DS, "offer", sh))

        upload(False)
        for h in specs:  # a spec uploaded late counts from its last upload: first uploaded early too
            s.put_spec(h, b"bundle " + h.encode())
        _after(time.time())
        cutoff = time.time()
        _after(cutoff)
        upload(True)
        deal = 0
        for th, _, _, dealt in terms:
            if dealt:
                deal += 1
                s.record_deal_opened(deal, buyer=BUYER, terms_hash=th, dataset_id=DS, token=ETH, max_price=1,
                                     quote_fee=0, block=1)
        for h in evaluated:
            deal += 1
            s.record_deal_opened(deal, buyer=BUYER, terms_hash="0x" + "ee" * 32, dataset_id=DS, token=ETH,
                                 max_price=1, quote_fee=0, block=1)
            s.record_release_drawn(deal, dataset_id=DS, spec_hash=h, counted_milli=1000,
                                   release_path=s.deal_dir(deal) / "release.safetensors", release_hash="00")

        pruned_specs, pruned_terms = s.prune_uploads(cutoff)

        kept_terms = {th for th, _, fresh, dealt in terms if fresh or dealt}
        for th, _, _, _ in terms:
            assert (s.get_terms(th) is not None) == (th in kept_terms), th
        needed = {sh for th, sh, _, _ in terms if th in kept_terms and sh} | set(evaluated)
        kept_specs = {h for h, fresh in zip(specs, plan["specs"]) if fresh} | needed
        for h in specs:
            assert (s.get_spec(h) is not None) == (h in kept_specs), h
        assert pruned_terms == len(terms) - len(kept_terms) and pruned_specs == len(specs) - len(kept_specs)
        for h in evaluated:  # the once-per-pair rule outlives any pruning
            assert s.spec_evaluated(h, DS)
        assert s.prune_uploads(cutoff) == (0, 0)  # idempotent
        s.close()


def _upload(hub, spec: bytes, **terms_kw) -> str:
    accept_spec(hub.ctx, spec)
    body, th = hub.terms("mde-dp", **terms_kw)
    accept_terms(hub.ctx, body)
    return th


def _watcher(hub, now: list[float], **kw) -> Watcher:
    pipe = QuotePipeline(hub.ctx, signer=hub.oracle, tokens=[ETH])
    return Watcher(hub.ctx, pipe, clock=lambda: now[0], **kw)


def test_the_watcher_prunes_stale_uploads_and_a_spec_used_once_stays_used(hub) -> None:
    now = [time.time()]
    w = _watcher(hub, now, prune_every=60)
    stale = _upload(hub, hub.spec, nonce="never opened")
    _, dealt_terms = hub.terms("fixed-dp")
    hub.deal("fixed-dp")  # terms a deal references
    w.step()  # quotes the deal; nothing is old enough to prune
    assert hub.store.get_terms(stale) is not None and hub.store.get_spec(hub.spec_hash) is not None
    _, evaluated_terms = hub.terms("mde-dp", nonce="evaluated")
    hub.deal("mde-dp", nonce="evaluated")
    now[0] += 61
    assert w.step().outcomes  # its draw marks the spec evaluated
    assert hub.store.spec_evaluated(hub.spec_hash, hub.datasets["census"])

    now[0] += DEFAULT_RETENTION_SECONDS + 1
    report = w.step()
    assert report.pruned is not None and report.pruned[1] >= 1
    assert hub.store.get_terms(stale) is None  # no deal, a day old: gone
    assert hub.store.get_terms(dealt_terms) is not None  # a deal's terms are kept
    assert hub.store.get_terms(evaluated_terms) is not None
    assert hub.store.get_spec(hub.spec_hash) is not None  # evaluated, and named by a deal's terms
    # the once-per-pair rule survives pruning: the same spec, uploaded again, is still refused
    accept_spec(hub.ctx, hub.spec)
    body, _ = hub.terms("mde-dp", nonce="again")
    with pytest.raises(Conflict, match="already evaluated"):
        accept_terms(hub.ctx, body)


def test_an_unreferenced_spec_and_terms_go_after_the_retention_and_a_new_upload_restarts_it(hub) -> None:
    from pricing import make_spec, parse_spec, spec_hash

    spec = parse_spec(hub.spec)
    other = make_spec({**spec.manifest, "seeds": {"finetune": 99}}, spec.tensors)
    th = _upload(hub, other, spec_hash=spec_hash(other))
    now = [time.time() + 3600]
    w = _watcher(hub, now, retention_seconds=7200, prune_every=0)
    w.step()
    assert hub.store.get_spec(spec_hash(other)) is not None and hub.store.get_terms(th) is not None
    now[0] += 7200
    _upload(hub, other, spec_hash=spec_hash(other))  # uploaded again: kept another retention period from now
    now[0] = time.time() + 7199
    w.step()
    assert hub.store.get_spec(spec_hash(other)) is not None and hub.store.get_terms(th) is not None
    now[0] += 2
    assert w.step().pruned == (1, 1)
    assert hub.store.get_spec(spec_hash(other)) is None and hub.store.get_terms(th) is None


def test_pruning_runs_at_most_every_prune_every_seconds(hub) -> None:
    now = [time.time()]
    w = _watcher(hub, now, prune_every=600)
    assert w.step().pruned == (0, 0)
    now[0] += 599
    assert w.step().pruned is None
    now[0] += 1
    assert w.step().pruned == (0, 0)


def test_the_retention_is_a_setting_of_24_hours_by_default(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("SPARTACUS_CONFIG_DIR", str(tmp_path / "cfg"))
    monkeypatch.delenv("SPARTACUS_SPEC_RETENTION_HOURS", raising=False)
    assert load_settings().spec_retention_hours == 24 == DEFAULT_RETENTION_SECONDS / 3600
    monkeypatch.setenv("SPARTACUS_SPEC_RETENTION_HOURS", "2.5")
    assert load_settings().spec_retention_hours == 2.5
    monkeypatch.setenv("SPARTACUS_SPEC_RETENTION_HOURS", "0")
    with pytest.raises(SettingsError, match="spec_retention_hours"):
        load_settings()


def test_stored_terms_stay_readable_json_after_a_second_upload(hub) -> None:
    """A second PUT refreshes the upload time only: the stored document is the first, byte for byte."""
    body, th = hub.terms("fixed-dp", nonce="twice")
    accept_terms(hub.ctx, body)
    accept_terms(hub.ctx, body)
    assert hub.store.get_terms(th).canonical == body and json.loads(body)["nonce"] == "twice"
