"""Test helpers for a hub in its own process on anvil: start anvil, set a hub up (keystore, config,
datasets, offers, on-chain registration), run `python -m oracle hub serve` as a subprocess and
SIGKILL it, and a minimal buyer written from the protocol alone (HTTP + EIP-191 + the chain)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import httpx
import pytest
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_hash.auto import keccak

from client.chain import Exchange, connect
from client.chain.exchange import ETH
from oracle.keystore import create_keystore
from oracle.rawdata import dataset_id_for, encode_raw
from oracle.settings import write_config
from oracle.store import DatasetRecord, OfferRecord, Store
from tests.anvil import free_port, running_anvil

ROOT = Path(__file__).resolve().parents[2]
# anvil's well-known development keys (mnemonic "test test ... junk"), funded with 10,000 ETH each
DEV_KEYS = [
    "0xac0974bec39a17e36ba4a6b4d238ff944bacb478cbed5efcae784d7bf4f2ff80",
    "0x59c6995e998f97a5a0044966f0945389dc9e86dae88c7a8412f4603b6b78690d",
    "0x5de4111afa1a4b94908f83103eb1f1706367c2e68ca870fc3fb9a804cdab365a",
    "0x7c852118294e51e653712a81e05800f419141751be58f605c371e15141b007a6",
]
PASSPHRASE = "hub test passphrase"


@pytest.fixture()
def anvil_url():
    """A fresh anvil node on 127.0.0.1 (automine), stopped after the test."""
    with running_anvil() as url:
        yield url


def wait_for(what: str, fn: Callable[[], Any], timeout: float = 60.0, interval: float = 0.1) -> Any:
    """Poll `fn` until it returns something truthy; fail naming `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {what}")
        time.sleep(interval)


@dataclass
class HubProcess:
    """A hub set up under `config_dir` on the anvil at `url`; `start()` runs `hub serve` in a subprocess."""

    url: str
    config_dir: Path
    exchange: Exchange
    seller: str
    port: int
    env: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen | None = None
    runs: int = 0

    @property
    def api(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.config_dir / f"hub-{self.runs}.log"

    def logs(self) -> str:
        """Every run's log so far."""
        return "".join(p.read_text() for p in sorted(self.config_dir.glob("hub-*.log")))

    def start(self, **extra_env: str) -> None:
        """Start `python -m oracle hub serve` and wait until GET /v1/info answers."""
        self.runs += 1
        env = {**os.environ, "SPARTACUS_PASSPHRASE": PASSPHRASE, "SPARTACUS_CONFIG_DIR": str(self.config_dir),
               "SPARTACUS_POLL_INTERVAL": "0.2", "PYTHONPATH": str(ROOT), **self.env, **extra_env}
        env.pop("SPARTACUS_IMPORT_KEY", None)
        out = open(self.log_path, "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "oracle", "hub", "serve", "--port", str(self.port)],
                                     cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)

        def up() -> bool:
            if self.proc.poll() is not None:
                raise AssertionError(f"the hub exited with {self.proc.returncode}:\n{self.logs()[-3000:]}")
            try:
                return httpx.get(self.api + "/v1/info", timeout=1).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for("the hub's API", up, timeout=120, interval=0.2)

    def kill(self) -> None:
        """SIGKILL the hub (no clean-up of any kind) and reap it."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=10)
        self.proc = None

    def store(self) -> Store:
        """The hub's store, opened from the test process (SQLite WAL allows it beside the hub)."""
        return Store(self.config_dir / "data" / "hub.sqlite")


def setup_hub(url: str, config_dir: Path, *, data: dict, schema, offers: list[dict], cap_milli: int,
              confirmations: int = 0, windows: tuple[int, int, int, int] = (3600, 1800, 900, 86400),
              margin_seconds: int = 60) -> HubProcess:
    """Deploy an exchange, make the hub's keystore (anvil key 1 = seller = oracle), register it and
    one dataset "census" on chain, store the raw data and `offers` (dicts of OfferRecord fields
    without dataset_id), and write the config (rpc_url, contract, confirmations, margin)."""
    w3 = connect(url=url)
    deployer = Account.from_key(DEV_KEYS[0])
    q, a, r, d = windows
    ex = Exchange.deploy(w3, sender=deployer, quote_window=q, accept_window=a, reveal_window=r, dispute_window=d)
    seller = create_keystore(config_dir / "keystore.json", PASSPHRASE, private_key=bytes.fromhex(DEV_KEYS[1][2:]))
    acct = Account.from_key(DEV_KEYS[1])
    ex.register_seller(seller, sender=acct)
    ds = dataset_id_for(seller, "census")
    ex.register_dataset(bytes.fromhex(ds[2:]), cap_milli, sender=acct)
    write_config(config_dir, {"rpc_url": url, "contract": ex.address, "confirmations": confirmations,
                              "reveal_margin_seconds": margin_seconds, "reveal_margin_blocks": 5, "block_time": 1.0})
    store = Store(config_dir / "data" / "hub.sqlite")
    rows = len(data["label"])
    store.add_dataset(DatasetRecord(ds, "census", schema.to_json(), rows, cap_milli), encode_raw(data, schema))
    for o in offers:
        store.put_offer(OfferRecord(dataset_id=ds, **o))
    store.close()
    return HubProcess(url=url, config_dir=config_dir, exchange=ex, seller=seller, port=free_port())


class Buyer:
    """A minimal buyer written from protocol.md alone: uploads its spec and terms over HTTP, opens the
    deal on chain, downloads with an EIP-191 `Spartacus` signature, accepts, decrypts, confirms."""

    def __init__(self, hub: HubProcess, key: str = DEV_KEYS[3]) -> None:
        self.hub = hub
        self.acct = Account.from_key(key)
        self.address = self.acct.address
        self.ex = Exchange(connect(url=hub.url), hub.exchange.address)

    def terms(self, offer: dict, dataset_id: str, *, spec_hash: str | None, max_price: int, quote_fee: int,
              nonce: str | None = None) -> bytes:
        """The canonical terms bytes taking up `offer` (as GET /v1/offers lists it)."""
        doc = {"protocol": "spartacus-v1", "chainId": int(self.ex.w3.eth.chain_id), "contract": self.ex.address,
               "seller": self.hub.seller, "buyer": self.address, "datasetId": dataset_id,
               "offerId": offer["offerId"], "specHash": spec_hash, "pricing": offer["pricing"],
               "release": offer["release"], "token": ETH, "maxPrice": str(max_price), "quoteFee": str(quote_fee),
               "priceTolerance": "0"}
        if nonce is not None:
            doc["nonce"] = nonce
        return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()

    def put(self, path: str, body: bytes, content_type: str) -> httpx.Response:
        return httpx.put(self.hub.api + path, content=body, headers={"Content-Type": content_type}, timeout=60)

    def offer(self, offer_id: str) -> dict:
        r = httpx.get(self.hub.api + "/v1/offers", params={"buyer": self.address}, timeout=30)
        assert r.status_code == 200, r.text
        (o,) = [o for o in r.json()["offers"] if o["offerId"] == offer_id]
        return o

    def open(self, terms: bytes, dataset_id: str, max_price: int, quote_fee: int) -> int:
        """PUT the terms (201 expected) and openDeal with their hash."""
        r = self.put("/v1/terms", terms, "application/json")
        assert r.status_code == 201, r.text
        th = keccak(terms)
        assert r.json()["termsHash"] == "0x" + th.hex()
        deal_id, _ = self.ex.open_deal(self.hub.seller, bytes.fromhex(dataset_id[2:]), th, max_price, quote_fee,
                                       sender=self.acct)
        return deal_id

    def auth(self, deal_id: int) -> dict[str, str]:
        issued = int(time.time())
        msg = (f"spartacus delivery\nchain: {int(self.ex.w3.eth.chain_id)}\ncontract: {self.ex.address}\n"
               f"deal: {deal_id}\nissued: {issued}")
        sig = self.acct.sign_message(encode_defunct(text=msg)).signature.hex()
        return {"Authorization": f"Spartacus issued={issued}, signature=0x{sig.removeprefix('0x')}"}

    def download(self, deal_id: int, which: str) -> bytes:
        r = httpx.get(f"{self.hub.api}/v1/deals/{deal_id}/{which}", headers=self.auth(deal_id), timeout=60)
        assert r.status_code == 200, r.text
        return r.content

    def quote(self, deal_id: int) -> dict | None:
        for name, args, _, _ in self.ex.events():
            if name == "Quoted" and args["dealId"] == deal_id:
                return args
        return None

    def event(self, name: str, deal_id: int) -> dict | None:
        for n, args, _, _ in self.ex.events():
            if n == name and args["dealId"] == deal_id:
                return args
        return None
