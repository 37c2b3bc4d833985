"""`make demo`: full deals on the embedded chain, printed step by step with their gas.

One honest ETH deal (open, quote, download and check, accept, reveal, decrypt and check
every chunk, confirm, withdraw) and one deal whose seller committed a corrupted chunk,
which the buyer proves on chain and is refunded in full. Everything runs in process:
web3's EthereumTesterProvider, no node, no network.
"""

from __future__ import annotations

import hashlib
import secrets
import tempfile
from pathlib import Path

from eth_hash.auto import keccak
from rich.console import Console
from rich.table import Table

from client.chain import Exchange, State, connect
from client.delivery import CHUNK, Commitment, build_complaint, decrypt_and_check, encode_file, verify_download
from client.merkle import merkle_root
from client.terms import ETH, build_terms

__all__ = ["main", "run_demo"]

ETHER = 10**18


def _sample_release(path: Path, rows: int = 2000) -> None:
    """A small table standing in for a release: rows of (age, hours, label) as text."""
    rng = secrets.SystemRandom()
    lines = ["age,hours_per_week,label"]
    lines += [f"{rng.randint(18, 90)},{rng.randint(1, 80)},{rng.randint(0, 1)}" for _ in range(rows)]
    path.write_text("\n".join(lines) + "\n")


def _corrupt_commitment(cipher_path: Path, commitment: Commitment, index: int) -> Commitment:
    """What a cheating hub commits to: chunk `index` of the ciphertext flipped, cipherRoot recomputed."""
    cipher = bytearray(cipher_path.read_bytes())
    cipher[index * CHUNK] ^= 0xFF
    cipher_path.write_bytes(cipher)
    leaves = [keccak(bytes(cipher[i : i + CHUNK])) for i in range(0, len(cipher), CHUNK)]
    return Commitment(commitment.data_root, merkle_root(leaves), commitment.key_commit, commitment.size)


