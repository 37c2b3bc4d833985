"""Hostile tokens and receivers cannot move value or block anyone else's withdrawal.

Each test builds the attack, checks that the attacked rule held (with the exact custom
error and its fields), and checks conservation (rule 8): the exchange's balance of the
token equals the locked maxPrice of unsettled deals plus every credit.
"""

from __future__ import annotations

import ast
import hashlib
import secrets
import warnings

import pytest
from eth_tester.exceptions import TransactionFailed

from client.chain.errors import (
    ContractRevert,
    EthTransferFailed,
    NothingToWithdraw,
    ReentrancyGuardReentrantCall,
    SafeERC20FailedOperation,
    NoRevertData,
    TransferAmountMismatch,
    WrongPayment,
    decode_revert,
)
from client.chain.exchange import ETH, State, deploy_contract, send_call
from client.delivery import encode_bytes
from tests.contracts.conftest import CAP_MILLI, DATASET, Env

MAX_PRICE = 1000
QUOTE_FEE = 30
PRICE = 600
OTHER_DATASET = b"\x22" * 32


def _terms(label: str) -> bytes:
    return hashlib.sha3_256(label.encode()).digest()


def _erc20(env: Env, name: str, holder: str, amount: int = 10**6):
    """Deploy test token contract `name`, mint `amount` to `holder` and approve the exchange."""
    token = deploy_contract(env.w3, name, sender=env.who.deployer)
    token.functions.mint(holder, amount).transact({"from": env.who.deployer})
    token.functions.approve(env.ex.address, 2**256 - 1).transact({"from": holder})
    return token


def _calldata(env: Env, fn: str, *args) -> bytes:
    return bytes.fromhex(env.ex.contract.encode_abi(fn, list(args))[2:])


def _revert_bytes(err: BaseException) -> bytes:
    """The revert data eth-tester puts, as a bytes repr, into TransactionFailed's message."""
    message = str(err.args[0]) if err.args else ""
    starts = [i for i in (message.find("b'"), message.find('b"')) if i >= 0]
    return ast.literal_eval(message[min(starts):]) if starts else b""


def _fund(env: Env, account: str, wei: int = 10**17) -> None:
    """Force ETH onto `account` (which may refuse it) by a contract that self-destructs in its constructor."""
    init = b"\x73" + bytes.fromhex(account[2:]) + b"\xff"  # PUSH20 account; SELFDESTRUCT
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "SELFDESTRUCT", DeprecationWarning)
        tx = env.w3.eth.send_transaction({"from": env.who.deployer, "data": init, "value": wei})
    env.w3.eth.wait_for_transaction_receipt(tx)
    assert env.w3.eth.get_balance(account) >= wei


def _call_as(env: Env, account: str, fn: str, *args) -> bytes:
    """eth_call `fn` on the exchange from `account` (a contract, too); raises the decoded custom error.

    The caller pays for eth_call's gas like any sender on this chain, so fund contracts first.
    """
    tester = env.w3.provider.ethereum_tester
    try:
        out = tester.call({"from": account, "to": env.ex.address, "data": "0x" + _calldata(env, fn, *args).hex()}, "pending")
    except TransactionFailed as err:
        raise decode_revert(_revert_bytes(err)) from None
    return bytes.fromhex(out[2:])


def _eth_spent(env: Env, receipt) -> int:
    return int(receipt["gasUsed"]) * int(receipt["effectiveGasPrice"])


def _quote(env: Env, deal_id: int, price: int = PRICE) -> bytes:
    """Post an honest quote (epsilon 1.0) for `deal_id`; return the key."""
    key = secrets.token_bytes(32)
    _, _, commitment = encode_bytes(secrets.token_bytes(1500), key)
    env.ex.post_quote(deal_id, price, 1000, commitment, sender=env.who.oracle)
    return key


def _assert_conserved(env: Env, token: str | None, locked: int, accounts: list[str]) -> None:
    """Rule 8 for `token` (None: ETH): balance == locked + the credits of `accounts` (all creditors)."""
    addr = ETH if token is None else token
    credits = sum(env.ex.credit(a, addr) for a in accounts)
    assert env.balance(token) == locked + credits


# ---------------------------------------------------------------- fee-on-transfer


