"""The protocol's numbers agree across the client, the compiled kernels and the contract."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from client import _keccak_batch as kb
from client import constants, delivery, terms
from client.constants import EXACT, epsilon_text, token_text

REPO = Path(__file__).resolve().parents[2]


def test_python_chunk_equals_the_contract_source():
    source = (REPO / "contracts" / "DataExchange.sol").read_text()
    found = re.findall(r"uint256 public constant CHUNK = (\d+);", source)
    assert found == [str(constants.CHUNK)], f"DataExchange.sol declares CHUNK = {found}, the client {constants.CHUNK}"


def test_python_chunk_equals_the_deployed_contract():
    from client.chain import Exchange, connect

    w3 = connect("embedded")
    ex = Exchange.deploy(w3, sender=w3.eth.accounts[0])
    assert ex.contract.functions.CHUNK().call() == constants.CHUNK == delivery.CHUNK


def test_exact_is_the_contracts_uint32_max():
    from client.chain.artifacts import load_artifact

    abi = load_artifact("DataExchange")["abi"]
    cap = next(f for f in abi if f.get("name") == "registerDataset")["inputs"][1]
    assert cap["type"] == "uint32" and constants.EXACT == 2**32 - 1 == terms.EXACT


def test_derived_numbers_follow_chunk():
    assert delivery.WORDS_PER_CHUNK * delivery.WORD == constants.CHUNK
    # the kernels' lane counts, from CHUNK and keccak256's 136-byte rate
    assert kb._CHUNK_LANES * 8 == constants.CHUNK
    assert kb._LEAF_LANES * 8 == 32 + 8 + constants.CHUNK  # salt ‖ uint64(index) ‖ chunk
    assert kb._RATE_LANES * 8 == 136 == (1600 - 2 * 256) // 8
    for lanes, blocks in ((kb._LEAF_LANES, kb._LEAF_BLOCKS), (kb._CHUNK_LANES, kb._CHUNK_BLOCKS)):
        assert (blocks - 1) * 136 <= lanes * 8 < blocks * 136  # the fewest blocks leaving room for the pad byte
    assert (kb._CHUNK_LANES, kb._LEAF_LANES, kb._LEAF_BLOCKS, kb._CHUNK_BLOCKS) == (128, 133, 8, 8)  # at CHUNK = 1024


@pytest.mark.parametrize("milli, text", [(EXACT, "exact"), (1000, "1"), (250, "0.25"), (1, "0.001"),
                                         (EXACT - 1, "4294967.294"), (None, "")])
def test_an_epsilon_milli_reads_as_exact_or_its_decimal(milli, text) -> None:
    assert epsilon_text(milli) == text


def test_a_token_reads_as_eth_for_the_zero_address_else_as_itself() -> None:
    assert token_text("0x" + "00" * 20) == "ETH"
    assert token_text("0x" + "00" * 19 + "01") == "0x" + "00" * 19 + "01"
