"""The hub's durable state in SQLite (WAL): the ONE module that runs queries, so a server database
can replace it by reimplementing this class.

Files (raw data, releases, ciphertexts, plain leaves) live under the database's directory and are
written with fsync before the row that names them is committed. The schema is versioned with
`PRAGMA user_version`: `MIGRATIONS[i]` takes a database from version i to i + 1. One connection is
shared by the API's threads and the watcher, behind a re-entrant lock (SQLite serialises writes
anyway; the lock keeps a multi-statement transaction whole)."""

from __future__ import annotations

import json
import os
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator

from client.atomic_file import atomic_write

__all__ = [
    "Store", "DatasetRecord", "OfferRecord", "TermsRecord", "DealRecord", "PreparedQuote", "StoreError",
    "MIGRATIONS", "PHASES", "StoredSanitizer", "DrawnRelease", "write_durable",
]

#: The contract's state names, the phases a deal record takes.
PHASES = ("None", "Open", "Quoted", "Accepted", "Revealed", "Settled", "Refunded")


class StoreError(Exception):
    """Raised when the store cannot do what was asked (a missing row, a newer schema, a conflict)."""


@dataclass(frozen=True)
class DatasetRecord:
    """A dataset the hub sells: id (0x + 64 hex), name, release schema (privacy.Schema as JSON dict),
    rows and the on-chain cap in milli-epsilon (EXACT = 2**32 - 1)."""

    dataset_id: str
    name: str
    schema: dict[str, Any]
    rows: int
    epsilon_cap_milli: int


@dataclass(frozen=True)
class OfferRecord:
    """A per-buyer (buyer = checksummed address) or default (buyer = None) offer; `release` and
    `pricing` are exactly the JSON objects the protocol's terms and GET /v1/offers carry."""

    offer_id: str
    dataset_id: str
    buyer: str | None
    release: dict[str, Any]
    pricing: dict[str, Any]
    tokens: tuple[str, ...]
    min_quote_fee: int

    def public(self) -> dict[str, Any]:
        """The offer as GET /v1/offers lists it."""
        return {"offerId": self.offer_id, "datasetId": self.dataset_id, "release": self.release,
                "pricing": self.pricing, "tokens": list(self.tokens), "minQuoteFee": str(self.min_quote_fee)}


@dataclass(frozen=True)
class TermsRecord:
    """Terms the hub accepted (PUT /v1/terms answered 201): the canonical bytes and their hash."""

    terms_hash: str
    canonical: bytes
    buyer: str
    dataset_id: str
    offer_id: str
    spec_hash: str | None


@dataclass(frozen=True)
class DealRecord:
    """What the hub knows of a deal. `phase` is the contract's state name ("Open", "Quoted", ...);
    a deal the hub declined is "Refunded" with the reason in `reason` (also kept while the decline
    is in flight, phase still "Open"); `cipher_path` / `leaves_path` exist once a quote is
    prepared. The key is never on this record: `Store.deal_key` is for the watcher only."""

    deal_id: int
    buyer: str
    terms_hash: str
    phase: str
    reason: str | None = None
    price: int | None = None
    epsilon_milli: int | None = None
    n: int | None = None
    cipher_path: Path | None = None
    leaves_path: Path | None = None
    size: int | None = None
    dataset_id: str | None = None
    token: str | None = None
    max_price: int | None = None
    quote_fee: int | None = None
    lost: bool = False
    timings: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class PreparedQuote:
    """A quote drawn, priced, encoded and stored but perhaps not yet posted: what a restart re-posts."""

    deal_id: int
    price: int
    epsilon_milli: int
    data_root: bytes
    cipher_root: bytes
    key_commit: bytes
    size: int
    release_path: Path
    cipher_path: Path
    leaves_path: Path


@dataclass(frozen=True)
class DrawnRelease:
    """The release drawn for a deal, kept (fsync'd) before anything prices it: every retry of the
    deal reuses it, so a deal draws at most once. `release_hash` is the file's sha256 hex."""

    deal_id: int
    dataset_id: str
    release_path: Path
    release_hash: str


@dataclass(frozen=True)
class StoredSanitizer:
    """The sanitizer fitted for a sanitized offer: safetensors `weights` bytes, its canonical JSON
    `config`, `weights_hash` (0x keccak-256 of the weights) and `fit_key`, the hash of what it was
    fitted for (dataset and release object): a different key means the offer changed, refit."""

    offer_id: str
    fit_key: str
    weights_hash: str
    weights: bytes
    config_json: str


