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


def _registered(chain: Chain, n: int) -> None:
    for i in range(n):
        seller = chain.account(f"cache-seller-{chain.w3.eth.block_number}-{i}", ether=1)
        chain.ex.register_seller(seller.address, sender=seller)


def test_event_cache_returns_what_the_chain_returns() -> None:
    """Any range, read before and after more blocks are mined, equals the uncached read."""
    from oracle.demo_hubs import BlockEventCache

    chain = Chain.start()
    read = chain.ex.events
    _registered(chain, 3)
    cache = BlockEventCache.install(chain.ex)
    assert BlockEventCache.install(chain.ex) is cache and chain.ex.events == cache.events
    head = chain.w3.eth.block_number
    assert cache.events(0, head) == read(0, head) and cache.events() == read()
    _registered(chain, 3)
    head2 = chain.w3.eth.block_number
    for frm, to in [(0, head2), (head, head2), (head2, head2), (head - 1, head + 2), (2, "latest")]:
        assert cache.events(frm, to) == read(frm, to), (frm, to)
    assert len(cache.events()) == 6


def test_event_cache_forgets_a_reverted_chain() -> None:
    """Blocks replaced after a snapshot is reverted are read again, not served stale."""
    from oracle.demo_hubs import BlockEventCache

    chain = Chain.start()
    read = chain.ex.events
    tester = chain.w3.provider.ethereum_tester
    _registered(chain, 1)
    snap = tester.take_snapshot()
    _registered(chain, 2)
    cache = BlockEventCache.install(chain.ex)
    assert len(cache.events()) == 3
    tester.revert_to_snapshot(snap)
    _registered(chain, 1)
    assert cache.events() == read() and len(read()) == 2


def test_event_cache_shares_the_chain_lock_so_callers_holding_it_never_deadlock() -> None:
    """A caller holding the chain lock reads events while the fleet's thread reads them too: one
    lock, so neither waits on the other forever (two locks deadlocked the demo in CI)."""
    import threading

    from oracle.demo_hubs import BlockEventCache

    chain = Chain.start()
    _registered(chain, 2)
    cache = BlockEventCache.install(chain.ex)
    assert cache._lock is chain.lock
    stop = threading.Event()

    def fleet() -> None:
        while not stop.is_set():
            cache.events(0, "latest")

    t = threading.Thread(target=fleet, daemon=True)
    t.start()
    done = threading.Event()

    def holder() -> None:
        for _ in range(50):
            with chain.lock:
                cache.events()
        done.set()

    h = threading.Thread(target=holder, daemon=True)
    h.start()
    assert done.wait(60), "a reader holding the chain lock deadlocked with the fleet's reader"
    stop.set()
    t.join(10)