def test_fee_on_transfer_token_open_deal_reverts_with_amount_mismatch_and_leaves_nothing(env: Env) -> None:
    fee = _erc20(env, "FeeOnTransferToken", env.who.buyer)
    before = fee.functions.balanceOf(env.who.buyer).call()

    with pytest.raises(TransferAmountMismatch) as exc:
        env.ex.open_deal(env.who.seller, DATASET, _terms("fee"), MAX_PRICE, QUOTE_FEE, sender=env.who.buyer, token=fee.address)

    assert exc.value.token == fee.address
    assert exc.value.expected == MAX_PRICE
    assert exc.value.received == MAX_PRICE - MAX_PRICE // 100
    assert env.ex.deal_count() == 0
    assert env.ex.state(1) == State.NONE
    assert env.balance(fee.address) == 0
    assert fee.functions.balanceOf(env.who.buyer).call() == before
    assert env.ex.credit(env.who.buyer, fee.address) == 0
    # The failed open did not burn the (seller, dataset, terms) triple: the same terms open with ETH.
    deal_id, _ = env.ex.open_deal(env.who.seller, DATASET, _terms("fee"), MAX_PRICE, QUOTE_FEE, sender=env.who.buyer)
    assert deal_id == 1


# ---------------------------------------------------------------- tokens that lie or are no tokens

# Runtime code that returns 32 zero bytes to every call: balanceOf() is 0 and transferFrom() returns false.
_FALSE_TOKEN_RUNTIME = bytes.fromhex("60206000f3")  # PUSH1 32 PUSH1 0 RETURN
_FALSE_TOKEN_INIT = bytes.fromhex("6005600c60003960056000f3") + _FALSE_TOKEN_RUNTIME


def _deploy_false_token(env: Env) -> str:
    tx = env.w3.eth.send_transaction({"from": env.who.deployer, "data": _FALSE_TOKEN_INIT})
    address = env.w3.eth.wait_for_transaction_receipt(tx)["contractAddress"]
    assert env.w3.eth.get_code(address) == _FALSE_TOKEN_RUNTIME
    return address


def test_token_whose_transfer_from_returns_false_cannot_open_a_deal(env: Env) -> None:
    false_token = _deploy_false_token(env)

    with pytest.raises(SafeERC20FailedOperation) as exc:
        env.ex.open_deal(env.who.seller, DATASET, _terms("false"), MAX_PRICE, 0, sender=env.who.buyer, token=false_token)

    assert exc.value.token == false_token
    assert env.ex.deal_count() == 0
    assert env.ex.state(1) == State.NONE
    assert env.ex.credit(env.who.buyer, false_token) == 0


def test_eoa_as_token_address_cannot_open_a_deal(env: Env) -> None:
    eoa = env.who.stranger
    assert env.w3.eth.get_code(eoa) == b""

    # balanceOf() on an address without code returns nothing, which the ABI decoder refuses:
    # an empty revert, before any transfer is attempted.
    with pytest.raises(ContractRevert) as exc:
        env.ex.open_deal(env.who.seller, DATASET, _terms("eoa"), MAX_PRICE, 0, sender=env.who.buyer, token=eoa)

    assert type(exc.value) in (NoRevertData, SafeERC20FailedOperation)
    if isinstance(exc.value, NoRevertData):
        assert exc.value.data == b"" and "no code" in str(exc.value)
    assert env.ex.deal_count() == 0
    assert env.ex.state(1) == State.NONE


# ---------------------------------------------------------------- wrong msg.value


def test_eth_sent_with_a_token_deal_reverts_with_wrong_payment(env: Env, token) -> None:
    with pytest.raises(WrongPayment) as exc:
        env.ex._tx(
            "openDeal", env.who.seller, DATASET, _terms("tok+eth"), token.address, MAX_PRICE, 0,
            sender=env.who.buyer, value=5,
        )

    assert (exc.value.sent, exc.value.expected) == (5, 0)
    assert env.ex.deal_count() == 0
    assert env.balance() == 0
    assert env.balance(token.address) == 0


