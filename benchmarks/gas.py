"""Gas of every step of a deal, packed DataExchange against a straightforward baseline.

Prints, side by side and as ratios: each step of an honest ETH deal (first deal on a
fresh contract, when every credit slot is new, and a second deal), an ERC-20 deal, the
withdrawals (reported apart: one withdrawal collects many deals), and a complaint at
depths 0, 3, 10 and 20. Targets (issue 3): open through confirm <= 380k for an ETH deal;
complaint <= 110k at depth 20. Complaints are built synthetically (random proofs whose
roots are then quoted), so depth 20 needs no 1 GiB release.
"""

from __future__ import annotations

import secrets

from eth_hash.auto import keccak
from rich.console import Console
from rich.table import Table

from client.chain import Exchange, connect
from client.chain.exchange import deploy_contract
from client.delivery import CHUNK, Commitment, Complaint, encode_bytes
from client.merkle import root_from_proof

__all__ = ["main", "measure"]

ETHER = 10**18
STEPS = ("openDeal", "postQuote", "accept", "revealKey", "confirm")
TARGET_DEAL = 380_000
TARGET_COMPLAINT_20 = 110_000


def _calldata_floor(data: bytes) -> int:
    """EIP-7623 (prague): a transaction pays at least 21000 + 10 per calldata token."""
    zeros = data.count(0)
    return 21_000 + 10 * (zeros + 4 * (len(data) - zeros))