def run_demo(console: Console | None = None) -> dict[str, dict[str, int]]:
    """Run both deals; return the gas of each step per deal (for tests and benchmarks)."""
    console = console or Console()
    w3 = connect("embedded")
    deployer, seller, oracle, buyer = w3.eth.accounts[:4]
    ex = Exchange.deploy(w3, sender=deployer)
    console.print(f"[bold]DataExchange[/bold] deployed at {ex.address} on the embedded chain (id {w3.eth.chain_id})")
    ex.register_seller(oracle, sender=seller)
    dataset = hashlib.sha3_256(b"census-2026").digest()
    ex.register_dataset(dataset, 5000, sender=seller)
    console.print(f"seller {seller} registered oracle {oracle} and dataset 0x{dataset.hex()[:16]}… with a cap of 5.000 epsilon")
    gas: dict[str, dict[str, int]] = {}
    # The hub's offer to this buyer (GET /v1/offers): a fixed price, so no spec; both deals take it up.
    offer = {"offerId": "census-2026-fixed", "datasetId": "0x" + dataset.hex(), "tokens": [ETH], "minQuoteFee": str(ETHER // 100),
             "release": {"epsilon": "1", "mechanism": {"name": "table"}},
             "pricing": {"method": "fixed", "price": str(6 * ETHER // 10)}}

    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        for name, cheat in (("honest deal", False), ("cheating seller", True)):
            steps: dict[str, int] = {}
            console.rule(f"[bold]{name}")
            plain, cipher, leaves, received = (tmpdir / f"{name}.{ext}" for ext in ("csv", "cipher", "leaves", "out"))
            _sample_release(plain)
            terms = build_terms(offer, chain_id=w3.eth.chain_id, contract=ex.address, seller=seller, buyer=buyer, token=ETH,
                                max_price=1 * ETHER, quote_fee=ETHER // 100, nonce=name)  # the nonce: one offer, two deals
            deal_id, tx = ex.open_deal(seller, terms.dataset_id_bytes, terms.terms_hash, terms.max_price, terms.quote_fee,
                                       sender=buyer)
            steps["openDeal"] = tx.gas_used
            console.print(f"buyer opened deal {deal_id} on terms {terms.terms_hash_hex[:18]}…, locking 1 ETH (quote fee 0.01 ETH)  "
                          f"[dim]gas {tx.gas_used:,}[/dim]")

            key = secrets.token_bytes(32)
            commitment = encode_file(plain, key, cipher, leaves)
            if cheat:
                commitment = _corrupt_commitment(cipher, commitment, index=commitment.n // 2)
            tx = ex.post_quote(deal_id, terms.fixed_price, terms.epsilon_milli, commitment, sender=oracle)
            steps["postQuote"] = tx.gas_used
            console.print(
                f"hub encrypted {commitment.size:,} bytes into {commitment.n} chunks and quoted 0.6 ETH at epsilon {terms.epsilon}  "
                f"[dim]gas {tx.gas_used:,}[/dim]"
            )

            verify_download(cipher, leaves, commitment)
            console.print("buyer downloaded the ciphertext and plain leaves: both roots and n match the quote")
            tx = ex.accept(deal_id, sender=buyer)
            steps["accept"] = tx.gas_used
            console.print(f"buyer accepted  [dim]gas {tx.gas_used:,}[/dim]")
            tx = ex.reveal_key(deal_id, key, sender=oracle)
            steps["revealKey"] = tx.gas_used
            console.print(f"hub revealed the key on chain  [dim]gas {tx.gas_used:,}[/dim]")

            with open(received, "wb") as out:
                report = decrypt_and_check(cipher, leaves, key, commitment, out)
            if not report.bad_leaves:  # nothing the contract would refund: settle
                tx = ex.confirm(deal_id, sender=buyer)
                steps["confirm"] = tx.gas_used
                same = received.read_bytes() == plain.read_bytes()
                console.print(f"buyer decrypted every chunk (release intact: {same}) and confirmed  [dim]gas {tx.gas_used:,}[/dim]")
                tx = ex.withdraw(sender=seller)
                steps["withdraw (seller)"] = tx.gas_used
                console.print(f"seller withdrew {tx.event('Withdrawn')['amount'] / ETHER} ETH  [dim]gas {tx.gas_used:,}[/dim]")
            else:
                bad = report.bad_leaves[0]  # a chunk the contract refunds for
                complaint = build_complaint(cipher, leaves, bad, commitment)
                tx = ex.complain(deal_id, complaint, sender=buyer)
                steps[f"complain (depth {commitment.depth})"] = tx.gas_used
                console.print(
                    f"[red]chunk {bad} does not decrypt to its committed leaf[/red]: buyer complained with a "
                    f"one-chunk proof and was refunded {tx.event('Refunded')['toBuyer'] / ETHER} ETH  [dim]gas {tx.gas_used:,}[/dim]"
                )
            tx = ex.withdraw(sender=buyer)
            steps["withdraw (buyer)"] = tx.gas_used
            console.print(f"buyer withdrew {tx.event('Withdrawn')['amount'] / ETHER} ETH  [dim]gas {tx.gas_used:,}[/dim]")
            final = ex.state(deal_id)
            console.print(f"deal {deal_id} ended {final.name}; contract balance {w3.eth.get_balance(ex.address)} wei")
            assert final in (State.SETTLED, State.REFUNDED)
            gas[name] = steps

    table = Table(title="gas per step")
    table.add_column("step")
    for name in gas:
        table.add_column(name, justify="right")
    for step in dict.fromkeys(s for steps in gas.values() for s in steps):
        table.add_row(step, *(f"{gas[n][step]:,}" if step in gas[n] else "" for n in gas))
    honest = gas["honest deal"]
    table.add_row("[bold]open → confirm", f"[bold]{sum(v for k, v in honest.items() if not k.startswith('withdraw')):,}", "")
    console.print(table)
    console.print(f"epsilon spent on the dataset: {ex.epsilon_spent(seller, dataset) / 1000} of 5.0")
    return gas


def main() -> None:
    """Entry point of `python -m client.demo`."""
    run_demo()


if __name__ == "__main__":
    main()