@pytest.mark.parametrize("sent", [0, MAX_PRICE - 1, MAX_PRICE + 1, 2 * MAX_PRICE])
def test_eth_deal_with_value_other_than_max_price_reverts_with_wrong_payment(env: Env, sent: int) -> None:
    with pytest.raises(WrongPayment) as exc:
        env.ex._tx(
            "openDeal", env.who.seller, DATASET, _terms(f"eth{sent}"), ETH, MAX_PRICE, 0,
            sender=env.who.buyer, value=sent,
        )

    assert (exc.value.sent, exc.value.expected) == (sent, MAX_PRICE)
    assert env.ex.deal_count() == 0
    assert env.balance() == 0


# ---------------------------------------------------------------- re-entrant token


def _reentrant_seller_with_credit(env: Env):
    """A ReentrantToken R that is itself a seller and holds a credit of QUOTE_FEE in R.

    R registers as seller (oracle: env's oracle) and OTHER_DATASET; the buyer opens a deal in
    R, the oracle quotes, the buyer rejects: R is credited QUOTE_FEE, the buyer the rest.
    """
    ren = _erc20(env, "ReentrantToken", env.who.buyer)
    _fund(env, ren.address)
    ren.functions.exec(env.ex.address, _calldata(env, "registerSeller", env.who.oracle)).transact({"from": env.who.deployer})
    ren.functions.exec(env.ex.address, _calldata(env, "registerDataset", OTHER_DATASET, CAP_MILLI)).transact(
        {"from": env.who.deployer}
    )
    deal_id, _ = env.ex.open_deal(
        ren.address, OTHER_DATASET, _terms("ren-setup"), MAX_PRICE, QUOTE_FEE, sender=env.who.buyer, token=ren.address
    )
    _quote(env, deal_id)
    env.ex.reject(deal_id, sender=env.who.buyer)
    assert env.ex.credit(ren.address, ren.address) == QUOTE_FEE
    assert env.ex.credit(env.who.buyer, ren.address) == MAX_PRICE - QUOTE_FEE
    assert ren.functions.attempts().call() == 0
    return ren


def _assert_reentry_blocked(ren, attempts: int = 1) -> None:
    assert ren.functions.attempts().call() == attempts
    assert ren.functions.successes().call() == 0
    err = decode_revert(ren.functions.lastRevert().call())
    assert isinstance(err, ReentrancyGuardReentrantCall), err


def test_reentrant_token_cannot_withdraw_during_open_deal(env: Env) -> None:
    ren = _reentrant_seller_with_credit(env)
    # Outside re-entry the same call would pay R its credit.
    _call_as(env, ren.address, "withdraw", ren.address)
    ren.functions.arm(env.ex.address, _calldata(env, "withdraw", ren.address)).transact({"from": env.who.deployer})

    deal_id, _ = env.ex.open_deal(
        env.who.seller, DATASET, _terms("ren-open"), MAX_PRICE, QUOTE_FEE, sender=env.who.buyer, token=ren.address
    )

    _assert_reentry_blocked(ren)
    assert env.ex.state(deal_id) == State.OPEN
    assert env.ex.credit(ren.address, ren.address) == QUOTE_FEE
    assert ren.functions.balanceOf(ren.address).call() == 0
    _assert_conserved(env, ren.address, MAX_PRICE, [env.who.buyer, ren.address, env.who.seller])


def test_reentrant_token_cannot_open_a_second_deal_during_open_deal(env: Env) -> None:
    ren = _erc20(env, "ReentrantToken", env.who.buyer)
    _fund(env, ren.address)
    ren.functions.mint(ren.address, 10 * MAX_PRICE).transact({"from": env.who.deployer})
    ren.functions.exec(ren.address, ren.encode_abi("approve", [env.ex.address, 2**256 - 1])).transact({"from": env.who.deployer})
    inner = ("openDeal", env.who.seller, DATASET, _terms("ren-inner"), ren.address, MAX_PRICE, 0)
    # Outside re-entry R could open this deal itself.
    assert int.from_bytes(_call_as(env, ren.address, *inner), "big") == 1
    ren.functions.arm(env.ex.address, _calldata(env, *inner)).transact({"from": env.who.deployer})

    deal_id, _ = env.ex.open_deal(
        env.who.seller, DATASET, _terms("ren-outer"), MAX_PRICE, QUOTE_FEE, sender=env.who.buyer, token=ren.address
    )

    _assert_reentry_blocked(ren)
    assert deal_id == 1
    assert env.ex.deal_count() == 1
    assert env.ex.state(2) == State.NONE
    assert ren.functions.balanceOf(ren.address).call() == 10 * MAX_PRICE
    _assert_conserved(env, ren.address, MAX_PRICE, [env.who.buyer, ren.address, env.who.seller])
    # The inner triple was not consumed by the failed attempt.
    assert int.from_bytes(_call_as(env, ren.address, *inner), "big") == 2


