"""Typed bindings for the DataExchange contract: deploy, transact, read, and decode reverts.

Every state-changing method returns a `TxResult` (gas used and the decoded events), and
every revert surfaces as the contract's custom error of the same name
(`client.chain.errors`), so callers handle `DealWrongState` rather than a hex string.
"""

from __future__ import annotations

import ast
import copy
import re
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any, Iterator, NamedTuple, Sequence

from eth_account.signers.local import LocalAccount
from eth_utils.abi import event_abi_to_log_topic
from web3 import Web3
from web3.contract import Contract
from eth_tester.exceptions import TransactionFailed
from web3.exceptions import ContractCustomError, ContractLogicError, ContractPanicError

from client.chain.artifacts import load_artifact
from client.chain.errors import InsufficientFunds, NoRevertData, decode_revert
from client.delivery import Commitment, Complaint

__all__ = [
    "ETH", "EXACT", "MAX_WINDOW", "Exchange", "Sender", "State", "TxResult", "Windows", "deploy_contract", "send_call",
    "wait_for_success",
]

ETH = "0x0000000000000000000000000000000000000000"
EXACT = 2**32 - 1
MAX_WINDOW = 2**32

Sender = str | LocalAccount


class State(IntEnum):
    """Deal states as the contract numbers them (`state()`, `DealWrongState.state`)."""

    NONE = 0
    OPEN = 1
    QUOTED = 2
    ACCEPTED = 3
    REVEALED = 4
    SETTLED = 5
    REFUNDED = 6


class Windows(NamedTuple):
    """The contract's phase windows in seconds, as its `windows()` view returns them."""

    quote: int
    accept: int
    reveal: int
    dispute: int


@dataclass(frozen=True)
class TxResult:
    """A mined transaction: its hash, gas used and decoded events (name, args)."""

    tx_hash: str
    gas_used: int
    events: list[tuple[str, dict[str, Any]]] = field(default_factory=list)

    def event(self, name: str) -> dict[str, Any]:
        """The args of the first event called `name` (KeyError if the transaction emitted none)."""
        for ev_name, args in self.events:
            if ev_name == name:
                return args
        raise KeyError(f"transaction {self.tx_hash} emitted no {name} event; it emitted {[n for n, _ in self.events]}")


def _address_of(sender: Sender) -> str:
    return sender.address if isinstance(sender, LocalAccount) else Web3.to_checksum_address(sender)


def send_call(w3: Web3, call: Any, sender: Sender, value: int = 0, gas: int | None = None) -> dict:
    """Send any built contract call or constructor from `sender` with `value`; return the receipt.

    Every revert is raised as the custom error of the same name (`client.chain.errors`), on
    every path: the preflight eth_call, web3's gas estimation (where web3's own attempt to read
    custom-error data as a string can raise OverflowError or another decoding error) and
    build_transaction for a local account.

    With `gas` given, the call is first simulated with eth_call (to surface a revert with its
    data) and then sent with that gas limit, which skips gas estimation's repeated runs.
    """
    params: dict[str, Any] = {"from": _address_of(sender), "value": int(value)}
    if gas is not None:
        params["gas"] = int(gas)
    try:
        if gas is not None and hasattr(call, "call"):
            call.call(params)
        if isinstance(sender, LocalAccount):
            params["nonce"] = w3.eth.get_transaction_count(sender.address, "pending")
            tx = call.build_transaction(params)
            signed = sender.sign_transaction(tx)
            tx_hash = w3.eth.send_raw_transaction(signed.raw_transaction)
        else:
            tx_hash = call.transact(params)
    except Exception as err:
        if not any(isinstance(e, _REVERTS) for e in _exception_chain(err)):
            if any(_UNAFFORDABLE.search(str(e)) for e in _exception_chain(err)):
                address = _address_of(sender)
                raise InsufficientFunds(address, int(w3.eth.get_balance(address)), int(value)) from None
            raise  # not a revert: a connection error, a bad argument, ...
        data = _revert_data(err)
        if not data:
            raise NoRevertData(gas_limit=gas) from None
        raise decode_revert(data) from None
    return wait_for_success(w3, tx_hash)


