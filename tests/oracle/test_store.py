"""The store: migrations, round trips, the once-per-pair mark in the quote's transaction, offers_for."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

from oracle.store import (MIGRATIONS, DatasetRecord, OfferRecord, Store, StoreError, TermsRecord,
                          write_durable)

DS = "0x" + "11" * 32
SCHEMA = {"features": [{"name": "x0", "kind": "float", "bounds": [0.0, 1.0]}],
          "label": {"name": "y", "kind": "categorical", "classes": 2}}


def _store(tmp: Path) -> Store:
    s = Store(tmp / "hub.sqlite")
    s.add_dataset(DatasetRecord(DS, "census", SCHEMA, 10, 5000), b"raw-bytes")
    return s


def _offer(oid: str, buyer: str | None) -> OfferRecord:
    return OfferRecord(oid, DS, buyer, {"epsilon": "1", "mechanism": {"name": "ml-laplace-rr"}},
                       {"method": "fixed", "price": "100"}, ("0x" + "00" * 20,), 5)


def _prepare(s: Store, tmp: Path, deal_id: int, spec: str | None, commit: bytes = b"\x03" * 32) -> None:
    d = s.deal_dir(deal_id)
    paths = [d / "release.safetensors", d / "cipher", d / "leaves"]
    for p in paths:
        write_durable(p, b"x")
    s.record_quote_prepared(deal_id, spec_hash=spec, dataset_id=DS, price=7, epsilon_milli=1000, key=b"\x09" * 32,
                            data_root=b"\x01" * 32, cipher_root=b"\x02" * 32, key_commit=commit, size=1, n=1,
                            release_path=paths[0], cipher_path=paths[1], leaves_path=paths[2])


def test_migrations_set_user_version_and_reopen_keeps_data(tmp_path: Path) -> None:
    s = _store(tmp_path)
    assert s.schema_version == len(MIGRATIONS)
    s.close()
    s2 = Store(tmp_path / "hub.sqlite")
    assert s2.get_dataset(DS.upper().replace("0X", "0x")) == DatasetRecord(DS, "census", SCHEMA, 10, 5000)
    assert s2.raw_data(DS) == b"raw-bytes"
    mode = sqlite3.connect(tmp_path / "hub.sqlite").execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "hub.sqlite")
    db.execute(f"PRAGMA user_version = {len(MIGRATIONS) + 1}")
    db.close()
    with pytest.raises(StoreError, match="newer than this hub"):
        Store(tmp_path / "hub.sqlite")


def test_raw_data_of_unknown_dataset_is_a_store_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="no dataset"):
        _store(tmp_path).raw_data("0x" + "22" * 32)


def test_specs_and_terms_are_idempotent(tmp_path: Path) -> None:
    s = _store(tmp_path)
    s.put_spec("0xAB", b"one")
    s.put_spec("0xab", b"two")
    assert s.get_spec("0xab") == b"one"
    t = TermsRecord("0x" + "cd" * 32, b"{}", "0xBuyer", DS, "o1", "0xab")
    s.put_terms(t)
    s.put_terms(TermsRecord(t.terms_hash, b"{other}", "x", DS, "o2", None))
    assert s.get_terms(t.terms_hash) == t
    assert s.get_terms("0x" + "00" * 32) is None


def test_quote_prepared_marks_spec_evaluated_in_the_same_transaction(tmp_path: Path) -> None:
    s = _store(tmp_path)
    s.record_deal_opened(1, buyer="0xB", terms_hash="0x" + "aa" * 32, dataset_id=DS, token="0x0", max_price=10,
                         quote_fee=1, block=3)
    assert not s.spec_evaluated("0xab", DS)
    _prepare(s, tmp_path, 1, "0xab")
    assert s.spec_evaluated("0xAB", DS)
    q = s.prepared_quote(1)
    assert q is not None and q.price == 7 and q.key_commit == b"\x03" * 32 and q.cipher_path.exists()
    assert s.deal_key(1) == b"\x09" * 32
    d = s.get_deal(1)
    assert d.phase == "Open" and d.n == 1 and d.cipher_path == q.cipher_path


def test_a_failed_quote_transaction_marks_nothing(tmp_path: Path) -> None:
    s = _store(tmp_path)
    for i in (1, 2):
        s.record_deal_opened(i, buyer="0xB", terms_hash=f"0x{i:064x}", dataset_id=DS, token="0x0", max_price=10,
                             quote_fee=1, block=3)
    _prepare(s, tmp_path, 1, "0xab")
    with pytest.raises(StoreError, match="already evaluated"):
        _prepare(s, tmp_path, 2, "0xab")
    assert s.prepared_quote(2) is None
    with pytest.raises(StoreError, match="never redraw"):
        _prepare(s, tmp_path, 1, "0xab", commit=b"\x04" * 32)
    assert s.prepared_quote(1).key_commit == b"\x03" * 32


def test_quote_for_unknown_deal_rolls_back_the_spec_mark(tmp_path: Path) -> None:
    s = _store(tmp_path)
    with pytest.raises(StoreError):
        _prepare(s, tmp_path, 9, "0xab")
    assert not s.spec_evaluated("0xab", DS)


def test_phases_reasons_and_counts(tmp_path: Path) -> None:
    s = _store(tmp_path)
    assert s.record_deal_opened(4, buyer="0xB", terms_hash="0x" + "aa" * 32, dataset_id=DS, token="0x0",
                                max_price=10, quote_fee=1, block=3)
    assert not s.record_deal_opened(4, buyer="0xC", terms_hash="0x" + "bb" * 32, dataset_id=DS, token="0x0",
                                    max_price=10, quote_fee=1, block=3)
    s.set_reason(4, "declined: no offer")
    s.set_phase(4, "Refunded")
    d = s.get_deal(4)
    assert (d.phase, d.reason, d.buyer) == ("Refunded", "declined: no offer", "0xB")
    assert s.deals_by_phase() == {"Refunded": 1}
    with pytest.raises(StoreError, match="phase"):
        s.set_phase(4, "Bogus")
    with pytest.raises(StoreError, match="no deal"):
        s.set_phase(5, "Open")
    s.set_timings(4, {"draw": 1.5})
    s.set_timings(4, {"post": 0.5})
    assert s.get_deal(4).timings == {"draw": 1.5, "post": 0.5}


def test_watcher_position_and_block_hashes(tmp_path: Path) -> None:
    s = _store(tmp_path)
    assert s.watcher_position() is None
    s.set_watcher_position(10, "0x10", seen={8: "0x08", 9: "0x09"})
    assert s.watcher_position() == (10, "0x10")
    assert s.block_hash(9) == "0x09"
    s.set_watcher_position(8, "0x08b")  # walked back after a reorg: hashes above are forgotten
    assert s.block_hash(9) is None and s.block_hash(8) == "0x08b"


def test_concurrent_writers_lose_nothing(tmp_path: Path) -> None:
    s = _store(tmp_path)

    def put(k: int) -> None:
        for j in range(20):
            s.put_spec(f"0x{k:02x}{j:02x}", b"b")

    threads = [threading.Thread(target=put, args=(k,)) for k in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(s.get_spec(f"0x{k:02x}{j:02x}") == b"b" for k in range(4) for j in range(20))


BUYERS = ["0x" + f"{i:02x}" * 20 for i in range(1, 5)]


@settings(max_examples=40)
@given(st.lists(st.tuples(st.sampled_from([None, *BUYERS]), st.booleans()), min_size=0, max_size=12),
       st.sampled_from(BUYERS))
def test_offers_for_is_exactly_the_buyers_and_the_defaults(tmp_path_factory, offers, who) -> None:
    s = Store(tmp_path_factory.mktemp("s") / "hub.sqlite")
    s.add_dataset(DatasetRecord(DS, "d", SCHEMA, 1, 1000), b"r")
    expected = set()
    for i, (buyer, upper) in enumerate(offers):
        stored = buyer.upper().replace("0X", "0x") if (buyer and upper) else buyer
        s.put_offer(_offer(f"o{i:02d}", stored))
        if buyer is None or buyer == who:
            expected.add(f"o{i:02d}")
    got = [o.offer_id for o in s.offers_for(who.upper().replace("0X", "0x"))]
    assert got == sorted(expected)
    assert len(s.list_offers()) == len(offers)


def test_two_writers_of_one_path_both_land_whole(tmp_path: Path, monkeypatch) -> None:
    """The interleaving is forced: writer A has written its temporary file and waits before the rename
    while writer B writes and renames the same path. With one shared temporary name B truncated A's
    file and moved it away, and A's rename raised FileNotFoundError."""
    import os
    import threading

    target = tmp_path / "deals" / "7" / "release.safetensors"
    real_replace = os.replace
    a_ready, b_done = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def replace(src, dst):
        if threading.current_thread().name == "writer-a":
            a_ready.set()
            assert b_done.wait(30)
        return real_replace(src, dst)

    monkeypatch.setattr(os, "replace", replace)

    def write(data: bytes) -> None:
        try:
            write_durable(target, data)
        except BaseException as err:  # noqa: BLE001 - reported below
            errors.append(err)

    a = threading.Thread(target=write, args=(b"A" * 5000,), name="writer-a")
    a.start()
    assert a_ready.wait(30)
    b = threading.Thread(target=write, args=(b"B" * 3000,), name="writer-b")
    b.start()
    b.join(30)
    b_done.set()
    a.join(30)
    assert errors == []
    assert target.read_bytes() == b"A" * 5000  # A renamed last: its whole file, not B's bytes over it
    assert [p.name for p in target.parent.iterdir()] == ["release.safetensors"]  # no temporary file left


def test_replacing_a_datasets_data_drops_the_sanitizers_fitted_on_the_old(tmp_path) -> None:
    """A sanitizer is kept per offer by a key of the dataset id and the release: new data under the
    same id would have kept a sanitizer fitted on the old rows."""
    from oracle.store import StoredSanitizer

    s = _store(tmp_path)
    other = "0x" + "22" * 32
    s.add_dataset(DatasetRecord(other, "other", SCHEMA, 10, 5000), b"other-bytes")
    s.put_offer(_offer("mine", None))
    s.put_offer(OfferRecord("theirs", other, None, {"epsilon": "1", "mechanism": {"name": "ml-laplace-rr"}},
                            {"method": "fixed", "price": "100"}, ("0x" + "00" * 20,), 5))
    for oid in ("mine", "theirs"):
        s.put_sanitizer(StoredSanitizer(oid, "0xkey", "0xhash", b"weights", "{}"))
    s.add_dataset(DatasetRecord(DS, "census", SCHEMA, 12, 4000), b"new-bytes")
    assert s.get_sanitizer("mine") is None and s.get_sanitizer("theirs") is not None
    assert s.get_dataset(DS).rows == 12 and s.raw_data(DS) == b"new-bytes"