def test_reentrant_token_cannot_withdraw_twice(env: Env) -> None:
    ren = _reentrant_seller_with_credit(env)
    ren.functions.arm(env.ex.address, _calldata(env, "withdraw", ren.address)).transact({"from": env.who.deployer})

    ren.functions.exec(env.ex.address, _calldata(env, "withdraw", ren.address)).transact({"from": env.who.deployer})

    _assert_reentry_blocked(ren)
    assert ren.functions.balanceOf(ren.address).call() == QUOTE_FEE
    assert env.ex.credit(ren.address, ren.address) == 0
    with pytest.raises(NothingToWithdraw) as exc:
        _call_as(env, ren.address, "withdraw", ren.address)
    assert (exc.value.account, exc.value.token) == (ren.address, ren.address)
    _assert_conserved(env, ren.address, 0, [env.who.buyer, ren.address, env.who.seller])


def test_reentrant_token_cannot_take_its_credit_during_buyers_withdraw(env: Env) -> None:
    ren = _reentrant_seller_with_credit(env)
    buyer_before = ren.functions.balanceOf(env.who.buyer).call()
    ren.functions.arm(env.ex.address, _calldata(env, "withdraw", ren.address)).transact({"from": env.who.deployer})

    env.ex.withdraw(ren.address, sender=env.who.buyer)

    _assert_reentry_blocked(ren)
    assert ren.functions.balanceOf(env.who.buyer).call() == buyer_before + MAX_PRICE - QUOTE_FEE
    assert ren.functions.balanceOf(ren.address).call() == 0
    assert env.ex.credit(env.who.buyer, ren.address) == 0
    assert env.ex.credit(ren.address, ren.address) == QUOTE_FEE
    _assert_conserved(env, ren.address, 0, [env.who.buyer, ren.address, env.who.seller])


def test_reentrant_token_cannot_open_a_deal_during_withdraw(env: Env) -> None:
    ren = _reentrant_seller_with_credit(env)
    ren.functions.mint(ren.address, 10 * MAX_PRICE).transact({"from": env.who.deployer})
    ren.functions.exec(ren.address, ren.encode_abi("approve", [env.ex.address, 2**256 - 1])).transact({"from": env.who.deployer})
    inner = ("openDeal", env.who.seller, DATASET, _terms("ren-in-withdraw"), ren.address, MAX_PRICE, 0)
    assert int.from_bytes(_call_as(env, ren.address, *inner), "big") == 2
    ren.functions.arm(env.ex.address, _calldata(env, *inner)).transact({"from": env.who.deployer})

    env.ex.withdraw(ren.address, sender=env.who.buyer)

    _assert_reentry_blocked(ren)
    assert env.ex.deal_count() == 1
    assert env.ex.state(2) == State.NONE
    _assert_conserved(env, ren.address, 0, [env.who.buyer, ren.address, env.who.seller])


# ---------------------------------------------------------------- receivers that refuse ETH


def _exec(env: Env, receiver, fn: str, *args, value: int = 0) -> dict:
    """Have `receiver` (a RevertingReceiver) call the exchange; reverts surface as custom errors."""
    return send_call(env.w3, receiver.functions.exec(env.ex.address, _calldata(env, fn, *args)), env.who.deployer, value)


