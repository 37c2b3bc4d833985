"""The contract's custom errors as Python exceptions of the same names.

`decode_revert(data)` turns revert data (selector plus ABI-encoded arguments) into an
instance of the matching class, e.g. `DealWrongState(dealId=3, state=5)`, so callers can
`except DealWrongState` and read the facts of the broken rule.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from eth_abi import decode
from eth_utils import function_signature_to_4byte_selector, to_checksum_address

from client.chain.artifacts import load_artifact
from client.errors import ClientError

__all__ = ["ContractRevert", "InsufficientFunds", "NoRevertData", "UnknownRevert", "decode_revert", "revert_class"]


class InsufficientFunds(ClientError, RuntimeError):
    """Raised when the sender cannot pay a transaction's gas (and value): the node refused it, so
    nothing was sent and nothing changed on chain."""

    def __init__(self, address: str, balance_wei: int, value_wei: int = 0) -> None:
        self.address, self.balance_wei, self.value_wei = address, balance_wei, value_wei
        value = f" and its value of {value_wei / 10**18:g} ETH" if value_wei else ""
        super().__init__(f"account {address} holds {balance_wei / 10**18:g} ETH, too little for the transaction's gas"
                         f"{value}: send it ETH (on a development node such as anvil, from one of the node's funded "
                         "accounts) and run the command again; nothing was sent")


class ContractRevert(ClientError, RuntimeError):
    """Raised when a transaction or call reverts; subclasses carry the custom error's name and fields."""

    error_name: str = "ContractRevert"
    field_names: tuple[str, ...] = ()

    def __init__(self, *args: Any, data: bytes = b"") -> None:
        self.args_values = args
        self.data = data
        fields = ", ".join(f"{n}={_show(v)}" for n, v in zip(self.field_names, args))
        super().__init__(f"{self.error_name}({fields})")

    def __getattr__(self, name: str) -> Any:
        fields = type(self).field_names
        if name in fields:
            return self.args_values[fields.index(name)]
        raise AttributeError(name)


class UnknownRevert(ContractRevert):
    """Raised when revert data matches no custom error of the known contracts."""

    error_name = "UnknownRevert"


class NoRevertData(ContractRevert):
    """Raised when a call or transaction fails without revert data: out of gas, a call to an
    address with no code, or an invalid opcode. Nothing changed on chain."""

    error_name = "NoRevertData"

    def __init__(self, *, gas_limit: int | None = None, gas_used: int | None = None, tx_hash: str | None = None) -> None:
        super().__init__(data=b"")
        self.gas_limit, self.gas_used, self.tx_hash = gas_limit, gas_used, tx_hash
        where = f"transaction {tx_hash} was mined but failed" if tx_hash else "the call failed"
        used = f" after {gas_used:,} of {gas_limit:,} gas" if gas_used is not None and gas_limit else ""
        limit = f" with a gas limit of {gas_limit:,}" if gas_limit and gas_used is None else ""
        self.args = (f"{where}{used}{limit} and left no revert data: it ran out of gas (raise the gas limit), "
                     "called an address with no code, or hit an invalid opcode; nothing changed on chain",)


def _show(value: Any) -> str:
    return "0x" + value.hex() if isinstance(value, bytes) else repr(value)


def _abi_type(inp: dict) -> str:
    return inp["type"]


@lru_cache(maxsize=None)
def _registry() -> dict[bytes, tuple[type[ContractRevert], list[str]]]:
    """Selector -> (exception class, argument types) for every error of every known contract."""
    out: dict[bytes, tuple[type[ContractRevert], list[str]]] = {}
    for contract in ("DataExchange", "RevertingReceiver", "TestToken", "FeeOnTransferToken", "ReentrantToken"):
        try:
            abi = load_artifact(contract)["abi"]
        except FileNotFoundError:
            continue
        for item in abi:
            if item.get("type") != "error":
                continue
            types = [_abi_type(i) for i in item["inputs"]]
            selector = function_signature_to_4byte_selector(f"{item['name']}({','.join(types)})")
            if selector not in out:
                out[selector] = (revert_class(item["name"], tuple(i["name"] for i in item["inputs"])), types)
    return out


_CLASSES: dict[str, type[ContractRevert]] = {}


def revert_class(name: str, field_names: tuple[str, ...] = ()) -> type[ContractRevert]:
    """The exception class for custom error `name` (one class per name, created on first use)."""
    cls = _CLASSES.get(name)
    if cls is None:
        doc = f"Raised when the contract reverts with custom error {name}."
        cls = type(name, (ContractRevert,), {"error_name": name, "field_names": field_names, "__doc__": doc})
        _CLASSES[name] = cls
    elif field_names and not cls.field_names:
        cls.field_names = field_names
    return cls


def decode_revert(data: bytes | str | None) -> ContractRevert:
    """Decode revert data into the matching custom-error exception (UnknownRevert if none)."""
    if isinstance(data, str):
        data = bytes.fromhex(data[2:] if data.startswith("0x") else data)
    data = data or b""
    if data[:4] == bytes.fromhex("08c379a0"):  # Error(string)
        (message,) = decode(["string"], data[4:])
        return revert_class("Error", ("message",))(message, data=data)
    if data[:4] == bytes.fromhex("4e487b71"):  # Panic(uint256)
        (code,) = decode(["uint256"], data[4:])
        return revert_class("Panic", ("code",))(code, data=data)
    entry = _registry().get(data[:4])
    if entry is None:
        return UnknownRevert(data, data=data)
    cls, types = entry
    values = decode(types, data[4:]) if types else ()
    values = tuple(to_checksum_address(v) if t == "address" else v for t, v in zip(types, values))
    return cls(*values, data=data)


def __getattr__(name: str) -> type[ContractRevert]:
    """`from client.chain.errors import DealWrongState` works for every custom error."""
    for cls, _types in _registry().values():
        if cls.__name__ == name:
            return cls
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
