"""Chain bindings: artifacts, networks, the DataExchange contract and its custom errors."""

from client.chain.artifacts import ArtifactMissing, load_artifact
from client.chain.errors import ContractRevert, decode_revert, revert_class
from client.chain.exchange import Exchange, State, TxResult, Windows
from client.chain.exchange_code import NotTheExchange, check_exchange_code
from client.chain.networks import connect, advance_time, chain_time

__all__ = [
    "ArtifactMissing",
    "ContractRevert",
    "Exchange",
    "NotTheExchange",
    "State",
    "TxResult",
    "Windows",
    "advance_time",
    "chain_time",
    "check_exchange_code",
    "connect",
    "decode_revert",
    "load_artifact",
    "revert_class",
]