MIGRATIONS: list[str] = [
    # 0 -> 1: everything the hub keeps
    """
    CREATE TABLE datasets (
        dataset_id TEXT PRIMARY KEY, name TEXT NOT NULL, schema_json TEXT NOT NULL,
        rows INTEGER NOT NULL, epsilon_cap_milli INTEGER NOT NULL, raw_path TEXT NOT NULL,
        created REAL NOT NULL);
    CREATE TABLE offers (
        offer_id TEXT PRIMARY KEY, dataset_id TEXT NOT NULL REFERENCES datasets(dataset_id),
        buyer TEXT, release_json TEXT NOT NULL, pricing_json TEXT NOT NULL, tokens_json TEXT NOT NULL,
        min_quote_fee TEXT NOT NULL, updated REAL NOT NULL);
    CREATE INDEX offers_by_buyer ON offers(buyer);
    CREATE TABLE specs (spec_hash TEXT PRIMARY KEY, data BLOB NOT NULL, created REAL NOT NULL);
    CREATE TABLE spec_evaluations (
        spec_hash TEXT NOT NULL, dataset_id TEXT NOT NULL, deal_id INTEGER NOT NULL,
        PRIMARY KEY (spec_hash, dataset_id));
    CREATE TABLE terms (
        terms_hash TEXT PRIMARY KEY, canonical BLOB NOT NULL, buyer TEXT NOT NULL,
        dataset_id TEXT NOT NULL, offer_id TEXT NOT NULL, spec_hash TEXT, created REAL NOT NULL);
    CREATE TABLE deals (
        deal_id INTEGER PRIMARY KEY, buyer TEXT NOT NULL, terms_hash TEXT NOT NULL,
        dataset_id TEXT, token TEXT, max_price TEXT, quote_fee TEXT, opened_block INTEGER,
        phase TEXT NOT NULL, reason TEXT, lost INTEGER NOT NULL DEFAULT 0,
        price TEXT, epsilon_milli INTEGER, size INTEGER, n INTEGER,
        data_root BLOB, cipher_root BLOB, key_commit BLOB, key BLOB,
        release_path TEXT, cipher_path TEXT, leaves_path TEXT,
        timings_json TEXT NOT NULL DEFAULT '{}', updated REAL NOT NULL);
    CREATE TABLE watcher (id INTEGER PRIMARY KEY CHECK (id = 1), block_number INTEGER NOT NULL,
        block_hash TEXT NOT NULL);
    CREATE TABLE blocks (number INTEGER PRIMARY KEY, hash TEXT NOT NULL);
    """,
    # 1 -> 2: the sanitizer fitted once per sanitized offer (weights are a few kB of safetensors)
    """
    CREATE TABLE sanitizers (
        offer_id TEXT PRIMARY KEY, fit_key TEXT NOT NULL, weights_hash TEXT NOT NULL,
        weights BLOB NOT NULL, config_json TEXT NOT NULL, created REAL NOT NULL);
    """,
    # 2 -> 3: DP draws the hub priced and then declined (price 0): the decline disclosed a bit of the
    # release, so its epsilon counts against the dataset's cap here, though the chain never saw it
    """
    CREATE TABLE declined_draws (
        deal_id INTEGER PRIMARY KEY, dataset_id TEXT NOT NULL, epsilon_milli INTEGER NOT NULL,
        created REAL NOT NULL);
    CREATE INDEX declined_draws_by_dataset ON declined_draws(dataset_id);
    """,
    # 3 -> 4: the release each deal drew, kept before pricing so a retry reuses it (one draw per deal);
    # upload times indexed, so unreferenced specs and terms past the retention period are pruned cheaply
    """
    CREATE TABLE drawn_releases (
        deal_id INTEGER PRIMARY KEY, dataset_id TEXT NOT NULL, release_path TEXT NOT NULL,
        release_hash TEXT NOT NULL, created REAL NOT NULL);
    CREATE INDEX specs_by_created ON specs(created);
    CREATE INDEX terms_by_created ON terms(created);
    """,
    # 4 -> 5: attempts to price each deal, counted before each one, so a deal whose pricing kills the
    # process is declined after MAX_ATTEMPTS restarts instead of being retried on every start for ever
    """
    ALTER TABLE deals ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0;
    """,
]