# What web3 and eth-tester raise for a revert. web3's eth-tester provider catches
# TransactionFailed and tries to read its data as an Error(string); on a custom error's data
# that decoding can itself raise (OverflowError when a field read as a string's offset or
# length is huge, e.g. BudgetExceeded(dealId=42, spentMilli=500, ...)), so the revert is then
# found in the raised exception's __context__.
_REVERTS = (ContractCustomError, ContractLogicError, ContractPanicError, TransactionFailed)

# How nodes refuse a transaction its sender cannot pay for: geth and anvil ("insufficient funds for
# gas * price + value"), eth-tester ("cannot afford txn gas ... with account balance ...").
_UNAFFORDABLE = re.compile(r"insufficient funds|cannot afford txn", re.IGNORECASE)


def _exception_chain(err: BaseException) -> Iterator[BaseException]:
    """`err` and the exceptions it was raised from or while handling, each once."""
    seen: set[int] = set()
    current: BaseException | None = err
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def wait_for_success(w3: Web3, tx_hash: Any) -> dict:
    """Wait for `tx_hash` to be mined; return its receipt, or raise NoRevertData if it failed."""
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash)
    if receipt["status"] != 1:
        gas_limit = int(w3.eth.get_transaction(tx_hash)["gas"])
        raise NoRevertData(gas_limit=gas_limit, gas_used=int(receipt["gasUsed"]), tx_hash=receipt["transactionHash"].to_0x_hex())
    return receipt


def _revert_data(err: BaseException) -> bytes:
    """Find the revert data in `err` or the exceptions it was raised from (eth-tester nests them)."""
    for current in _exception_chain(err):
        data = getattr(current, "data", None)
        if isinstance(data, dict):
            data = data.get("data")
        if isinstance(data, str) and data.startswith("0x"):
            return bytes.fromhex(data[2:])
        for arg in [data, *current.args]:
            if isinstance(arg, Exception) and arg.args:
                arg = arg.args[0]
            if isinstance(arg, (bytes, bytearray)):
                return bytes(arg)
            if isinstance(arg, str):
                literal = _bytes_literal(arg)
                if literal is not None:
                    return literal
    return b""


def _bytes_literal(text: str) -> bytes | None:
    """eth-tester's eth_call reports revert data as the repr of a bytes object; parse it back.

    The literal starts at the first `b'` or `b"`, whichever comes first: the data itself may
    hold the other pair (0x62 then 0x27 is `b'`), as QuoteFeeTooHigh(10**18 + 1, 10**18) does.
    """
    starts = [i for i in (text.find("b'"), text.find('b"')) if i >= 0]
    if not starts:
        return None
    start = min(starts)
    try:
        value = ast.literal_eval(text[start:])
    except (ValueError, SyntaxError):
        return None
    return value if isinstance(value, bytes) else None


def deploy_contract(w3: Web3, name: str, *args: Any, sender: Sender) -> Contract:
    """Deploy compiled contract `name` with constructor `args`; return the bound contract."""
    art = load_artifact(name)
    factory = w3.eth.contract(abi=art["abi"], bytecode=art["bytecode"])
    receipt = send_call(w3, factory.constructor(*args), sender)
    return w3.eth.contract(address=receipt["contractAddress"], abi=art["abi"])


