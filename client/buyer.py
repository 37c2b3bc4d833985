"""The buyer's workflow as a library: buy from one hub, and carry every open deal on after a crash.

`Buyer(exchange, account, state_dir).buy(hub_url, offer_id, max_price=...)` does what
protocol.md asks of a buyer, in order: checks on chain that the hub's `/v1/info` oracle is the
seller's registered oracle (`oracleOf`), takes up the offer, uploads the spec and canonical
terms naming this buyer, calls `openDeal`, waits for the quote, downloads ciphertext and plain
leaves (authenticated, resumable), checks both roots and `n` against the quote, accepts only
if the price is within the buyer's limit (else rejects: the quote fee is the cost), waits for
the key, decrypts and checks every chunk, complains at once with the one-chunk proof on a bad
chunk, re-prices the release with `pricing.price` and keeps evidence (spec, release, key,
quote, terms as files) if the quoted price differs by more than `priceTolerance`, confirms,
and writes the release file. A hub that stalls is refunded once its phase's deadline passes.

Every step is recorded before the next begins, in one JSON file per deal under `state_dir`
(written atomically), so a buyer killed at any point loses nothing: `resume(deal_id)` /
`resume_all()` carry each deal on from the chain's state. Never imports the hub's code.
"""

from __future__ import annotations

import contextlib
import enum
import json
import os
import secrets
import shutil
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, ContextManager

from eth_account.signers.local import LocalAccount
from web3 import Web3

from client.atomic_file import atomic_write
from client.chain import ContractRevert, Exchange, State
from client.chain.exchange import ETH, EXACT
from client.constants import CHUNK, LEAF, MAX_RELEASE_BYTES
from client.delivery import Commitment, DecryptReport, build_complaint, decrypt_and_check, verify_download
from client.errors import ClientError, DeliveryError
from client.hub_client import HubClient, HubConflict, HubError, HubProtocolError, HubUnreachable
from client.release_check import release_problem
from client.terms import Terms, build_terms, parse_terms

__all__ = [
    "Buyer", "BuyResult", "DealRecord", "DealStore", "Outcome", "Progress", "ProgressFn", "Stage",
    "BuyerError", "HubMismatch", "OracleMismatch", "OfferNotFound", "SpecRequired", "StillWaiting", "UnknownDeal",
]

#: chain seconds before the accept deadline at which a buyer stops retrying an unreachable hub and rejects
DOWNLOAD_MARGIN = 120
_ERC20_ABI = [
    {"type": "function", "name": "allowance", "stateMutability": "view", "outputs": [{"name": "", "type": "uint256"}],
     "inputs": [{"name": "owner", "type": "address"}, {"name": "spender", "type": "address"}]},
    {"type": "function", "name": "approve", "stateMutability": "nonpayable", "outputs": [{"name": "", "type": "bool"}],
     "inputs": [{"name": "spender", "type": "address"}, {"name": "amount", "type": "uint256"}]},
]


# ---------------------------------------------------------------- errors


class BuyerError(ClientError, RuntimeError):
    """A buy could not go on; the message says why and what to do."""


class HubMismatch(BuyerError):
    """The hub serves another chain or contract than this buyer's."""


class OracleMismatch(BuyerError):
    """The hub's `/v1/info` oracle is not the seller's oracle on chain (`oracleOf(seller)`): do not deal with it."""


class OfferNotFound(BuyerError):
    """The hub makes no offer of that id to this buyer."""


class SpecRequired(BuyerError):
    """An MDE-priced offer needs the buyer's spec bundle."""


class UnknownDeal(BuyerError):
    """No local record of the deal (it was not opened by this buyer with this state directory)."""


class StillWaiting(BuyerError):
    """The wall-clock wait ran out before the hub acted; the deal stays open and `resume` carries it on."""

    def __init__(self, deal_id: int, waiting_for: str, seconds: float) -> None:
        self.deal_id, self.waiting_for, self.seconds = deal_id, waiting_for, seconds
        super().__init__(f"deal {deal_id}: no {waiting_for} after {seconds:.1f} s; the deal stays open: run resume "
                         f"later (it is refunded once the contract's deadline passes)")


# ---------------------------------------------------------------- records


class Stage(str, enum.Enum):
    """How far the buyer got with a deal; saved before each next step."""

    PENDING = "pending"          # terms accepted by the hub; openDeal sent but not yet recorded
    OPENED = "opened"            # openDeal mined
    QUOTED = "quoted"            # the quote read from chain
    DOWNLOADED = "downloaded"    # ciphertext and leaves on disk and checked against the quote
    ACCEPTED = "accepted"        # accept mined
    REVEALED = "revealed"        # key read; release decrypted and checked
    ENDED = "ended"              # Settled or Refunded on chain; outcome recorded


