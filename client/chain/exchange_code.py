"""Whether the code at an address is this build's DataExchange. A wallet never sends value to a
contract it has not checked: a hub's `GET /v1/info` names the exchange, and a hostile hub could name a
contract of its own whose `openDeal` forwards the deposit to it (a reviewer's reproduction took a
buyer's whole budget). The runtime code must equal `build/contracts/DataExchange.json`'s
`deployedBytecode`, with the constructor-set immutables (the windows) masked at the positions the
compiler lists in `immutableReferences`."""

from __future__ import annotations

from web3 import Web3

from client.chain.artifacts import load_artifact
from client.errors import ClientError

__all__ = ["NotTheExchange", "check_exchange_code", "exchange_code_problem"]


class NotTheExchange(ClientError, ValueError):
    """Raised when an address holds no code, or code other than this build's DataExchange."""


def exchange_code_problem(code: bytes, artifact: dict | None = None) -> str | None:
    """None when runtime `code` is the artifact's DataExchange (immutables masked); else what differs."""
    art = artifact if artifact is not None else load_artifact("DataExchange")
    expected = bytes.fromhex(art["deployedBytecode"][2:])
    if not code:
        return "there is no contract there"
    if len(code) != len(expected):
        return f"its code is {len(code)} bytes; this build's DataExchange is {len(expected)}"
    masked = bytearray(code)
    for refs in art.get("immutableReferences", {}).values():
        for ref in refs:
            start, length = int(ref["start"]), int(ref["length"])
            masked[start:start + length] = bytes(length)
    if bytes(masked) != expected:
        at = next(i for i, (a, b) in enumerate(zip(masked, expected)) if a != b)
        return f"its code differs from this build's DataExchange from byte {at} on"
    return None


def check_exchange_code(w3: Web3, address: str) -> None:
    """Raise `NotTheExchange` unless `address` holds this build's DataExchange (one `eth_getCode`)."""
    problem = exchange_code_problem(bytes(w3.eth.get_code(Web3.to_checksum_address(address))))
    if problem is not None:
        raise NotTheExchange(f"{address} is not a DataExchange this wallet can trust: {problem}. Nothing was sent; "
                             "check --contract and --network (a hub's /v1/info names the exchange, and a hostile hub "
                             "could name a contract of its own)")
