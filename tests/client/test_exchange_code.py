"""client.chain.exchange_code: a wallet sends value only to this build's DataExchange. A hostile hub's
/v1/info can name any contract; one whose openDeal forwards the deposit took a buyer's whole budget."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from web3 import EthereumTesterProvider, Web3

from client.chain import Exchange, NotTheExchange, check_exchange_code, load_artifact
from client.chain.exchange import deploy_contract
from client.chain.exchange_code import exchange_code_problem


@pytest.fixture(scope="module")
def chain():
    w3 = Web3(EthereumTesterProvider())
    a = w3.eth.accounts[0]
    short = Exchange.deploy(w3, sender=a, quote_window=60, accept_window=61, reveal_window=62, dispute_window=63)
    long = Exchange.deploy(w3, sender=a, quote_window=10**6, accept_window=10**6, reveal_window=10**6,
                           dispute_window=2**32)
    other = deploy_contract(w3, "StraightforwardExchange", 60, 61, 62, 63, sender=a)  # the same ABI, other code
    token = deploy_contract(w3, "TestToken", sender=a)
    return w3, short, long, other, token


def test_every_deployment_of_this_build_passes_whatever_its_windows(chain) -> None:
    w3, short, long, _, _ = chain
    assert bytes(w3.eth.get_code(short.address)) != bytes(w3.eth.get_code(long.address))  # the immutables differ
    check_exchange_code(w3, short.address)
    check_exchange_code(w3, long.address)


def test_another_contract_or_none_is_refused_naming_it(chain) -> None:
    w3, _, _, other, token = chain
    for address, words in ((other.address, "is not a DataExchange"), (token.address, "bytes"),
                           ("0x" + "12" * 20, "no contract there")):
        with pytest.raises(NotTheExchange, match=words) as err:
            check_exchange_code(w3, address)
        assert "Nothing was sent" in str(err.value)


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_one_changed_byte_outside_the_immutables_is_refused(chain, data) -> None:
    w3, short, _, _, _ = chain
    art = load_artifact("DataExchange")
    code = bytearray(w3.eth.get_code(short.address))
    masked = {i for refs in art["immutableReferences"].values() for r in refs
              for i in range(r["start"], r["start"] + r["length"])}
    at = data.draw(st.integers(0, len(code) - 1).filter(lambda i: i not in masked))
    code[at] ^= data.draw(st.integers(1, 255))
    assert exchange_code_problem(bytes(code), art) is not None
    assert exchange_code_problem(bytes(w3.eth.get_code(short.address)), art) is None