class Outcome(str, enum.Enum):
    """How a deal ended, from the buyer's side."""

    SETTLED = "settled"        # paid the quoted price, holds the release
    REJECTED = "rejected"      # the buyer rejected the quote (over its limit, or a bad download): paid the quote fee
    LAPSED = "lapsed"          # the quote lapsed unanswered: paid the quote fee
    DECLINED = "declined"      # the hub declined: refunded in full
    REFUNDED = "refunded"      # the hub stalled (no quote or no reveal in time): refunded in full
    COMPLAINED = "complained"  # a bad chunk proven on chain: refunded in full


@dataclass
class DealRecord:
    """The buyer's local record of one deal (one JSON file): enough to carry it on from the chain's state."""

    deal_id: int | None
    chain_id: int
    contract: str
    hub_url: str
    seller: str
    dataset_id: str
    offer_id: str
    terms: str                     # the canonical terms (UTF-8 JSON)
    terms_hash: str
    limit: int                     # the highest price this buyer accepts
    stage: str = Stage.PENDING.value
    open_block: int = 0
    release_path: str | None = None
    quote: dict[str, Any] | None = None   # price, epsilonMilli, dataRoot, cipherRoot, keyCommit, size (hex strings)
    key: str | None = None
    outcome: str | None = None
    reason: str | None = None
    to_buyer: int | None = None
    to_seller: int | None = None
    repriced: int | None = None
    mispriced: bool = False
    not_a_release: str | None = None  # what is wrong with delivered bytes that are no release (evidence kept)
    bad_chunk: int | None = None
    evidence_dir: str | None = None
    updated: float = 0.0

    @property
    def parsed_terms(self) -> Terms:
        """The terms as a :class:`~client.terms.Terms`."""
        return parse_terms(self.terms.encode())

    def commitment(self) -> Commitment:
        """The quote's commitment (raises if not yet quoted)."""
        q = self.quote or {}
        return Commitment(bytes.fromhex(q["dataRoot"][2:]), bytes.fromhex(q["cipherRoot"][2:]),
                          bytes.fromhex(q["keyCommit"][2:]), int(q["size"]))


@dataclass(frozen=True)
class BuyResult:
    """What became of a deal: its outcome (None while still open), price, files and evidence."""

    deal_id: int | None
    outcome: Outcome | None
    stage: Stage
    price: int | None = None
    to_buyer: int | None = None
    to_seller: int | None = None
    release_path: Path | None = None
    evidence_dir: Path | None = None
    mispriced: bool = False
    repriced: int | None = None
    bad_chunk: int | None = None
    reason: str | None = None
    not_a_release: str | None = None

    @classmethod
    def of(cls, rec: DealRecord) -> "BuyResult":
        """The result a record describes."""
        price = int(rec.quote["price"]) if rec.quote else None
        return cls(rec.deal_id, Outcome(rec.outcome) if rec.outcome else None, Stage(rec.stage), price, rec.to_buyer,
                   rec.to_seller, Path(rec.release_path) if rec.release_path and rec.outcome == Outcome.SETTLED.value
                   else None, Path(rec.evidence_dir) if rec.evidence_dir else None, rec.mispriced, rec.repriced,
                   rec.bad_chunk, rec.reason, rec.not_a_release)


@dataclass(frozen=True)
class Progress:
    """One step of a buy, for a progress display: `stage` names it; `done`/`total` count bytes or seconds."""

    deal_id: int | None
    stage: str
    message: str
    done: int | None = None
    total: int | None = None


ProgressFn = Callable[[Progress], None]


class DealStore:
    """The buyer's state directory: `deals/<id>.json` per deal, `deals/<id>/` its files, `pending/` and `specs/`."""

    def __init__(self, root: str | os.PathLike[str]) -> None:
        self.root = Path(root)
        for sub in ("deals", "pending", "specs"):
            (self.root / sub).mkdir(parents=True, exist_ok=True)

    def deal_dir(self, deal_id: int) -> Path:
        """Where a deal's downloads, release and evidence live."""
        d = self.root / "deals" / str(int(deal_id))
        d.mkdir(parents=True, exist_ok=True)
        return d

    def _path(self, rec: DealRecord) -> Path:
        if rec.deal_id is None:
            return self.root / "pending" / f"{rec.terms_hash}.json"
        return self.root / "deals" / f"{int(rec.deal_id)}.json"

    def save(self, rec: DealRecord) -> None:
        """Write the record atomically."""
        rec.updated = time.time()
        atomic_write(self._path(rec), json.dumps(asdict(rec), indent=1, sort_keys=True).encode())

    def opened(self, rec: DealRecord, deal_id: int, open_block: int) -> None:
        """Move a pending record to its deal id (new file first, then the pending one removed)."""
        pending = self._path(rec)
        rec.deal_id, rec.open_block, rec.stage = int(deal_id), int(open_block), Stage.OPENED.value
        self.save(rec)
        with contextlib.suppress(FileNotFoundError):
            pending.unlink()

    def load(self, deal_id: int) -> DealRecord:
        """The record of `deal_id`; UnknownDeal if there is none."""
        path = self.root / "deals" / f"{int(deal_id)}.json"
        if not path.exists():
            raise UnknownDeal(f"no record of deal {deal_id} under {self.root}: it was opened elsewhere; pass the "
                              "state directory it was opened with")
        return DealRecord(**json.loads(path.read_text()))

    def records(self) -> list[DealRecord]:
        """Every deal's record, by deal id."""
        out = [DealRecord(**json.loads(p.read_text())) for p in (self.root / "deals").glob("*.json")]
        return sorted(out, key=lambda r: r.deal_id or 0)

    def pending(self) -> list[DealRecord]:
        """Records whose openDeal may or may not have landed."""
        return [DealRecord(**json.loads(p.read_text())) for p in sorted((self.root / "pending").glob("*.json"))]

    def drop_pending(self, rec: DealRecord) -> None:
        """Forget a pending record whose deal never opened."""
        with contextlib.suppress(FileNotFoundError):
            self._path(rec).unlink()

    def put_spec(self, spec: bytes, spec_hash: str) -> None:
        """Keep the spec bundle (content-addressed) for re-pricing after a restart."""
        p = self.root / "specs" / f"{spec_hash}.bin"
        if not p.exists():
            atomic_write(p, spec)

    def spec(self, spec_hash: str) -> bytes | None:
        """The spec bundle with that hash, if kept."""
        p = self.root / "specs" / f"{spec_hash}.bin"
        return p.read_bytes() if p.exists() else None