def test_reverting_buyer_cannot_withdraw_but_keeps_credit_and_seller_withdraws(env: Env) -> None:
    rr = deploy_contract(env.w3, "RevertingReceiver", sender=env.who.deployer)
    _exec(env, rr, "openDeal", env.who.seller, DATASET, _terms("rr-buyer"), ETH, MAX_PRICE, QUOTE_FEE, value=MAX_PRICE)
    assert env.ex.deal_count() == 1
    key = _quote(env, 1)
    _exec(env, rr, "accept", 1)
    env.ex.reveal_key(1, key, sender=env.who.oracle)
    _exec(env, rr, "confirm", 1)
    assert env.ex.state(1) == State.SETTLED

    with pytest.raises(EthTransferFailed) as exc:
        _exec(env, rr, "withdraw", ETH)

    assert (exc.value.to, exc.value.amount) == (rr.address, MAX_PRICE - PRICE)
    assert env.ex.credit(rr.address) == MAX_PRICE - PRICE
    seller_before = env.w3.eth.get_balance(env.who.seller)
    tx = env.ex.withdraw(ETH, sender=env.who.seller)
    receipt = env.w3.eth.get_transaction_receipt(tx.tx_hash)
    assert env.w3.eth.get_balance(env.who.seller) == seller_before + PRICE - _eth_spent(env, receipt)
    assert env.ex.credit(env.who.seller) == 0
    assert env.ex.credit(rr.address) == MAX_PRICE - PRICE
    _assert_conserved(env, None, 0, [rr.address, env.who.seller])


def test_reverting_seller_cannot_withdraw_but_keeps_credit_and_buyer_withdraws(env: Env) -> None:
    rr = deploy_contract(env.w3, "RevertingReceiver", sender=env.who.deployer)
    _exec(env, rr, "registerSeller", env.who.oracle)
    _exec(env, rr, "registerDataset", OTHER_DATASET, CAP_MILLI)
    deal_id, _ = env.ex.open_deal(rr.address, OTHER_DATASET, _terms("rr-seller"), MAX_PRICE, QUOTE_FEE, sender=env.who.buyer)
    key = _quote(env, deal_id)
    env.ex.accept(deal_id, sender=env.who.buyer)
    env.ex.reveal_key(deal_id, key, sender=env.who.oracle)
    env.ex.confirm(deal_id, sender=env.who.buyer)

    with pytest.raises(EthTransferFailed) as exc:
        _exec(env, rr, "withdraw", ETH)

    assert (exc.value.to, exc.value.amount) == (rr.address, PRICE)
    assert env.ex.credit(rr.address) == PRICE
    buyer_before = env.w3.eth.get_balance(env.who.buyer)
    tx = env.ex.withdraw(ETH, sender=env.who.buyer)
    receipt = env.w3.eth.get_transaction_receipt(tx.tx_hash)
    assert env.w3.eth.get_balance(env.who.buyer) == buyer_before + MAX_PRICE - PRICE - _eth_spent(env, receipt)
    assert env.ex.credit(env.who.buyer) == 0
    assert env.ex.credit(rr.address) == PRICE
    _assert_conserved(env, None, 0, [rr.address, env.who.buyer])


def test_reverting_seller_does_not_block_a_second_deal_of_its_buyer(env: Env) -> None:
    """A stuck credit is per account: other deals open, settle and pay out around it."""
    rr = deploy_contract(env.w3, "RevertingReceiver", sender=env.who.deployer)
    _exec(env, rr, "registerSeller", env.who.oracle)
    _exec(env, rr, "registerDataset", OTHER_DATASET, CAP_MILLI)
    first, _ = env.ex.open_deal(rr.address, OTHER_DATASET, _terms("rr-1"), MAX_PRICE, QUOTE_FEE, sender=env.who.buyer)
    _quote(env, first)
    env.ex.reject(first, sender=env.who.buyer)  # rr credited the quote fee
    with pytest.raises(EthTransferFailed):
        _exec(env, rr, "withdraw", ETH)
    second, _ = env.ex.open_deal(env.who.seller, DATASET, _terms("rr-2"), 3 * MAX_PRICE, 0, sender=env.who.buyer)
    env.ex.decline(second, sender=env.who.seller)

    env.ex.withdraw(ETH, sender=env.who.buyer)

    assert env.ex.credit(env.who.buyer) == 0
    assert env.ex.credit(rr.address) == QUOTE_FEE
    _assert_conserved(env, None, 0, [rr.address, env.who.buyer, env.who.seller])


def test_withdraw_with_no_credit_reverts_with_nothing_to_withdraw(env: Env) -> None:
    with pytest.raises(NothingToWithdraw) as exc:
        env.ex.withdraw(ETH, sender=env.who.stranger)
    assert (exc.value.account, exc.value.token) == (env.who.stranger, ETH)

