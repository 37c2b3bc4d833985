"""The embedded chain the demo and benchmarks share: eth-tester's transaction lookup by index."""

from __future__ import annotations

from eth_tester.backends.pyevm import main as pyevm_main

from oracle.demo_hubs import Chain, index_tester_transactions


def _walk(chain, tx_hash):  # eth-tester's own lookup: every block back from the head
    head = chain.get_block()
    for number in range(head.number - 1, -1, -1):
        block = chain.get_canonical_block_by_number(number)
        for index, tx in enumerate(block.transactions):
            if tx.hash == tx_hash:
                return block, tx, index
    raise AssertionError("not mined")


def test_indexed_lookup_finds_what_the_walk_finds() -> None:
    """Every mined transaction resolves to the same block, transaction and index as the walk."""
    chain = Chain.start()
    hashes = [chain.w3.eth.send_transaction({"from": chain.funder, "to": chain.account(f"x{i}", ether=0).address,
                                             "value": i + 1}) for i in range(6)]
    assert getattr(pyevm_main._get_transaction_by_hash, "indexed", False)
    evm = chain.w3.provider.ethereum_tester.backend.chain
    for h in hashes:
        block, tx, index = pyevm_main._get_transaction_by_hash(evm, bytes(h))
        wblock, wtx, windex = _walk(evm, bytes(h))
        assert (block.number, tx.hash, index) == (wblock.number, wtx.hash, windex)
        receipt = chain.w3.eth.get_transaction_receipt(h)
        assert receipt["blockNumber"] == block.number and receipt["transactionIndex"] == index


def test_the_patch_is_applied_once() -> None:
    """Re-applying keeps the one indexed function (no wrapper of a wrapper)."""
    index_tester_transactions()
    first = pyevm_main._get_transaction_by_hash
    index_tester_transactions()
    assert pyevm_main._get_transaction_by_hash is first