class _Bench:
    def __init__(self, w3, ex: Exchange, seller: str, oracle: str, buyer: str, dataset: bytes) -> None:
        self.w3, self.ex, self.seller, self.oracle, self.buyer, self.dataset = w3, ex, seller, oracle, buyer, dataset

    def deal(self, token: str | None = None) -> dict[str, int]:
        kwargs = {"token": token} if token else {}
        deal_id, tx = self.ex.open_deal(self.seller, self.dataset, secrets.token_bytes(32), ETHER, ETHER // 100, sender=self.buyer, **kwargs)
        gas = {"openDeal": tx.gas_used}
        key = secrets.token_bytes(32)
        _, _, commitment = encode_bytes(secrets.token_bytes(20_000), key)
        gas["postQuote"] = self.ex.post_quote(deal_id, 6 * ETHER // 10, 100, commitment, sender=self.oracle).gas_used
        gas["accept"] = self.ex.accept(deal_id, sender=self.buyer).gas_used
        gas["revealKey"] = self.ex.reveal_key(deal_id, key, sender=self.oracle).gas_used
        gas["confirm"] = self.ex.confirm(deal_id, sender=self.buyer).gas_used
        return gas

    def complaint(self, depth: int) -> tuple[int, int]:
        """Gas of a successful complaint at `depth`, and the EIP-7623 calldata floor of that transaction."""
        n = 2**depth
        index = n - 1
        chunk, plain_leaf, key = secrets.token_bytes(CHUNK), secrets.token_bytes(32), secrets.token_bytes(32)
        cipher_proof = [secrets.token_bytes(32) for _ in range(depth)]
        data_proof = [secrets.token_bytes(32) for _ in range(depth)]
        commitment = Commitment(root_from_proof(plain_leaf, index, data_proof), root_from_proof(keccak(chunk), index, cipher_proof),
                                keccak(b"\x00" + key), n * CHUNK)
        deal_id, _ = self.ex.open_deal(self.seller, self.dataset, secrets.token_bytes(32), ETHER, 0, sender=self.buyer)
        self.ex.post_quote(deal_id, ETHER // 2, 1, commitment, sender=self.oracle)  # a quote spends epsilon > 0
        self.ex.accept(deal_id, sender=self.buyer)
        self.ex.reveal_key(deal_id, key, sender=self.oracle)
        tx = self.ex.complain(deal_id, Complaint(index, chunk, cipher_proof, plain_leaf, data_proof), sender=self.buyer)
        calldata = bytes(self.w3.eth.get_transaction(tx.tx_hash)["input"])
        return tx.gas_used, _calldata_floor(calldata)


def _setup(contract: str) -> _Bench:
    w3 = connect("embedded")
    deployer, seller, oracle, buyer = w3.eth.accounts[:4]
    if contract == "DataExchange":
        ex = Exchange.deploy(w3, sender=deployer)
    else:
        ex = Exchange(w3, deploy_contract(w3, contract, 3600, 3600, 3600, 86400, sender=deployer).address)
    ex.register_seller(oracle, sender=seller)
    dataset = b"\x42" * 32
    ex.register_dataset(dataset, 2**32 - 2, sender=seller)
    return _Bench(w3, ex, seller, oracle, buyer, dataset)


def measure() -> dict[str, dict[str, int]]:
    """Return {"packed": {...}, "baseline": {...}} with one entry per measured figure."""
    out: dict[str, dict[str, int]] = {}
    for label, contract in (("packed", "DataExchange"), ("baseline", "StraightforwardExchange")):
        bench = _setup(contract)
        fig: dict[str, int] = {}
        first = bench.deal()
        fig.update({f"ETH deal 1: {k}": v for k, v in first.items()})
        fig["ETH deal 1: open→confirm"] = sum(first.values())
        second = bench.deal()
        fig["ETH deal 2: open→confirm"] = sum(second.values())
        fig["withdraw (seller)"] = bench.ex.withdraw(sender=bench.seller).gas_used
        fig["withdraw (buyer)"] = bench.ex.withdraw(sender=bench.buyer).gas_used
        if contract == "DataExchange":
            token = deploy_contract(bench.w3, "TestToken", sender=bench.w3.eth.accounts[0])
            token.functions.mint(bench.buyer, 10 * ETHER).transact({"from": bench.buyer})
            token.functions.approve(bench.ex.address, 2**256 - 1).transact({"from": bench.buyer})
            erc = bench.deal(token.address)
            fig.update({f"ERC-20 deal: {k}": v for k, v in erc.items()})
            fig["ERC-20 deal: open→confirm"] = sum(erc.values())
            fig["ERC-20 withdraw (seller)"] = bench.ex.withdraw(token.address, sender=bench.seller).gas_used
        for depth in (0, 3, 10, 20):
            gas, floor = bench.complaint(depth)
            fig[f"complain depth {depth}"] = gas
            fig[f"complain depth {depth}: calldata floor"] = floor
        out[label] = fig
    return out


def main() -> None:
    """Print the figures side by side with the baseline, as ratios, and the targets."""
    console = Console(width=140)
    figs = measure()
    packed, base = figs["packed"], figs["baseline"]
    table = Table(title="gas: packed DataExchange vs straightforward baseline (same run, embedded py-evm, prague)")
    for col, justify in (("figure", "left"), ("packed", "right"), ("baseline", "right"), ("packed/baseline", "right"), ("target", "right")):
        table.add_column(col, justify=justify)
    targets = {"ETH deal 1: open→confirm": TARGET_DEAL, "ETH deal 2: open→confirm": TARGET_DEAL, "complain depth 20": TARGET_COMPLAINT_20}
    for name, value in packed.items():
        b = base.get(name)
        target = targets.get(name)
        mark = "" if target is None else (f"≤ {target:,} " + ("[green]met[/green]" if value <= target else "[red]missed[/red]"))
        table.add_row(name, f"{value:,}", f"{b:,}" if b else "—", f"{value / b:.3f}" if b else "—", mark)
    console.print(table)
    floor = packed["complain depth 20: calldata floor"]
    console.print(
        f"complaint at depth 20: {packed['complain depth 20']:,} gas; EIP-7623's calldata floor for the same transaction "
        f"is {floor:,}, so no implementation of this interface on prague can go below it."
    )


if __name__ == "__main__":
    main()
