"""Real hubs in one process, for `make demo`, its test and the survey benchmark.

Each hub is what `hub serve` runs: the FastAPI app (`create_app`) under uvicorn on a loopback port
in a thread, its own SQLite store, and a `Watcher` with its `QuotePipeline`. All of them share one
embedded chain (web3's eth-tester, which is not thread-safe): every JSON-RPC request goes through
`LockedTesterProvider`, which serialises them on one lock, and ONE thread steps every hub's watcher
in turn (`HubFleet`), as the hubs' own processes would poll a node.

Demo keys are derived from public labels (`Chain.account`): they exist only on this throw-away
chain and must never hold anything real."""

from __future__ import annotations

import logging
import socket
import threading
import time
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Mapping

import numpy as np
import uvicorn
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_hash.auto import keccak
from web3 import EthereumTesterProvider, Web3

from client.chain import Exchange
from client.chain.exchange import ETH
from client.delivery import CHUNK, Commitment
from client.merkle import merkle_root
from privacy import Schema

from .api import create_app
from .context import HubContext
from .pipeline import Outcome, QuotePipeline
from .rawdata import dataset_id_for, encode_raw
from .store import DatasetRecord, OfferRecord, Store
from .watcher import Watcher

__all__ = ["index_tester_transactions", "LockedTesterProvider", "BlockEventCache", "Chain", "Hub", "HubFleet", "CheatingPipeline", "DemoHubError", "deal_gas", "deals_gas"]

log = logging.getLogger("oracle.demo_hubs")
ETHER = 10**18


class DemoHubError(RuntimeError):
    """Raised when a demo hub cannot start or its watcher fails; the message says which hub and why."""


def index_tester_transactions() -> None:
    """Make eth-tester find a mined transaction through py-evm's hash index instead of walking every
    block back from the head (its own TODO): each log `eth_getLogs` returns looked its transaction up
    that way, so a read cost grew with the chain's length (a 200-hub survey's chain, ~1 ms a block
    per log). The index's answer is checked against the canonical block; on any doubt, the old walk."""
    from eth_tester.backends.pyevm import main as pyevm_main

    walk = pyevm_main._get_transaction_by_hash
    if getattr(walk, "indexed", False):
        return

    def by_index(chain: Any, transaction_hash: bytes) -> Any:  # noqa: ANN401 - py-evm's types
        try:
            number, index = chain.chaindb.get_transaction_index(transaction_hash)
            block = chain.get_canonical_block_by_number(number)
            transaction = block.transactions[index]
        except Exception:  # noqa: BLE001 - not indexed (pending, or an old fork): walk as eth-tester does
            return walk(chain, transaction_hash)
        if transaction.hash != transaction_hash:
            return walk(chain, transaction_hash)
        return block, transaction, index

    by_index.indexed = True  # type: ignore[attr-defined]
    pyevm_main._get_transaction_by_hash = by_index