class Exchange:
    """The DataExchange contract at `address`, with one method per external function."""

    def __init__(self, w3: Web3, address: str, *, gas_limit: int | None = None) -> None:
        self.w3 = w3
        self.gas_limit = gas_limit
        self.block: int | str = "latest"  # the block the views read (`at_block`)
        self.contract = w3.eth.contract(address=Web3.to_checksum_address(address), abi=load_artifact("DataExchange")["abi"])
        self.address = self.contract.address
        # each log is decoded by the one event its first topic names: trying every event in turn
        # raised and formatted an exception per mismatch, 20-65 ms a log on eth-tester
        self._event_by_topic = {event_abi_to_log_topic(abi): getattr(self.contract.events, abi["name"])
                                for abi in self.contract.abi if abi.get("type") == "event"}

    @classmethod
    def deploy(
        cls,
        w3: Web3,
        *,
        sender: Sender,
        quote_window: int = 3600,
        accept_window: int = 3600,
        reveal_window: int = 3600,
        dispute_window: int = 86400,
        gas_limit: int | None = None,
    ) -> "Exchange":
        """Deploy a new DataExchange with the given phase windows (seconds)."""
        contract = deploy_contract(w3, "DataExchange", quote_window, accept_window, reveal_window, dispute_window, sender=sender)
        return cls(w3, contract.address, gas_limit=gas_limit)

    # -- transactions ---------------------------------------------------------------

    def _tx(self, fn: str, *args: Any, sender: Sender, value: int = 0) -> TxResult:
        receipt = send_call(self.w3, getattr(self.contract.functions, fn)(*args), sender, value, self.gas_limit)
        return TxResult(receipt["transactionHash"].to_0x_hex(), int(receipt["gasUsed"]), self._decode_events(receipt))

    def _decode_events(self, receipt: dict) -> list[tuple[str, dict[str, Any]]]:
        out = []
        for log in receipt["logs"]:
            if Web3.to_checksum_address(log["address"]) != self.address:
                continue
            for ev in self.contract.events:
                try:
                    decoded = ev().process_log(log)
                except Exception:  # noqa: BLE001 - a log of another event type
                    continue
                out.append((decoded["event"], dict(decoded["args"])))
                break
        return out

    def register_seller(self, oracle: str, *, sender: Sender) -> TxResult:
        return self._tx("registerSeller", Web3.to_checksum_address(oracle), sender=sender)

    def register_dataset(self, dataset_id: bytes, epsilon_cap_milli: int, *, sender: Sender) -> TxResult:
        return self._tx("registerDataset", dataset_id, epsilon_cap_milli, sender=sender)

    def open_deal(
        self,
        seller: str,
        dataset_id: bytes,
        terms_hash: bytes,
        max_price: int,
        quote_fee: int,
        *,
        sender: Sender,
        token: str = ETH,
    ) -> tuple[int, TxResult]:
        """Open a deal, locking `max_price` (as ETH value, or by transferFrom for a token)."""
        value = max_price if int(token, 16) == 0 else 0
        result = self._tx(
            "openDeal", Web3.to_checksum_address(seller), dataset_id, terms_hash, Web3.to_checksum_address(token),
            max_price, quote_fee, sender=sender, value=value,
        )
        return int(result.event("DealOpened")["dealId"]), result

    def post_quote(self, deal_id: int, price: int, epsilon_milli: int, commitment: Commitment, *, sender: Sender) -> TxResult:
        return self._tx(
            "postQuote", deal_id, price, epsilon_milli, commitment.data_root, commitment.cipher_root,
            commitment.key_commit, commitment.size, sender=sender,
        )

    def decline(self, deal_id: int, *, sender: Sender) -> TxResult:
        return self._tx("decline", deal_id, sender=sender)

    def accept(self, deal_id: int, *, sender: Sender) -> TxResult:
        return self._tx("accept", deal_id, sender=sender)

    def reject(self, deal_id: int, *, sender: Sender) -> TxResult:
        return self._tx("reject", deal_id, sender=sender)

    def reveal_key(self, deal_id: int, key: bytes, *, sender: Sender) -> TxResult:
        return self._tx("revealKey", deal_id, key, sender=sender)

    def complain(self, deal_id: int, complaint: Complaint, *, sender: Sender) -> TxResult:
        return self.complain_raw(
            deal_id, complaint.index, complaint.cipher_chunk, complaint.cipher_proof,
            complaint.plain_leaf, complaint.data_proof, sender=sender,
        )

    def complain_raw(
        self, deal_id: int, index: int, cipher_chunk: bytes, cipher_proof: Sequence[bytes],
        plain_leaf: bytes, data_proof: Sequence[bytes], *, sender: Sender,
    ) -> TxResult:
        """complain() with every argument given, including malformed ones (for tests)."""
        return self._tx("complain", deal_id, index, cipher_chunk, list(cipher_proof), plain_leaf, list(data_proof), sender=sender)

    def confirm(self, deal_id: int, *, sender: Sender) -> TxResult:
        return self._tx("confirm", deal_id, sender=sender)

    def finalize(self, deal_id: int, *, sender: Sender) -> TxResult:
        return self._tx("finalize", deal_id, sender=sender)

    def refund(self, deal_id: int, *, sender: Sender) -> TxResult:
        return self._tx("refund", deal_id, sender=sender)

    def withdraw(self, token: str = ETH, *, sender: Sender) -> TxResult:
        return self._tx("withdraw", Web3.to_checksum_address(token), sender=sender)

    # -- views ----------------------------------------------------------------------

    def at_block(self, block: int | str) -> "Exchange":
        """The same contract with every view read at `block`: an auditor compares the views with the
        events it replayed up to that block, not with a state others have moved on since."""
        view = copy.copy(self)
        view.block = block
        return view

    def state(self, deal_id: int) -> State:
        return State(self.contract.functions.state(deal_id).call(block_identifier=self.block))

    def credit(self, account: str, token: str = ETH) -> int:
        fn = self.contract.functions.credit(Web3.to_checksum_address(account), Web3.to_checksum_address(token))
        return int(fn.call(block_identifier=self.block))

    def epsilon_spent(self, seller: str, dataset_id: bytes) -> int:
        fn = self.contract.functions.epsilonSpent(Web3.to_checksum_address(seller), dataset_id)
        return int(fn.call(block_identifier=self.block))

    def deal_count(self) -> int:
        return int(self.contract.functions.dealCount().call(block_identifier=self.block))

    def deadline(self, deal_id: int) -> int:
        """The current phase's deadline (block timestamp); 0 for a deal never opened or already ended."""
        return int(self.contract.functions.deadline(deal_id).call(block_identifier=self.block))

    def windows(self) -> Windows:
        """The quote, accept, reveal and dispute windows (seconds) the contract was deployed with."""
        return Windows(*(int(w) for w in self.contract.functions.windows().call(block_identifier=self.block)))

    def oracle_of(self, seller: str) -> str:
        """`seller`'s current oracle (checksummed); the zero address if it never registered."""
        fn = self.contract.functions.oracleOf(Web3.to_checksum_address(seller))
        return Web3.to_checksum_address(fn.call(block_identifier=self.block))

    def deal_opened(self, deal_id: int) -> dict[str, Any] | None:
        """The args of deal `deal_id`'s `DealOpened` (one log query by its indexed id), or None if it was
        never opened on this contract."""
        if not 0 < deal_id < 2**256:
            return None
        ev = self.contract.events.DealOpened()
        logs = ev.get_logs(from_block=0, argument_filters={"dealId": int(deal_id)})
        return dict(logs[0]["args"]) if logs else None

    def events(self, from_block: int = 0, to_block: int | str = "latest") -> list[tuple[str, dict[str, Any], int, int]]:
        """Every event of this contract as (name, args, block, log index), in chain order."""
        logs = self.w3.eth.get_logs({"address": self.address, "fromBlock": from_block, "toBlock": to_block})
        out = []
        for log in logs:
            topics = log["topics"]
            ev = self._event_by_topic.get(bytes(topics[0])) if topics else None
            if ev is None:  # not one of this contract's events (an anonymous or foreign log)
                continue
            decoded = ev().process_log(log)
            out.append((decoded["event"], dict(decoded["args"]), int(log["blockNumber"]), int(log["logIndex"])))
        return out