def _hex(v: Any) -> str:
    return "0x" + bytes(v).hex() if isinstance(v, (bytes, bytearray)) else str(v)


class Buyer:
    """One buyer account on one exchange, with its state directory.

    `chain_lock` serialises every chain call (share one with the hubs' watchers when they use
    the same in-process chain); `wait_timeout` bounds each wall-clock wait for the hub
    (StillWaiting, the deal stays open); `poll_interval` is the pause between chain reads;
    a quote committing to more than `max_release_bytes` is rejected before any download."""

    def __init__(self, exchange: Exchange, account: LocalAccount, state_dir: str | os.PathLike[str], *,
                 chain_lock: ContextManager[Any] | None = None, poll_interval: float = 1.0,
                 wait_timeout: float | None = None, http_timeout: float = 30.0,
                 max_release_bytes: int = MAX_RELEASE_BYTES,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.ex = exchange
        self.account = account
        self.max_release_bytes = int(max_release_bytes)
        self.address = account.address
        self.store = DealStore(state_dir)
        self.lock = chain_lock if chain_lock is not None else threading.RLock()
        self.poll_interval = poll_interval
        self.wait_timeout = wait_timeout
        self.http_timeout = http_timeout
        self.sleep = sleep
        self._hubs: dict[str, HubClient] = {}
        with self.lock:
            self.chain_id = int(exchange.w3.eth.chain_id)

    # -- plumbing ---------------------------------------------------------------------

    def hub(self, url: str) -> HubClient:
        """The (cached) client for the hub at `url`."""
        url = url.rstrip("/")
        if url not in self._hubs:
            self._hubs[url] = HubClient(url, timeout=self.http_timeout)
        return self._hubs[url]

    def close(self) -> None:
        """Close every hub connection."""
        for h in self._hubs.values():
            h.close()
        self._hubs.clear()

    def __enter__(self) -> "Buyer":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _chain(self, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        with self.lock:
            return fn(*args, **kw)

    def _now(self) -> int:
        with self.lock:
            return int(self.ex.w3.eth.get_block("latest")["timestamp"])

    def _save(self, rec: DealRecord, progress: ProgressFn | None, stage: str, message: str, **kw: Any) -> None:
        self.store.save(rec)
        _notify(progress, Progress(rec.deal_id, stage, message, **kw))

    def _events(self, deal_id: int, from_block: int = 0) -> list[tuple[str, dict[str, Any]]]:
        """Every event of deal `deal_id` (each carries dealId as its first indexed topic), in chain order."""
        topic = "0x" + int(deal_id).to_bytes(32, "big").hex()
        with self.lock:
            logs = self.ex.w3.eth.get_logs({"address": self.ex.address, "fromBlock": from_block, "toBlock": "latest",
                                            "topics": [None, topic]})
            out = []
            for log in logs:
                for ev in self.ex.contract.events:
                    try:
                        decoded = ev().process_log(log)
                    except Exception:  # noqa: BLE001 - a log of another event type
                        continue
                    if decoded["args"].get("dealId") == deal_id:
                        out.append((decoded["event"], dict(decoded["args"])))
                    break
        return out

    def _event(self, rec: DealRecord, name: str) -> dict[str, Any] | None:
        for n, args in self._events(int(rec.deal_id), rec.open_block):
            if n == name:
                return args
        return None

    # -- the public workflow ------------------------------------------------------------

    def check_hub(self, hub_url: str) -> Any:
        """`/v1/info`, checked: this chain and contract, and the oracle the seller registered on chain."""
        info = self.hub(hub_url).info()
        if info.chain_id != self.chain_id or info.contract != self.ex.address:
            raise HubMismatch(f"hub {hub_url} serves chain {info.chain_id} contract {info.contract}; this buyer is on "
                              f"chain {self.chain_id} contract {self.ex.address}: pick the matching --network")
        on_chain = self._chain(self.ex.oracle_of, info.seller)
        if int(on_chain, 16) == 0:
            raise OracleMismatch(f"seller {info.seller} (from {hub_url}/v1/info) is not registered on {self.ex.address}")
        if on_chain != info.oracle:
            raise OracleMismatch(f"hub {hub_url} says its oracle is {info.oracle}, but oracleOf({info.seller}) is "
                                 f"{on_chain} on chain: it is not the seller's hub; do not buy from it")
        return info

    def offer(self, hub_url: str, offer_id: str) -> dict[str, Any]:
        """The hub's offer `offer_id` to this buyer; OfferNotFound (listing the ones it has) otherwise."""
        offers = self.hub(hub_url).offers(self.address)
        for o in offers:
            if o["offerId"] == offer_id:
                return o
        raise OfferNotFound(f"hub {hub_url} makes no offer {offer_id!r} to {self.address}; it offers "
                            f"{[o['offerId'] for o in offers]}")

    def buy(self, hub_url: str, offer_id: str, *, max_price: int, limit: int | None = None,
            quote_fee: int | None = None, price_tolerance: int = 0, spec: bytes | None = None, token: str = ETH,
            nonce: str | None = None, release_path: str | os.PathLike[str] | None = None,
            progress: ProgressFn | None = None) -> BuyResult:
        """Buy offer `offer_id` from the hub at `hub_url`, locking `max_price` and accepting a quote only
        up to `limit` (default `max_price`); `quote_fee` defaults to the offer's minQuoteFee. Returns
        when the deal has ended (or raises StillWaiting with the deal open; `resume` carries it on)."""
        info = self.check_hub(hub_url)
        hub = self.hub(hub_url)
        offer = self.offer(hub_url, offer_id)
        spec_hash = None
        if offer["pricing"].get("method") != "fixed":
            if spec is None:
                raise SpecRequired(f"offer {offer_id!r} is priced by {offer['pricing'].get('method')!r} on the buyer's "
                                   "spec: pass it (--spec FILE, or spec= in Python), a bundle from "
                                   "`spartacus spec calibrate` or `spartacus spec build`")
            from pricing import parse_spec

            spec_hash = parse_spec(spec).hash
            got = hub.put_spec(spec)
            if got != spec_hash:
                raise HubProtocolError(f"hub {hub_url} hashed the spec to {got}; it hashes to {spec_hash}")
            self.store.put_spec(spec, spec_hash)
        fee = int(offer.get("minQuoteFee", "0")) if quote_fee is None else int(quote_fee)

        def terms_with(nonce: str | None) -> Terms:
            return build_terms(offer, chain_id=info.chain_id, contract=info.contract, seller=info.seller,
                               buyer=self.address, token=token, max_price=max_price, quote_fee=fee,
                               price_tolerance=price_tolerance, spec_hash=spec_hash, nonce=nonce)

        terms = terms_with(nonce)
        if nonce is None and self._quoted_before(terms.terms_hash_hex):
            # the contract never reopens terms once quoted (rule 2): buying the same offer again
            # on the same terms takes a nonce (protocol.md), a fresh random one
            terms = terms_with(secrets.token_hex(8))
        limit = int(max_price if limit is None else limit)
        try:
            return self._open(hub, info, offer_id, terms, limit, release_path, progress)
        except (HubConflict, ContractRevert) as err:
            # quoted before under a record this state folder does not hold (another machine): the hub
            # says so at PUT /v1/terms (409), or a hub that does not look has the chain refuse the terms
            # at openDeal, before anything moved; either way the same purchase with a fresh nonce.
            # (An MDE spec's 409 is its own: a nonce would not make it new.)
            used = (isinstance(err, HubConflict) and terms.is_fixed_price
                    or isinstance(err, ContractRevert) and err.error_name == "TermsAlreadyUsed")
            if terms.nonce is not None or not used:
                raise
            return self._open(hub, info, offer_id, terms_with(secrets.token_hex(8)), limit, release_path, progress)

    def _open(self, hub: HubClient, info: Any, offer_id: str, terms: Terms, limit: int,
              release_path: str | os.PathLike[str] | None, progress: ProgressFn | None) -> BuyResult:
        """Put `terms` to the hub, open their deal and drive it to its end; a revert at openDeal
        forgets the pending record (nothing was locked) and is raised."""
        rec = DealRecord(None, self.chain_id, self.ex.address, hub.url, info.seller, terms.dataset_id, offer_id,
                         terms.canonical.decode(), terms.terms_hash_hex, limit,
                         release_path=None if release_path is None else str(release_path))
        with self.lock:
            rec.open_block = int(self.ex.w3.eth.block_number)
        got = hub.put_terms(terms.canonical)
        if got != terms.terms_hash_hex:
            raise HubProtocolError(f"hub {hub.url} hashed the terms to {got}; they hash to {terms.terms_hash_hex}")
        self._save(rec, progress, "terms", f"terms {terms.terms_hash_hex} accepted by the hub")
        if not terms.is_eth:
            self._approve(terms.token, terms.max_price)
        try:
            deal_id, _ = self._chain(self.ex.open_deal, info.seller, terms.dataset_id_bytes, terms.terms_hash,
                                     terms.max_price, terms.quote_fee, sender=self.account, token=terms.token)
        except ContractRevert:
            self.store.drop_pending(rec)
            raise
        self.store.opened(rec, deal_id, rec.open_block)
        _notify(progress, Progress(deal_id, "opened", f"deal {deal_id} opened, {terms.max_price} locked"))
        return self._drive(rec, progress)

    def _approve(self, token: str, amount: int) -> None:
        """Let the exchange pull `amount` of ERC-20 `token` for openDeal, unless it already may."""
        from client.chain.exchange import send_call

        with self.lock:
            erc20 = self.ex.w3.eth.contract(address=Web3.to_checksum_address(token), abi=_ERC20_ABI)
            if int(erc20.functions.allowance(self.address, self.ex.address).call()) < amount:
                send_call(self.ex.w3, erc20.functions.approve(self.ex.address, amount), self.account)

    def resume(self, deal_id: int, *, progress: ProgressFn | None = None) -> BuyResult:
        """Carry deal `deal_id` on from the chain's state to its end (or StillWaiting)."""
        rec = self.store.load(deal_id)
        if rec.stage == Stage.ENDED.value:
            return BuyResult.of(rec)
        return self._drive(rec, progress)

    def resume_all(self, *, progress: ProgressFn | None = None) -> list[BuyResult]:
        """Carry every open deal of this buyer on this exchange on (pending openDeals found on chain
        first); a deal that must still wait is reported with outcome None and its reason."""
        for rec in self.store.pending():
            if rec.chain_id != self.chain_id or rec.contract != self.ex.address:
                continue
            found = self._find_opened(rec)
            if found is None:
                self.store.drop_pending(rec)  # openDeal never landed: nothing is locked
            else:
                self.store.opened(rec, *found)
        out = []
        for rec in self.store.records():
            if rec.chain_id != self.chain_id or rec.contract != self.ex.address or rec.stage == Stage.ENDED.value:
                continue
            try:
                out.append(self._drive(rec, progress))
            except StillWaiting as err:
                out.append(BuyResult(rec.deal_id, None, Stage(rec.stage), reason=str(err)))
        return out

    def deals(self) -> list[DealRecord]:
        """Every deal this buyer recorded on this exchange, with its stage and outcome."""
        return [r for r in self.store.records() if r.chain_id == self.chain_id and r.contract == self.ex.address]

    def withdraw(self, token: str = ETH) -> int:
        """Withdraw this buyer's credit in `token`; returns the amount (0 if there was none)."""
        amount = self._chain(self.ex.credit, self.address, token)
        if amount:
            self._chain(self.ex.withdraw, token, sender=self.account)
        return amount

    # -- the state machine -----------------------------------------------------------------

    def _quoted_before(self, terms_hash: str) -> bool:
        """Whether this buyer's own records hold a deal under `terms_hash` that was quoted, which
        burns the terms (a chain-wide log scan per purchase cost a survey 2x its time)."""
        return any(r.terms_hash == terms_hash and r.quote is not None for r in self.store.records())

    def _find_opened(self, rec: DealRecord) -> tuple[int, int] | None:
        with self.lock:
            ev = self.ex.contract.events.DealOpened()
            logs = ev.get_logs(from_block=rec.open_block, argument_filters={"buyer": self.address})
        for log in logs:
            if _hex(log["args"]["termsHash"]) == rec.terms_hash:
                return int(log["args"]["dealId"]), int(log["blockNumber"])
        return None

    def _drive(self, rec: DealRecord, progress: ProgressFn | None) -> BuyResult:
        deal_id = int(rec.deal_id)
        while True:
            state = self._chain(self.ex.state, deal_id)
            if state == State.OPEN:
                self._wait(rec, State.OPEN, "quote", progress)
            elif state == State.QUOTED:
                self._decide(rec, progress)
            elif state == State.ACCEPTED:
                self._wait(rec, State.ACCEPTED, "key", progress)
            elif state == State.REVEALED:
                self._check_and_settle(rec, progress)
            elif state in (State.SETTLED, State.REFUNDED):
                return self._finish(rec, progress)
            else:
                raise UnknownDeal(f"deal {deal_id} is {state.name} on {self.ex.address}: it was never opened there")

    def _wait(self, rec: DealRecord, state: State, what: str, progress: ProgressFn | None) -> None:
        """Poll until the deal leaves `state`; refund it once the phase's deadline has passed."""
        deal_id = int(rec.deal_id)
        start = time.monotonic()
        while True:
            if self._chain(self.ex.state, deal_id) != state:
                return
            deadline = self._chain(self.ex.deadline, deal_id)
            now = self._now()
            if deadline and now >= deadline:
                try:
                    self._chain(self.ex.refund, deal_id, sender=self.account)
                    _notify(progress, Progress(deal_id, "refunded", f"no {what} by the deadline: refund claimed"))
                except ContractRevert:
                    self.sleep(self.poll_interval)  # the hub acted at the last moment, or the block is not yet past
                return
            waited = time.monotonic() - start
            if self.wait_timeout is not None and waited > self.wait_timeout:
                raise StillWaiting(deal_id, what, waited)
            _notify(progress, Progress(deal_id, f"waiting-{what}", f"waiting for the {what} (deadline in "
                                       f"{max(0, deadline - now)} s of chain time)", max(0, deadline - now), None))
            self.sleep(self.poll_interval)

    def _files(self, rec: DealRecord) -> tuple[Path, Path]:
        d = self.store.deal_dir(int(rec.deal_id))
        return d / "ciphertext", d / "leaves"

    def _read_quote(self, rec: DealRecord, progress: ProgressFn | None = None) -> None:
        if rec.quote is None:
            q = self._event(rec, "Quoted")
            if q is None:
                raise BuyerError(f"deal {rec.deal_id} is past Open but has no Quoted event since block {rec.open_block}")
            rec.quote = {"price": str(q["price"]), "epsilonMilli": int(q["epsilonMilli"]), "dataRoot": _hex(q["dataRoot"]),
                         "cipherRoot": _hex(q["cipherRoot"]), "keyCommit": _hex(q["keyCommit"]), "size": int(q["size"]),
                         "acceptDeadline": int(q["acceptDeadline"])}
            if rec.stage in (Stage.PENDING.value, Stage.OPENED.value):
                rec.stage = Stage.QUOTED.value
            milli = rec.quote["epsilonMilli"]
            spends = "the exact data" if milli == EXACT else f"{milli} milli-epsilon"
            self._save(rec, progress, "quoted", f"quoted {rec.quote['price']} for {spends}, {rec.quote['size']} bytes")

    def _download(self, rec: DealRecord, progress: ProgressFn | None) -> tuple[Path, Path]:
        cipher, leaves = self._files(rec)
        c = rec.commitment()
        hub = self.hub(rec.hub_url)

        def report(what: str) -> Callable[[int, int], None]:
            return lambda done, total: _notify(progress, Progress(rec.deal_id, f"download-{what}",
                                                                  f"downloading {what}", done, total))

        hub.download(int(rec.deal_id), "ciphertext", cipher, self.account, expected_size=c.n * CHUNK,
                     progress=report("ciphertext"))
        hub.download(int(rec.deal_id), "leaves", leaves, self.account, expected_size=c.n * LEAF,
                     progress=report("leaves"))
        return cipher, leaves

    def _reject(self, rec: DealRecord, reason: str, progress: ProgressFn | None) -> None:
        rec.reason = reason
        self.store.save(rec)
        try:
            self._chain(self.ex.reject, int(rec.deal_id), sender=self.account)
        except ContractRevert:
            return  # the accept window closed: _drive refunds it as lapsed
        _notify(progress, Progress(rec.deal_id, "rejected", f"quote rejected: {reason}"))

    def _decide(self, rec: DealRecord, progress: ProgressFn | None) -> None:
        """A quote on chain: download, check, then accept or reject (the quote fee is the cost of rejecting)."""
        deal_id = int(rec.deal_id)
        self._read_quote(rec, progress)
        deadline = self._chain(self.ex.deadline, deal_id)
        if deadline and self._now() >= deadline:
            self._wait(rec, State.QUOTED, "decision", progress)  # lapsed: claim the refund
            return
        terms = rec.parsed_terms
        price, milli = int(rec.quote["price"]), int(rec.quote["epsilonMilli"])
        refusal = self._quote_refusal(rec, terms, price, milli)
        if refusal is not None:  # judged from the chain's quote alone: nothing is downloaded for it
            self._reject(rec, refusal, progress)
            return
        start = time.monotonic()
        while True:
            try:
                cipher, leaves = self._download(rec, progress)
                verify_download(cipher, leaves, rec.commitment())
                break
            except HubUnreachable as err:
                # a hub down for a moment: retry while the accept window lasts (less a margin) and the
                # wall-clock wait allows; then reject, since nothing unchecked is ever accepted
                waited = time.monotonic() - start
                left = deadline - self._now() if deadline else 0
                if left > DOWNLOAD_MARGIN and (self.wait_timeout is None or waited < self.wait_timeout):
                    _notify(progress, Progress(deal_id, "waiting-download", f"hub unreachable, retrying: {err}",
                                               left, None))
                    self.sleep(max(self.poll_interval, 0.01))
                    continue
                self._keep_evidence(rec, f"download: {type(err).__name__}: {err}")
                self._reject(rec, f"the delivery cannot be fetched ({type(err).__name__}: {err})", progress)
                return
            except (HubError, HubProtocolError, DeliveryError) as err:
                self._keep_evidence(rec, f"download: {type(err).__name__}: {err}")
                self._reject(rec, f"the delivery does not match the quote or cannot be fetched ({type(err).__name__}: "
                             f"{err})", progress)
                return
        rec.stage = Stage.DOWNLOADED.value
        self._save(rec, progress, "downloaded", f"ciphertext and leaves match the quote's roots and n = "
                   f"{rec.commitment().n}")
        try:
            self._chain(self.ex.accept, deal_id, sender=self.account)
        except ContractRevert:
            return  # the window closed under us: _drive sees the state and refunds
        rec.stage = Stage.ACCEPTED.value
        self._save(rec, progress, "accepted", f"accepted at {price}")

    def _quote_refusal(self, rec: DealRecord, terms: Terms, price: int, milli: int) -> str | None:
        """Why the quote on chain is rejected before anything is downloaded, or None: its epsilon or
        fixed price is not the terms', its price is over the limit, or its files would not fit (over
        `max_release_bytes`, or more than the disk holds): a hostile hub's quote of 2**40 bytes was
        being written to disk before the price was read."""
        if milli != terms.epsilon_milli:
            return f"the quote spends {milli} milli-epsilon; the terms say {terms.epsilon_milli}"
        if terms.is_fixed_price and price != terms.fixed_price:
            return f"the quote's price {price} is not the offer's fixed price {terms.fixed_price}"
        if price > rec.limit:
            return (f"the price {price} is over this buyer's limit {rec.limit} (the quote fee {terms.quote_fee} is "
                    "the cost of saying no)")
        n = rec.commitment().n
        need = n * (CHUNK + LEAF)
        if need > self.max_release_bytes:
            return (f"the quote commits to {need:,} bytes of ciphertext and leaves, over this buyer's limit of "
                    f"{self.max_release_bytes:,} (raise it with --max-bytes to buy a release this large)")
        folder = self.store.deal_dir(int(rec.deal_id))
        free = shutil.disk_usage(folder).free
        if need * 2 > free:  # the ciphertext and leaves, then the release beside them
            return f"the quote's files and release need about {2 * need:,} bytes; {free:,} are free under {folder}"
        return None

    def _check_and_settle(self, rec: DealRecord, progress: ProgressFn | None) -> None:
        """A revealed key: decrypt and check every chunk; complain on a bad one, else re-price and confirm."""
        deal_id = int(rec.deal_id)
        self._read_quote(rec)
        if rec.key is None:
            ev = self._event(rec, "KeyRevealed")
            rec.key = _hex(ev["key"])
            self.store.save(rec)
        key = bytes.fromhex(rec.key[2:])
        commitment = rec.commitment()
        d = self.store.deal_dir(deal_id)
        deadline = self._chain(self.ex.deadline, deal_id)
        try:
            cipher, leaves = self._download(rec, progress)
            verify_download(cipher, leaves, commitment)
        except (HubError, HubUnreachable, HubProtocolError, DeliveryError) as err:
            # the files were checked before accepting; lost since and not served again: nothing to prove with
            rec.reason = f"the delivery is not on disk and the hub does not serve it: {err}"
            self.store.save(rec)
            if deadline and self._now() >= deadline:
                with contextlib.suppress(ContractRevert):
                    self._chain(self.ex.finalize, deal_id, sender=self.account)
                return
            raise BuyerError(f"deal {deal_id}: {rec.reason}; resume before the dispute deadline {deadline}") from err
        plain = d / "release.part"  # the plaintext while it is checked: the owner's eyes only, removed after
        with open(os.open(plain, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "wb") as out:
            report: DecryptReport = decrypt_and_check(cipher, leaves, key, commitment, out)
        _notify(progress, Progress(deal_id, "decrypted", f"{report.n} chunks decrypted, "
                                   f"{len(report.bad_leaves)} bad", report.n, report.n))
        if report.bad_leaves:
            rec.bad_chunk = report.bad_leaves[0]
            self._keep_evidence(rec, f"chunk {rec.bad_chunk} does not decrypt to its committed leaf", plain)
            if not deadline or self._now() < deadline:
                complaint = build_complaint(cipher, leaves, rec.bad_chunk, commitment)
                try:
                    self._chain(self.ex.complain, deal_id, complaint, sender=self.account)
                    plain.unlink()  # a copy is in the evidence
                    _notify(progress, Progress(deal_id, "complained", f"complained about chunk {rec.bad_chunk}"))
                    return
                except ContractRevert as err:
                    rec.reason = f"complaint refused: {err}"
                    self.store.save(rec)
        release = plain.read_bytes()
        rec.not_a_release = release_problem(release)
        if rec.not_a_release is not None:
            # every chunk matches the seller's commitment, so no complaint can refund this: say so, keep it
            self._keep_evidence(rec, f"the delivered bytes are not a release: {rec.not_a_release}; they match the "
                                "seller's commitment, so the contract cannot refund them", plain)
        terms = rec.parsed_terms
        quoted = int(rec.quote["price"])
        if terms.is_fixed_price:
            expected = int(terms.fixed_price)
        elif rec.not_a_release is not None:
            expected = None
        else:
            from pricing import PricingError, price as reprice

            spec = self.store.spec(terms.spec_hash)
            try:
                expected = int(reprice(spec, release, terms.to_document()).price) if spec is not None else None
            except Exception as err:  # noqa: BLE001 - the hub's bytes: whatever they raise is evidence, not a crash
                # (a crash here would recur on every resume while the dispute window ran out)
                expected = None
                kind = "" if isinstance(err, PricingError) else " (not a pricing error: the release is malformed)"
                rec.reason = f"re-pricing failed{kind}: {type(err).__name__}: {err}"
                self._keep_evidence(rec, f"the release cannot be re-priced{kind} ({type(err).__name__}: {err})", plain)
        rec.repriced = expected
        if expected is not None and abs(expected - quoted) > terms.price_tolerance:
            rec.mispriced = True
            self._keep_evidence(rec, f"quoted {quoted}, re-priced {expected}: differs by more than the tolerance "
                                f"{terms.price_tolerance}", plain)
        if report.bad_padding:
            self._keep_evidence(rec, "the last chunk's padding is not zero", plain)
        out_path = Path(rec.release_path) if rec.release_path else d / "release.safetensors"
        atomic_write(out_path, release)
        plain.unlink()
        rec.release_path = str(out_path)
        rec.stage = Stage.REVEALED.value
        flags = [f for f, on in (("MISPRICED", rec.mispriced), ("NOT A RELEASE", rec.not_a_release)) if on]
        self._save(rec, progress, "checked", "every chunk checks" + (f" ({', '.join(flags)}: evidence kept)" if flags else ""))
        try:
            self._chain(self.ex.confirm, deal_id, sender=self.account)
        except ContractRevert:
            with contextlib.suppress(ContractRevert):  # the dispute window is over, or someone finalized already
                self._chain(self.ex.finalize, deal_id, sender=self.account)
            return
        _notify(progress, Progress(deal_id, "confirmed", f"confirmed: {quoted} paid"))

    def _keep_evidence(self, rec: DealRecord, why: str, release: Path | None = None) -> None:
        """Keep what anyone needs to check the hub's fault: terms, quote, key, spec, release, files."""
        ev = self.store.deal_dir(int(rec.deal_id)) / "evidence"
        ev.mkdir(parents=True, exist_ok=True)
        atomic_write(ev / "terms.json", rec.terms.encode())
        if rec.quote is not None:
            atomic_write(ev / "quote.json", json.dumps({"dealId": rec.deal_id, **rec.quote}, indent=1).encode())
        if rec.key is not None:
            atomic_write(ev / "key.hex", rec.key.encode())
        spec_hash = json.loads(rec.terms).get("specHash")
        spec = self.store.spec(spec_hash) if spec_hash else None
        if spec is not None:
            atomic_write(ev / "spec.bin", spec)
        if release is not None and release.exists():
            atomic_write(ev / "release.safetensors", release.read_bytes())
        with open(ev / "why.txt", "a") as f:
            f.write(why + "\n")
        rec.evidence_dir = str(ev)
        self.store.save(rec)

    def _finish(self, rec: DealRecord, progress: ProgressFn | None) -> BuyResult:
        names = {}
        for n, args in self._events(int(rec.deal_id), rec.open_block):
            names.setdefault(n, args)
        if "Settled" in names:
            rec.outcome = Outcome.SETTLED.value
            rec.to_seller, rec.to_buyer = int(names["Settled"]["price"]), int(names["Settled"]["refund"])
        else:
            r = names.get("Refunded", {})
            rec.to_buyer, rec.to_seller = int(r.get("toBuyer", 0)), int(r.get("toSeller", 0))
            if "Complained" in names:
                rec.outcome = Outcome.COMPLAINED.value
                chunk = int(names["Complained"]["index"])
                rec.reason = rec.reason or f"chunk {chunk} does not decrypt to the leaf the seller committed to"
            elif "Declined" in names:
                rec.outcome = Outcome.DECLINED.value
                with contextlib.suppress(HubError, HubUnreachable, HubProtocolError):
                    rec.reason = self.hub(rec.hub_url).deal(int(rec.deal_id)).reason or rec.reason
            elif "Rejected" in names:
                rec.outcome = Outcome.REJECTED.value
            elif "Quoted" in names and "Accepted" not in names:
                rec.outcome = Outcome.LAPSED.value
            else:
                rec.outcome = Outcome.REFUNDED.value
        rec.stage = Stage.ENDED.value
        self._save(rec, progress, "ended", f"deal {rec.deal_id} {rec.outcome}: buyer credited {rec.to_buyer}, "
                   f"seller {rec.to_seller}")
        return BuyResult.of(rec)


def _notify(progress: ProgressFn | None, event: Progress) -> None:
    if progress is not None:
        progress(event)