_KEEP_BLOCKS = 512  # block hashes kept for reorg detection: deeper reorgs than this are not survivable


def _mark_evaluated(db: sqlite3.Connection, spec_hash: str, dataset_id: str, deal_id: int) -> None:
    """Mark `spec_hash` evaluated against `dataset_id` by `deal_id` inside the caller's transaction;
    StoreError if another deal holds the mark (the once-per-pair rule)."""
    prev = db.execute("SELECT deal_id FROM spec_evaluations WHERE spec_hash = ? AND dataset_id = ?",
                      (spec_hash.lower(), dataset_id.lower())).fetchone()
    if prev is not None and int(prev[0]) != int(deal_id):
        raise StoreError(f"spec {spec_hash} was already evaluated against dataset {dataset_id} (deal {prev[0]})")
    db.execute("INSERT OR IGNORE INTO spec_evaluations VALUES (?,?,?)",
               (spec_hash.lower(), dataset_id.lower(), int(deal_id)))


def write_durable(path: Path, data: bytes) -> None:
    """Write `data` to `path` atomically and durably: `client.atomic_file.atomic_write` (a temporary
    file of its own, fsync, rename), then fsync the directory so the rename survives a crash."""
    atomic_write(path, data)
    fsync_dir(path.parent)


def fsync_file(path: Path) -> None:
    """fsync an already written file (e.g. one `client.delivery.encode_file` wrote), or a directory
    (`fsync_dir`): opened read-only, which POSIX allows for both."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """fsync a directory so a rename or a new file in it survives a power cut."""
    fsync_file(path)


def _canon(obj: Any) -> str:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


class Store:
    """Open (create, migrate) the hub's database at `path`; files (raw data, releases,
    ciphertexts) live under `path.parent`."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.data_dir = self.path.parent
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._lock = threading.RLock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=FULL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._migrate()

    # -- plumbing -------------------------------------------------------------------

    def _migrate(self) -> None:
        with self._lock:
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version > len(MIGRATIONS):
                raise StoreError(f"database {self.path} is at schema version {version}, newer than this hub "
                                 f"({len(MIGRATIONS)}): upgrade the hub")
            for i in range(version, len(MIGRATIONS)):
                self._db.execute("BEGIN IMMEDIATE")
                try:
                    for stmt in MIGRATIONS[i].split(";"):
                        if stmt.strip():
                            self._db.execute(stmt)
                    self._db.execute(f"PRAGMA user_version = {i + 1}")
                    self._db.execute("COMMIT")
                except BaseException:
                    self._db.execute("ROLLBACK")
                    raise

    @property
    def schema_version(self) -> int:
        """The database's `PRAGMA user_version` (the number of migrations applied)."""
        with self._lock:
            return int(self._db.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    def _one(self, sql: str, args: tuple = ()) -> tuple | None:
        with self._lock:
            return self._db.execute(sql, args).fetchone()

    def _all(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._db.execute(sql, args).fetchall()

    def close(self) -> None:
        """Close the connection (tests; a process that exits needs not)."""
        with self._lock:
            self._db.close()

    def deal_dir(self, deal_id: int) -> Path:
        """The directory holding deal `deal_id`'s release, ciphertext and plain leaves."""
        return self.data_dir / "deals" / str(int(deal_id))

    # -- datasets -------------------------------------------------------------------

    def add_dataset(self, record: DatasetRecord, raw: bytes) -> None:
        """Keep a dataset: the raw bytes as a durable file, then the row. It replaces a same-id
        dataset, and drops the sanitizers fitted on that one's data (its offers refit on the new)."""
        raw_path = self.data_dir / "raw" / f"{record.dataset_id.lower()}.bin"
        write_durable(raw_path, raw)
        with self._tx() as db:
            db.execute("DELETE FROM sanitizers WHERE offer_id IN (SELECT offer_id FROM offers WHERE dataset_id = ?)",
                       (record.dataset_id.lower(),))
            db.execute(
                "INSERT INTO datasets VALUES (?,?,?,?,?,?,?) ON CONFLICT(dataset_id) DO UPDATE SET "
                "name=excluded.name, schema_json=excluded.schema_json, rows=excluded.rows, "
                "epsilon_cap_milli=excluded.epsilon_cap_milli, raw_path=excluded.raw_path",
                (record.dataset_id.lower(), record.name, _canon(record.schema), int(record.rows),
                 int(record.epsilon_cap_milli), str(raw_path.relative_to(self.data_dir)), time.time()),
            )

    @staticmethod
    def _dataset(row: tuple) -> DatasetRecord:
        return DatasetRecord(row[0], row[1], json.loads(row[2]), int(row[3]), int(row[4]))

    def get_dataset(self, dataset_id: str) -> DatasetRecord | None:
        """The dataset `dataset_id` (0x-hex, any case), or None."""
        row = self._one("SELECT dataset_id, name, schema_json, rows, epsilon_cap_milli FROM datasets "
                        "WHERE dataset_id = ?", (dataset_id.lower(),))
        return None if row is None else self._dataset(row)

    def list_datasets(self) -> list[DatasetRecord]:
        """Every dataset, in id order."""
        return [self._dataset(r) for r in self._all(
            "SELECT dataset_id, name, schema_json, rows, epsilon_cap_milli FROM datasets ORDER BY dataset_id")]

    def set_dataset_cap(self, dataset_id: str, epsilon_cap_milli: int) -> None:
        """Record a lowered on-chain cap (registerDataset may only lower it)."""
        with self._tx() as db:
            db.execute("UPDATE datasets SET epsilon_cap_milli = ? WHERE dataset_id = ?",
                       (int(epsilon_cap_milli), dataset_id.lower()))

    def raw_data(self, dataset_id: str) -> bytes:
        """The raw data's bytes (hub-internal: never served). Raises StoreError for an unknown id."""
        row = self._one("SELECT raw_path FROM datasets WHERE dataset_id = ?", (dataset_id.lower(),))
        if row is None:
            raise StoreError(f"no dataset {dataset_id} at this hub: add it with `spartacus dataset add`")
        return (self.data_dir / row[0]).read_bytes()

    # -- offers ---------------------------------------------------------------------

    def put_offer(self, offer: OfferRecord) -> None:
        """Create or replace offer `offer.offer_id`."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO offers VALUES (?,?,?,?,?,?,?,?) ON CONFLICT(offer_id) DO UPDATE SET "
                "dataset_id=excluded.dataset_id, buyer=excluded.buyer, release_json=excluded.release_json, "
                "pricing_json=excluded.pricing_json, tokens_json=excluded.tokens_json, "
                "min_quote_fee=excluded.min_quote_fee, updated=excluded.updated",
                (offer.offer_id, offer.dataset_id.lower(), offer.buyer, _canon(offer.release),
                 _canon(offer.pricing), _canon(list(offer.tokens)), str(int(offer.min_quote_fee)), time.time()),
            )

    @staticmethod
    def _offer(row: tuple) -> OfferRecord:
        return OfferRecord(row[0], row[1], row[2], json.loads(row[3]), json.loads(row[4]),
                           tuple(json.loads(row[5])), int(row[6]))

    _OFFER_COLS = "offer_id, dataset_id, buyer, release_json, pricing_json, tokens_json, min_quote_fee"

    def get_offer(self, offer_id: str) -> OfferRecord | None:
        """Offer `offer_id`, or None."""
        row = self._one(f"SELECT {self._OFFER_COLS} FROM offers WHERE offer_id = ?", (offer_id,))
        return None if row is None else self._offer(row)

    def offers_for(self, buyer: str) -> list[OfferRecord]:
        """That buyer's offers plus the defaults (buyer compared case-insensitively), by offer id."""
        rows = self._all(f"SELECT {self._OFFER_COLS} FROM offers WHERE buyer IS NULL OR lower(buyer) = ? "
                         "ORDER BY offer_id", (buyer.lower(),))
        return [self._offer(r) for r in rows]

    def list_offers(self) -> list[OfferRecord]:
        """Every offer, per-buyer and default, by offer id."""
        return [self._offer(r) for r in self._all(f"SELECT {self._OFFER_COLS} FROM offers ORDER BY offer_id")]

    def delete_offer(self, offer_id: str) -> bool:
        """Withdraw an offer; True if it existed. Terms already accepted under it stay valid."""
        with self._tx() as db:
            db.execute("DELETE FROM sanitizers WHERE offer_id = ?", (offer_id,))
            return db.execute("DELETE FROM offers WHERE offer_id = ?", (offer_id,)).rowcount > 0

    # -- sanitizers -----------------------------------------------------------------

    def put_sanitizer(self, record: StoredSanitizer) -> None:
        """Keep (or replace) the sanitizer fitted for offer `record.offer_id`."""
        with self._tx() as db:
            db.execute(
                "INSERT INTO sanitizers VALUES (?,?,?,?,?,?) ON CONFLICT(offer_id) DO UPDATE SET "
                "fit_key=excluded.fit_key, weights_hash=excluded.weights_hash, weights=excluded.weights, "
                "config_json=excluded.config_json, created=excluded.created",
                (record.offer_id, record.fit_key, record.weights_hash, bytes(record.weights), record.config_json,
                 time.time()))

    def get_sanitizer(self, offer_id: str) -> StoredSanitizer | None:
        """The sanitizer kept for offer `offer_id`, or None."""
        row = self._one("SELECT offer_id, fit_key, weights_hash, weights, config_json FROM sanitizers "
                        "WHERE offer_id = ?", (offer_id,))
        return None if row is None else StoredSanitizer(row[0], row[1], row[2], bytes(row[3]), row[4])

    # -- specs ----------------------------------------------------------------------

    def put_spec(self, spec_hash: str, data: bytes) -> None:
        """Keep a spec bundle under its hash; a second upload changes only its upload time, from which
        `prune_uploads` counts the retention period."""
        with self._tx() as db:
            db.execute("INSERT INTO specs VALUES (?,?,?) ON CONFLICT(spec_hash) DO UPDATE SET created = excluded.created",
                       (spec_hash.lower(), bytes(data), time.time()))

    def get_spec(self, spec_hash: str) -> bytes | None:
        """The bundle of `spec_hash`, or None."""
        row = self._one("SELECT data FROM specs WHERE spec_hash = ?", (spec_hash.lower(),))
        return None if row is None else bytes(row[0])

    def spec_evaluated(self, spec_hash: str, dataset_id: str) -> bool:
        """True once a release of this dataset has been drawn for a deal with this spec (to be priced by
        it), or a quote with it prepared: the spec may not evaluate the dataset again."""
        return self.spec_evaluated_by(spec_hash, dataset_id) is not None

    def spec_evaluated_by(self, spec_hash: str, dataset_id: str) -> int | None:
        """The deal whose draw (or quote) marked this spec evaluated against this dataset, or None."""
        row = self._one("SELECT deal_id FROM spec_evaluations WHERE spec_hash = ? AND dataset_id = ?",
                        (spec_hash.lower(), dataset_id.lower()))
        return None if row is None else int(row[0])

    def deal_quoted_on(self, terms_hash: str) -> int | None:
        """The deal under `terms_hash` whose quote was prepared (and so posted, or re-posted after a
        crash), or None: the contract never reopens such terms (its rule 2)."""
        row = self._one("SELECT deal_id FROM deals WHERE terms_hash = ? AND key_commit IS NOT NULL LIMIT 1",
                        (terms_hash.lower(),))
        return None if row is None else int(row[0])

    # -- declined draws -------------------------------------------------------------

    def record_declined_draw(self, deal_id: int, dataset_id: str, epsilon_milli: int) -> None:
        """Count a deal's DP draw the chain does not charge (declined after it was drawn, or its quote
        never posted) against the dataset's cap at this hub (once per deal)."""
        with self._tx() as db:
            db.execute("INSERT OR IGNORE INTO declined_draws VALUES (?,?,?,?)",
                       (int(deal_id), dataset_id.lower(), int(epsilon_milli), time.time()))

    def uncount_draw(self, deal_id: int) -> None:
        """Stop counting a deal's draw at the hub once its quote is on chain: the chain charges it there."""
        with self._tx() as db:
            db.execute("DELETE FROM declined_draws WHERE deal_id = ?", (int(deal_id),))

    def declined_spent(self, dataset_id: str) -> int:
        """Milli-epsilon of the dataset's DP draws the chain has not charged (`record_declined_draw`):
        declined after the draw, or drawn and not yet quoted."""
        row = self._one("SELECT COALESCE(SUM(epsilon_milli), 0) FROM declined_draws WHERE dataset_id = ?",
                        (dataset_id.lower(),))
        return int(row[0]) if row else 0

    # -- terms ----------------------------------------------------------------------

    def put_terms(self, record: TermsRecord) -> None:
        """Keep accepted terms (idempotent on their hash; a second upload changes only the upload time
        from which `prune_uploads` counts the retention period)."""
        with self._tx() as db:
            db.execute("INSERT INTO terms VALUES (?,?,?,?,?,?,?) ON CONFLICT(terms_hash) DO UPDATE SET "
                       "created = excluded.created",
                       (record.terms_hash.lower(), bytes(record.canonical), record.buyer, record.dataset_id.lower(),
                        record.offer_id, record.spec_hash.lower() if record.spec_hash else None, time.time()))

    def prune_uploads(self, uploaded_before: float) -> tuple[int, int]:
        """Delete terms no deal references and specs no kept terms or evaluation references, uploaded
        (last) before `uploaded_before` (unix seconds): unauthenticated uploads must not fill the disk.
        `spec_evaluations` rows are never deleted (the once-per-pair rule outlives the bundle).
        Returns (specs deleted, terms deleted)."""
        cutoff = float(uploaded_before)
        with self._tx() as db:
            terms = db.execute("DELETE FROM terms WHERE created < ? AND terms_hash NOT IN "
                               "(SELECT terms_hash FROM deals)", (cutoff,)).rowcount
            specs = db.execute("DELETE FROM specs WHERE created < ? "
                               "AND spec_hash NOT IN (SELECT spec_hash FROM terms WHERE spec_hash IS NOT NULL) "
                               "AND spec_hash NOT IN (SELECT spec_hash FROM spec_evaluations)", (cutoff,)).rowcount
        return int(specs), int(terms)

    def get_terms(self, terms_hash: str) -> TermsRecord | None:
        """Accepted terms by hash, or None."""
        row = self._one("SELECT terms_hash, canonical, buyer, dataset_id, offer_id, spec_hash FROM terms "
                        "WHERE terms_hash = ?", (terms_hash.lower(),))
        return None if row is None else TermsRecord(row[0], bytes(row[1]), row[2], row[3], row[4], row[5])

    # -- deals ----------------------------------------------------------------------

    _DEAL_COLS = ("deal_id, buyer, terms_hash, phase, reason, price, epsilon_milli, n, cipher_path, leaves_path, "
                  "size, dataset_id, token, max_price, quote_fee, lost, timings_json")

    def _deal(self, row: tuple) -> DealRecord:
        def p(v: str | None) -> Path | None:
            return None if v is None else self.data_dir / v

        return DealRecord(
            deal_id=int(row[0]), buyer=row[1], terms_hash=row[2], phase=row[3], reason=row[4],
            price=None if row[5] is None else int(row[5]), epsilon_milli=row[6], n=row[7],
            cipher_path=p(row[8]), leaves_path=p(row[9]), size=row[10], dataset_id=row[11], token=row[12],
            max_price=None if row[13] is None else int(row[13]), quote_fee=None if row[14] is None else int(row[14]),
            lost=bool(row[15]), timings=json.loads(row[16]),
        )

    def get_deal(self, deal_id: int) -> DealRecord | None:
        """What the hub knows of deal `deal_id`, or None if it never saw it opened."""
        row = self._one(f"SELECT {self._DEAL_COLS} FROM deals WHERE deal_id = ?", (int(deal_id),))
        return None if row is None else self._deal(row)

    def list_deals(self) -> list[DealRecord]:
        """Every deal the hub saw, by id."""
        return [self._deal(r) for r in self._all(f"SELECT {self._DEAL_COLS} FROM deals ORDER BY deal_id")]

    def deals_by_phase(self) -> dict[str, int]:
        """How many deals are in each phase (for `hub status`)."""
        return {r[0]: int(r[1]) for r in self._all("SELECT phase, count(*) FROM deals GROUP BY phase ORDER BY phase")}

    def record_deal_opened(self, deal_id: int, *, buyer: str, terms_hash: str, dataset_id: str, token: str,
                           max_price: int, quote_fee: int, block: int) -> bool:
        """Remember a confirmed DealOpened (phase Open); False (and nothing changes) if already known."""
        with self._tx() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO deals (deal_id, buyer, terms_hash, dataset_id, token, max_price, quote_fee, "
                "opened_block, phase, updated) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (int(deal_id), buyer, terms_hash.lower(), dataset_id.lower(), token, str(int(max_price)),
                 str(int(quote_fee)), int(block), "Open", time.time()),
            )
            return cur.rowcount > 0

    def set_phase(self, deal_id: int, phase: str, *, reason: str | None = None, lost: bool | None = None) -> None:
        """Move a deal to `phase` (a contract state name); `reason` replaces the stored one when given."""
        if phase not in PHASES:
            raise StoreError(f"phase {phase!r} is not one of {PHASES}")
        with self._tx() as db:
            cur = db.execute(
                "UPDATE deals SET phase = ?, reason = COALESCE(?, reason), lost = COALESCE(?, lost), updated = ? "
                "WHERE deal_id = ?", (phase, reason, None if lost is None else int(lost), time.time(), int(deal_id)))
            if cur.rowcount == 0:
                raise StoreError(f"no deal {deal_id} in the store: record its DealOpened first")

    def set_reason(self, deal_id: int, reason: str) -> None:
        """Keep why the hub declines (or lost) a deal, before the on-chain call that follows."""
        with self._tx() as db:
            db.execute("UPDATE deals SET reason = ?, updated = ? WHERE deal_id = ?", (reason, time.time(), int(deal_id)))

    def begin_attempt(self, deal_id: int) -> int:
        """Count one more attempt to price deal `deal_id`, durably, before it starts; the count so far
        (1 for the first). A process killed while pricing has counted its attempt."""
        with self._tx() as db:
            db.execute("UPDATE deals SET attempts = attempts + 1 WHERE deal_id = ?", (int(deal_id),))
            row = db.execute("SELECT attempts FROM deals WHERE deal_id = ?", (int(deal_id),)).fetchone()
        if row is None:
            raise StoreError(f"no deal {deal_id} in the store: record its DealOpened first")
        return int(row[0])

    def set_timings(self, deal_id: int, timings: dict[str, float]) -> None:
        """Keep the pipeline's stage times (seconds) for a deal, merged into those already stored."""
        with self._tx() as db:
            row = db.execute("SELECT timings_json FROM deals WHERE deal_id = ?", (int(deal_id),)).fetchone()
            if row is None:
                raise StoreError(f"no deal {deal_id} in the store")
            merged = {**json.loads(row[0]), **{k: float(v) for k, v in timings.items()}}
            db.execute("UPDATE deals SET timings_json = ? WHERE deal_id = ?", (_canon(merged), int(deal_id)))

    def record_release_drawn(self, deal_id: int, *, dataset_id: str, spec_hash: str | None,
                             counted_milli: int | None, release_path: Path, release_hash: str) -> None:
        """In ONE transaction, after the release file is fsync'd: keep it as the deal's one draw, mark
        `spec_hash` evaluated against `dataset_id` by this deal, and count `counted_milli` (None for an
        exact release or dataset) against the dataset until the quote is prepared (`declined_spent`).

        Raises StoreError if the spec was already evaluated by another deal, or another release was
        drawn for this deal (never replace a draw)."""
        rel = str(Path(release_path).relative_to(self.data_dir))
        with self._tx() as db:
            if db.execute("SELECT 1 FROM deals WHERE deal_id = ?", (int(deal_id),)).fetchone() is None:
                raise StoreError(f"no deal {deal_id} in the store: record its DealOpened first")
            row = db.execute("SELECT release_hash FROM drawn_releases WHERE deal_id = ?", (int(deal_id),)).fetchone()
            if row is not None and row[0] != release_hash:
                raise StoreError(f"deal {deal_id} already drew a release; reuse it, never redraw")
            if spec_hash is not None:
                _mark_evaluated(db, spec_hash, dataset_id, deal_id)
            if counted_milli is not None:
                db.execute("INSERT OR IGNORE INTO declined_draws VALUES (?,?,?,?)",
                           (int(deal_id), dataset_id.lower(), int(counted_milli), time.time()))
            db.execute("INSERT OR IGNORE INTO drawn_releases VALUES (?,?,?,?,?)",
                       (int(deal_id), dataset_id.lower(), rel, release_hash, time.time()))

    def drawn_release(self, deal_id: int) -> DrawnRelease | None:
        """The release drawn for deal `deal_id` (`record_release_drawn`), or None if it drew none."""
        row = self._one("SELECT dataset_id, release_path, release_hash FROM drawn_releases WHERE deal_id = ?",
                        (int(deal_id),))
        return None if row is None else DrawnRelease(int(deal_id), row[0], self.data_dir / row[1], row[2])

    def record_quote_prepared(
        self, deal_id: int, *, spec_hash: str | None, dataset_id: str, price: int, epsilon_milli: int,
        key: bytes, data_root: bytes, cipher_root: bytes, key_commit: bytes, size: int, n: int,
        release_path: Path, cipher_path: Path, leaves_path: Path,
    ) -> None:
        """In ONE transaction: keep the deal's release/cipher/leaves paths, key and commitment, mark
        `spec_hash` evaluated against `dataset_id`, and stop counting the deal's draw at the hub (the
        chain charges it at postQuote; a post that fails counts it again). Call only after the three
        files are fsync'd.

        Raises StoreError if the spec is already marked evaluated for another deal (the once-per-pair
        rule) or a different quote is already prepared for this deal (never overwrite a commitment)."""
        rel = [str(Path(p).relative_to(self.data_dir)) for p in (release_path, cipher_path, leaves_path)]
        with self._tx() as db:
            row = db.execute("SELECT key_commit FROM deals WHERE deal_id = ?", (int(deal_id),)).fetchone()
            if row is None:
                raise StoreError(f"no deal {deal_id} in the store: record its DealOpened first")
            if row[0] is not None and bytes(row[0]) != key_commit:
                raise StoreError(f"deal {deal_id} already has a prepared quote; re-post it, never redraw")
            if spec_hash is not None:
                _mark_evaluated(db, spec_hash, dataset_id, deal_id)
            db.execute("DELETE FROM declined_draws WHERE deal_id = ?", (int(deal_id),))
            db.execute(
                "UPDATE deals SET price = ?, epsilon_milli = ?, key = ?, data_root = ?, cipher_root = ?, "
                "key_commit = ?, size = ?, n = ?, release_path = ?, cipher_path = ?, leaves_path = ?, updated = ? "
                "WHERE deal_id = ?",
                (str(int(price)), int(epsilon_milli), bytes(key), bytes(data_root), bytes(cipher_root),
                 bytes(key_commit), int(size), int(n), *rel, time.time(), int(deal_id)),
            )

    def prepared_quote(self, deal_id: int) -> PreparedQuote | None:
        """The stored quote of a deal (posted or not), or None if none was prepared."""
        row = self._one("SELECT price, epsilon_milli, data_root, cipher_root, key_commit, size, release_path, "
                        "cipher_path, leaves_path FROM deals WHERE deal_id = ? AND key_commit IS NOT NULL",
                        (int(deal_id),))
        if row is None:
            return None
        return PreparedQuote(int(deal_id), int(row[0]), int(row[1]), bytes(row[2]), bytes(row[3]), bytes(row[4]),
                             int(row[5]), self.data_dir / row[6], self.data_dir / row[7], self.data_dir / row[8])

    def deal_key(self, deal_id: int) -> bytes | None:
        """The deal's secret key (for revealKey only; never serve or log it), or None."""
        row = self._one("SELECT key FROM deals WHERE deal_id = ?", (int(deal_id),))
        return None if row is None or row[0] is None else bytes(row[0])

    # -- watcher position -----------------------------------------------------------

    def watcher_position(self) -> tuple[int, str] | None:
        """(last processed block number, its hash), or None before the first step."""
        row = self._one("SELECT block_number, block_hash FROM watcher WHERE id = 1")
        return None if row is None else (int(row[0]), row[1])

    def set_watcher_position(self, number: int, block_hash: str, *, seen: dict[int, str] | None = None) -> None:
        """Keep the last processed block and the hashes of the blocks seen up to it (for reorgs)."""
        with self._tx() as db:
            db.execute("INSERT INTO watcher VALUES (1, ?, ?) ON CONFLICT(id) DO UPDATE SET "
                       "block_number = excluded.block_number, block_hash = excluded.block_hash",
                       (int(number), block_hash))
            for num, h in {**(seen or {}), int(number): block_hash}.items():
                db.execute("INSERT OR REPLACE INTO blocks VALUES (?, ?)", (int(num), h))
            db.execute("DELETE FROM blocks WHERE number > ? OR number < ?", (int(number), int(number) - _KEEP_BLOCKS))

    def block_hash(self, number: int) -> str | None:
        """The hash the watcher saw for block `number`, if kept."""
        row = self._one("SELECT hash FROM blocks WHERE number = ?", (int(number),))
        return None if row is None else row[0]

    def block_hashes_below(self, number: int) -> list[tuple[int, str]]:
        """The kept (number, hash) of processed blocks below `number`, newest first (reorg walk-back)."""
        return [(int(n), h) for n, h in self._all("SELECT number, hash FROM blocks WHERE number < ? ORDER BY number DESC",
                                                   (int(number),))]