class LockedTesterProvider(EthereumTesterProvider):
    """web3's in-process eth-tester provider with every request behind one re-entrant lock, so the
    hubs' HTTP threads, the watcher thread and the buyers can share the chain."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        index_tester_transactions()
        super().__init__(*args, **kwargs)
        self.lock = threading.RLock()

    def make_request(self, method: Any, params: Any) -> Any:  # noqa: ANN401 - web3's RPCResponse
        with self.lock:
            return super().make_request(method, params)


@dataclass
class Chain:
    """The embedded chain, its DataExchange and a funded deployer (`funder`, an eth-tester account)."""

    w3: Web3
    ex: Exchange
    funder: str

    @classmethod
    def start(cls, *, quote_window: int = 3600, accept_window: int = 3600, reveal_window: int = 3600,
              dispute_window: int = 86400) -> "Chain":
        """A fresh embedded chain with a DataExchange deployed on it (windows in seconds)."""
        w3 = Web3(LockedTesterProvider())
        funder = w3.eth.accounts[0]
        ex = Exchange.deploy(w3, sender=funder, quote_window=quote_window, accept_window=accept_window,
                             reveal_window=reveal_window, dispute_window=dispute_window)
        return cls(w3, ex, funder)

    @property
    def lock(self) -> threading.RLock:
        """The lock every chain request takes (pass it to a `client.buyer.Buyer` as `chain_lock`)."""
        return self.w3.provider.lock  # type: ignore[attr-defined]

    def account(self, label: str, ether: int = 100) -> LocalAccount:
        """A local account whose key is keccak("spartacus-demo:" + label), funded with `ether` ETH."""
        acct = Account.from_key(keccak(b"spartacus-demo:" + label.encode()))
        if ether:
            with self.lock:
                tx = self.w3.eth.send_transaction({"from": self.funder, "to": acct.address, "value": ether * ETHER})
                self.w3.eth.wait_for_transaction_receipt(tx)
        return acct


def deal_gas(chain: Chain, deal_id: int) -> int:
    """Gas of every transaction that emitted an event of deal `deal_id` (open to settle, withdrawals excluded)."""
    return deals_gas(chain, [deal_id])[deal_id]


def deals_gas(chain: Chain, deal_ids: Iterable[int]) -> dict[int, int]:
    """`deal_gas` of each of `deal_ids`, from ONE read of the contract's logs (eth-tester filters logs
    by walking every block, so one read per deal grows with the chain)."""
    wanted = {int(d) for d in deal_ids}
    txs: dict[int, dict[Any, None]] = {d: {} for d in wanted}
    with chain.lock:
        logs = chain.w3.eth.get_logs({"address": chain.ex.address, "fromBlock": 0, "toBlock": "latest"})
        for log_ in logs:
            if len(log_["topics"]) > 1 and int.from_bytes(bytes(log_["topics"][1]), "big") in wanted:
                txs[int.from_bytes(bytes(log_["topics"][1]), "big")][log_["transactionHash"]] = None
        gas: dict[Any, int] = {}
        for hashes in txs.values():
            for h in hashes:
                if h not in gas:
                    gas[h] = int(chain.w3.eth.get_transaction_receipt(h)["gasUsed"])
    return {d: sum(gas[h] for h in hashes) for d, hashes in txs.items()}


class CheatingPipeline(QuotePipeline):
    """A dishonest hub's pipeline: it encodes honestly, then flips one byte of the middle chunk of the
    ciphertext on disk and posts a cipherRoot over the corrupted file. The download still matches the
    quote's roots, so only decrypting shows the chunk is not the committed plaintext: the buyer's
    one-chunk complaint proves it on chain and is refunded in full."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cheated: set[int] = set()

    def _post(self, deal_id: int, price: int, milli: int, commitment: Commitment, t: dict[str, float], *,
              action: str) -> Outcome:
        if deal_id not in self.cheated:
            path = self.store.deal_dir(deal_id) / "cipher.bin"
            cipher = bytearray(path.read_bytes())
            cipher[(commitment.n // 2) * CHUNK] ^= 0xFF
            path.write_bytes(bytes(cipher))
            leaves = [keccak(bytes(cipher[i:i + CHUNK])) for i in range(0, len(cipher), CHUNK)]
            commitment = Commitment(commitment.data_root, merkle_root(leaves), commitment.key_commit, commitment.size)
            self.cheated.add(deal_id)
        return super()._post(deal_id, price, milli, commitment, t, action=action)


@dataclass
class Hub:
    """One seller's hub: its accounts, context, store and watcher; `url` once `HubFleet` serves it."""

    name: str
    seller: LocalAccount
    oracle: LocalAccount
    ctx: HubContext
    store: Store
    watcher: Watcher
    url: str = ""
    datasets: dict[str, str] = field(default_factory=dict)

    @classmethod
    def create(cls, chain: Chain, name: str, root: Path, *, seller: LocalAccount | None = None,
               oracle: LocalAccount | None = None, cheat: bool = False) -> "Hub":
        """A hub for `seller` (default: a fresh account named after the hub) whose oracle is `oracle`
        (default: its own account), registered on chain; its store lives under `root / name`."""
        seller = seller or chain.account(f"{name}/seller")
        oracle = oracle or chain.account(f"{name}/oracle")
        with chain.lock:
            chain.ex.register_seller(oracle.address, sender=seller)
            start = int(chain.w3.eth.block_number)
        store = Store(Path(root) / name / "hub.sqlite")
        ctx = HubContext(store=store, exchange=chain.ex, chain_id=int(chain.w3.eth.chain_id), seller=seller.address,
                         oracle=oracle.address)
        pipeline = (CheatingPipeline if cheat else QuotePipeline)(ctx, signer=oracle, tokens=[ETH])
        return cls(name, seller, oracle, ctx, store, Watcher(ctx, pipeline, start_block=start))

    def add_dataset(self, name: str, schema: Schema, data: Mapping[str, Any], cap_milli: int) -> str:
        """Register dataset `name` on chain with `cap_milli` and store its raw rows; returns its id."""
        dataset_id = dataset_id_for(self.seller.address, name)
        self.ctx.exchange.register_dataset(bytes.fromhex(dataset_id[2:]), cap_milli, sender=self.seller)
        rows = int(np.asarray(data["features"] if schema.features else data[schema.columns[0].name]).shape[0])
        self.store.add_dataset(DatasetRecord(dataset_id, name, schema.to_json(), rows, cap_milli),
                               encode_raw(data, schema))
        self.datasets[name] = dataset_id
        return dataset_id

    def add_offer(self, offer_id: str, dataset: str, release: dict[str, Any], pricing: dict[str, Any], *,
                  buyer: str | None = None, min_quote_fee: int = ETHER // 1000) -> None:
        """Offer dataset `dataset` (a name given to `add_dataset`) to `buyer` (None: to anyone)."""
        self.store.put_offer(OfferRecord(offer_id, self.datasets[dataset], buyer, release, pricing, (ETH,),
                                         int(min_quote_fee)))


def _serve(app: Any) -> tuple[uvicorn.Server, threading.Thread, socket.socket, str]:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True, name=f"hub-{port}")
    thread.start()
    return server, thread, sock, f"http://127.0.0.1:{port}"


class BlockEventCache:
    """The exchange's decoded events, block by block, read from the chain once for a whole fleet.

    Every hub's watcher reads the same contract's events; on eth-tester each read costs a receipt per
    log, so a fleet of N hubs paid N times for every block (a 200-hub survey spent most of its time
    there). `install(ex)` replaces `ex.events` with a cached one. A block is cached once mined; the
    cache is dropped whenever the last cached block's hash changes (a snapshot reverted under it)."""

    def __init__(self, ex: Exchange) -> None:
        self._read = ex.events
        self._w3 = ex.w3
        self._blocks: dict[int, list[tuple[str, dict[str, Any], int, int]]] = {}
        self._upto = -1
        self._upto_hash: bytes | None = None
        # the provider's own lock when it has one (LockedTesterProvider): a second lock here deadlocked
        # with a caller holding the chain lock while the watcher held this one and asked for a block
        self._lock = getattr(ex.w3.provider, "lock", None) or threading.RLock()

    @classmethod
    def install(cls, ex: Exchange) -> "BlockEventCache":
        """The cache serving `ex.events` (installed on first call, shared after)."""
        cache = ex.__dict__.get("_fleet_event_cache")
        if cache is None:
            cache = cls(ex)
            ex.__dict__["_fleet_event_cache"] = cache
            ex.events = cache.events  # type: ignore[method-assign]
        return cache

    def events(self, from_block: int = 0, to_block: int | str = "latest") -> list[tuple[str, dict[str, Any], int, int]]:
        """What `Exchange.events(from_block, to_block)` returns, from the cache where it has the blocks."""
        with self._lock:
            head = int(self._w3.eth.block_number)
            to = head if to_block == "latest" else min(int(to_block), head)
            if self._upto >= 0 and (self._upto > head or bytes(self._w3.eth.get_block(self._upto)["hash"]) != self._upto_hash):
                self._blocks.clear()
                self._upto, self._upto_hash = -1, None
            if to > self._upto:
                for event in self._read(self._upto + 1, to):
                    self._blocks.setdefault(event[2], []).append(event)
                self._upto, self._upto_hash = to, bytes(self._w3.eth.get_block(to)["hash"])
            start = max(0, int(from_block))
            if to - start > len(self._blocks):  # a long range: walk the blocks that have events
                return [e for b in sorted(self._blocks) if start <= b <= to for e in self._blocks[b]]
            return [e for b in range(start, to + 1) for e in self._blocks.get(b, ())]


class HubFleet:
    """Serves every hub's API under uvicorn on loopback and steps their watchers from one thread (every
    `poll` seconds, each hub when a new block concerns it) until closed. Use as a context manager;
    `errors` keeps what a step raised.

    `close` returns only once the stepping thread has ended (it stops after the step under way, and
    waits up to `close_timeout` seconds for it): a store is never closed, nor its folder handed back
    to a caller that removes it, while a watcher step still writes there."""

    def __init__(self, hubs: Iterable[Hub], *, poll: float = 0.2, close_timeout: float = 600.0) -> None:
        self.hubs = list(hubs)
        self.poll = poll
        self.close_timeout = close_timeout
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._servers: list[tuple[uvicorn.Server, threading.Thread, socket.socket]] = []
        self._stepper: threading.Thread | None = None
        self._stack = ExitStack()
        self._at: dict[str, int] = {}  # the head each hub's watcher was last stepped at
        #: blocks a quiet hub may fall behind before it is stepped anyway (so no catch-up read is long)
        self.lag = 32

    def add(self, hub: Hub) -> Hub:
        """Serve one more hub (its watcher joins the stepping loop)."""
        server, thread, sock, url = _serve(create_app(hub.ctx))
        self._servers.append((server, thread, sock))
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise DemoHubError(f"hub {hub.name}: uvicorn did not start on {url}")
            time.sleep(0.01)
        hub.url = url
        BlockEventCache.install(hub.ctx.exchange)  # one read of each block for every hub's watcher
        self._at[hub.name] = hub.watcher.start_block
        if hub not in self.hubs:
            self.hubs.append(hub)
        return hub

    def __enter__(self) -> "HubFleet":
        for hub in list(self.hubs):
            self.add(hub)
        QuotePipeline.warm_up()
        self.start()
        return self

    def start(self) -> None:
        """Start the thread that steps the served hubs' watchers (`__enter__` does, once they serve)."""
        if self._stepper is not None:
            raise DemoHubError("the fleet's watchers are already being stepped")
        self._stepper = threading.Thread(target=self._loop, daemon=True, name="hub-watchers")
        self._stepper.start()

    def _due(self, ex: Exchange, since: int | None, head: int) -> list[Hub]:
        """The hubs a new block range concerns: every hub on the first pass; then those whose seller
        a DealOpened names or that know a deal an event names. The others would read nothing to act
        on; their watchers read the range when next stepped (as independent hubs' polls would)."""
        hubs = [h for h in self.hubs if h.url]
        if since is None:
            return hubs
        events = ex.events(since + 1, head)
        sellers = {str(a["seller"]).lower() for n, a, _, _ in events if n == "DealOpened"}
        deals = {int(a["dealId"]) for n, a, _, _ in events if n != "DealOpened" and "dealId" in a}
        return [h for h in hubs if h.seller.address.lower() in sellers or head - self._at.get(h.name, -1) > self.lag
                or any(h.store.get_deal(d) is not None for d in deals)]

    def _loop(self) -> None:
        since: int | None = None
        while not self._stop.is_set():
            try:
                head = int(self.hubs[0].ctx.exchange.w3.eth.block_number) if self.hubs else None
                due = [] if head is None or head == since else self._due(self.hubs[0].ctx.exchange, since, head)
            except Exception as err:  # noqa: BLE001 - retry on the next pass
                self.errors.append(f"fleet: {type(err).__name__}: {err}")
                head, due = since, []
            for hub in due:
                if self._stop.is_set():  # closing: no new step once close() has begun
                    break
                try:
                    self._at[hub.name] = int(head or 0)
                    hub.watcher.step()
                except Exception as err:  # noqa: BLE001 - keep the others going; report at the end
                    self.errors.append(f"{hub.name}: {type(err).__name__}: {err}")
                    log.error("hub %s: watcher step failed (%s)", hub.name, type(err).__name__)
            since = head
            self._stop.wait(self.poll)

    def close(self) -> None:
        """Stop the stepping thread and every server, and close the stores. Raises DemoHubError, closing
        nothing, if a watcher step is still running after `close_timeout` seconds."""
        self._stop.set()
        if self._stepper is not None:
            self._stepper.join(timeout=self.close_timeout)
            if self._stepper.is_alive():  # a step still writes into a hub's store: leave it all open
                raise DemoHubError(f"a hub's watcher step was still running {self.close_timeout:g} s after close(); "
                                   "the hubs' stores are left open (do not remove their folders yet)")
            self._stepper = None
        for server, _, _ in self._servers:
            server.should_exit = True
        for server, thread, sock in self._servers:
            thread.join(timeout=30)
            sock.close()
        self._servers.clear()
        for hub in self.hubs:
            hub.store.close()

    def __exit__(self, *exc: Any) -> None:
        self.close()
