"""Every custom error DataExchange can raise reaches the caller of the bindings as the exception
of the same name, with its fields, on every send path (protocol change 4).

The paths: web3's gas estimation (an `Exchange` without a gas limit: where web3's own attempt
to read custom-error data as a string raised a raw OverflowError before), the preflight
eth_call (an `Exchange` with a gas limit) and a locally signed transaction
(`build_transaction`, which estimates gas too). One case per error of the contract's ABI; a
new error without a case fails `test_every_error_of_the_abi_has_a_case`.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any, Callable

import pytest
from eth_account import Account
from eth_utils import to_canonical_address

from client.chain import Exchange, State, advance_time, load_artifact
from client.chain.errors import BudgetExceeded, ContractRevert, decode_revert
from client.chain.exchange import ETH, EXACT, MAX_WINDOW, deploy_contract, send_call
from client.delivery import build_complaint
from tests.contracts.conftest import CAP_MILLI, DATASET, QUOTE_WINDOW, Env
from tests.contracts.helpers import MAX_PRICE, PRICE, QUOTE_FEE, release, terms
from tests.contracts.test_hostile import _FALSE_TOKEN_INIT, _calldata, _fund, _reentrant_seller_with_credit

PATHS = ("estimate", "preflight", "signed")


@dataclass
class Ctx:
    """The chain, and the exchange as seen through one send path."""

    env: Env
    ex: Exchange
    path: str

    @property
    def who(self):
        return self.env.who

    def as_sender(self, address: str) -> Any:
        """`address` as the path sends it: itself, or its LocalAccount on the signed path."""
        if self.path != "signed":
            return address
        for key in self.env.w3.provider.ethereum_tester.backend.account_keys:
            account = Account.from_key(key.to_bytes())
            if account.address == address:
                return account
        raise AssertionError(f"no key for {address}")

    def send(self, fn: str, *args: Any, sender: str, value: int = 0) -> dict:
        call = getattr(self.ex.contract.functions, fn)(*args)
        return send_call(self.env.w3, call, self.as_sender(sender), value, self.ex.gas_limit)

    def open(self, label: str = "t", *, buyer: str | None = None, max_price: int = MAX_PRICE, token: str = ETH) -> int:
        deal_id, _ = self.ex.open_deal(self.who.seller, DATASET, terms(label), max_price, QUOTE_FEE,
                                       sender=self.as_sender(buyer or self.who.buyer), token=token)
        return deal_id

    def quote(self, deal_id: int, *, price: int = PRICE, epsilon_milli: int = 1000, commitment=None):
        commitment = commitment or release()[4]
        self.ex.post_quote(deal_id, price, epsilon_milli, commitment, sender=self.as_sender(self.who.oracle))
        return commitment

    def revealed(self) -> tuple[int, Any]:
        """A revealed honest deal and the complaint its buyer could build for chunk 1 (unfounded)."""
        deal_id = self.open("revealed")
        _, key, cipher, leaves, commitment = release(5000)
        self.quote(deal_id, commitment=commitment)
        self.ex.accept(deal_id, sender=self.as_sender(self.who.buyer))
        self.ex.reveal_key(deal_id, key, sender=self.as_sender(self.who.oracle))
        return deal_id, build_complaint(io.BytesIO(cipher), io.BytesIO(leaves), 1, commitment)


def _set_storage(env: Env, slot: int, value: int) -> None:
    """Write one storage slot of the exchange on the embedded chain, and mine it into 'latest'."""
    tester = env.w3.provider.ethereum_tester
    chain = tester.backend.chain
    state = chain.get_vm().state
    state.set_storage(to_canonical_address(env.ex.address), slot, value)
    state.persist()
    chain.header = chain.header.copy(state_root=state.state_root)
    tester.mine_blocks(1)


def _storage_slot(label: str) -> int:
    layout = load_artifact("DataExchange")["storageLayout"]["storage"]
    (slot,) = [int(s["slot"]) for s in layout if s["label"] == label]
    return slot


# Each case prepares the chain through `ctx` and returns the call that must fail and the
# fields its error must carry.
Case = Callable[[Ctx], tuple[Callable[[], None], dict[str, Any]]]
CASES: dict[str, Case] = {}


def case(name: str) -> Callable[[Case], Case]:
    def register(fn: Case) -> Case:
        CASES[name] = fn
        return fn
    return register


@case("WindowOutOfRange")
def _window(ctx: Ctx) -> tuple[Callable[[], None], dict[str, Any]]:
    def trigger() -> None:
        Exchange.deploy(ctx.env.w3, sender=ctx.as_sender(ctx.who.deployer), reveal_window=MAX_WINDOW + 1)

    return trigger, {"which": 2, "window": MAX_WINDOW + 1, "maxWindow": MAX_WINDOW}


@case("InvalidOracle")
def _invalid_oracle(ctx: Ctx) -> tuple[Callable[[], None], dict[str, Any]]:
    def trigger() -> None:
        ctx.ex.register_seller(ETH, sender=ctx.as_sender(ctx.who.buyer2))

    return trigger, {"oracle": ETH}


@case("SellerNotRegistered")
def _seller_not_registered(ctx: Ctx) -> tuple[Callable[[], None], dict[str, Any]]:
    def trigger() -> None:
        ctx.ex.register_dataset(b"\x22" * 32, 1000, sender=ctx.as_sender(ctx.who.stranger))

    return trigger, {"caller": ctx.who.stranger}


@case("CapRaised")
def _cap_raised(ctx: Ctx) -> tuple[Callable[[], None], dict[str, Any]]:
    def trigger() -> None:
        ctx.ex.register_dataset(DATASET, CAP_MILLI + 1, sender=ctx.as_sender(ctx.who.seller))

    return trigger, {"datasetId": DATASET, "currentCapMilli": CAP_MILLI, "requestedCapMilli": CAP_MILLI + 1}


@case("TooManyDatasets")
def _too_many_datasets(ctx: Ctx) -> tuple[Callable[[], None], dict[str, Any]]:
    _set_storage(ctx.env, _storage_slot("_nextDataset"), 2**32 - 1)

    def trigger() -> None:
        ctx.ex.register_dataset(b"\x23" * 32, 1000, sender=ctx.as_sender(ctx.who.seller))

    return trigger, {}


@case("DatasetNotRegistered")
def _dataset_not_registered(ctx: Ctx) -> tuple[Callable[[], None], dict[str, Any]]:
    def trigger() -> None:
        ctx.ex.open_deal(ctx.who.stranger, DATASET, terms("x"), MAX_PRICE, 0, sender=ctx.as_sender(ctx.who.buyer))

    return trigger, {"seller": ctx.who.stranger, "datasetId": DATASET}


@case("TermsAlreadyUsed")
def _terms_already_used(ctx: Ctx) -> tuple[Callable[[], None], dict[str, Any]]:
    deal = ctx.open("used")
    ctx.quote(deal)

    def trigger() -> None:
        ctx.open("used", buyer=ctx.who.buyer2)

    return trigger, {"seller": ctx.who.seller, "datasetId": DATASET, "termsHash": terms("used")}


@case("TermsAlreadyQuoted")
def _terms_already_quoted(ctx: Ctx) -> tuple[Callable[[], None], dict[str, Any]]:
    copy = ctx.open("pair", buyer=ctx.who.stranger)
    mine = ctx.open("pair")
    ctx.quote(mine)

    def trigger() -> None:
        ctx.quote(copy)

    return trigger, {"dealId": copy, "termsHash": terms("pair")}


@case("ZeroMaxPrice")
def _zero_max_price(ctx: Ctx) -> tuple[Callable[[], None], dict[str, Any]]:
    def trigger() -> None:
        ctx.ex.open_deal(ctx.who.seller, DATASET, terms("z"), 0, 0, sender=ctx.as_sender(ctx.who.buyer))

    return trigger, {}


@case("QuoteFeeTooHigh")
def _quote_fee_too_high(ctx: Ctx) -> tuple[Callable[[], None], dict[str, Any]]:
    def trigger() -> None:
        ctx.ex.open_deal(ctx.who.seller, DATASET, terms("f"), MAX_PRICE, MAX_PRICE + 1, sender=ctx.as_sender(ctx.who.buyer))

    return trigger, {"quoteFee": MAX_PRICE + 1, "maxPrice": MAX_PRICE}


@case("AmountTooLarge")
def _amount_too_large(ctx: Ctx) -> tuple[Callable[[], None], dict[str, Any]]:
    def trigger() -> None:
        ctx.ex.open_deal(ctx.who.seller, DATASET, terms("a"), 2**128, 0, sender=ctx.as_sender(ctx.who.buyer), token=ctx.who.stranger)

    return trigger, {"amount": 2**128}


@case("WrongPayment")
def _wrong_payment(ctx: Ctx) -> tuple[Callable[[], None], dict[str, Any]]:
    def trigger() -> None:
        ctx.send("openDeal", ctx.who.seller, DATASET, terms("w"), ETH, MAX_PRICE, 0, sender=ctx.who.buyer, value=MAX_PRICE - 1)

    return trigger, {"sent": MAX_PRICE - 1, "expected": MAX_PRICE}


@case("TransferAmountMismatch")
def _transfer_amount_mismatch(ctx: Ctx) -> tuple[Callable[[], None], dict[str, Any]]:
    fot = deploy_contract(ctx.env.w3, "FeeOnTransferToken", sender=ctx.who.deployer)
    fot.functions.mint(ctx.who.buyer, 10 * MAX_PRICE).transact({"from": ctx.who.deployer})
    fot.functions.approve(ctx.ex.address, 2**256 - 1).transact({"from": ctx.who.buyer})

    def trigger() -> None:
        ctx.open("fot", token=fot.address)

    return trigger, {"token": fot.address, "expected": MAX_PRICE, "received": MAX_PRICE - MAX_PRICE // 100}


@case("SafeERC20FailedOperation")
def _safe_erc20_failed(ctx: Ctx) -> tuple[Callable[[], None], dict[str, Any]]:
    tx = ctx.env.w3.eth.send_transaction({"from": ctx.who.deployer, "data": _FALSE_TOKEN_INIT})
    false_token = ctx.env.w3.eth.wait_for_transaction_receipt(tx)["contractAddress"]

    def trigger() -> None:
        ctx.open("false", token=false_token)

    return trigger, {"token": false_token}


@case("ReentrancyGuardReentrantCall")
def _reentrant_call(ctx: Ctx) -> tuple[Callable[[], None], dict[str, Any]]:
    # The token swallows its re-entrant call's revert (it records it), so this error never
    # reaches a sender; what reaches the bindings is its data, decoded by the same registry.
    ren = _reentrant_seller_with_credit(ctx.env)
    ren.functions.arm(ctx.ex.address, _calldata(ctx.env, "withdraw", ren.address)).transact({"from": ctx.who.deployer})

    def trigger() -> None:
        # succeeds: the token records the re-entrant call's revert
        ctx.ex.open_deal(ctx.who.seller, DATASET, terms("ren"), 1000, 0, sender=ctx.as_sender(ctx.who.buyer), token=ren.address)
        assert ren.functions.attempts().call() == 1
        raise decode_revert(ren.functions.lastRevert().call())

    return trigger, {}


@case("DealWrongState")
def _deal_wrong_state(ctx: Ctx) -> tuple[Callable[[], None], dict[str, Any]]:
    def trigger() -> None:
        ctx.ex.accept(99, sender=ctx.as_sender(ctx.who.buyer))

    return trigger, {"dealId": 99, "state": State.NONE}


@case("NotBuyer")
def _not_buyer(ctx: Ctx) -> tuple[Callable[[], None], dict[str, Any]]:
    deal = ctx.open()
    ctx.quote(deal)

    def trigger() -> None:
        ctx.ex.accept(deal, sender=ctx.as_sender(ctx.who.stranger))

    return trigger, {"dealId": deal, "caller": ctx.who.stranger}


@case("NotOracle")
def _not_oracle(ctx: Ctx) -> tuple[Callable[[], None], dict[str, Any]]:
    deal = ctx.open()

    def trigger() -> None:
        ctx.ex.post_quote(deal, PRICE, 1000, release()[4], sender=ctx.as_sender(ctx.who.seller))

    return trigger, {"dealId": deal, "caller": ctx.who.seller}


@case("NotSellerOrOracle")
def _not_seller_or_oracle(ctx: Ctx) -> tuple[Callable[[], None], dict[str, Any]]:
    deal = ctx.open()

    def trigger() -> None:
        ctx.ex.decline(deal, sender=ctx.as_sender(ctx.who.buyer))

    return trigger, {"dealId": deal, "caller": ctx.who.buyer}


@case("DeadlinePassed")
def _deadline_passed(ctx: Ctx) -> tuple[Callable[[], None], dict[str, Any]]:
    deal = ctx.open()
    due = ctx.ex.deadline(deal)
    advance_time(ctx.env.w3, QUOTE_WINDOW)

    def trigger() -> None:
        ctx.quote(deal)

    return trigger, {"dealId": deal, "deadline": due}


@case("DeadlineNotReached")
def _deadline_not_reached(ctx: Ctx) -> tuple[Callable[[], None], dict[str, Any]]:
    deal = ctx.open()

    def trigger() -> None:
        ctx.ex.refund(deal, sender=ctx.as_sender(ctx.who.stranger))

    return trigger, {"dealId": deal, "deadline": ctx.ex.deadline(deal)}


@case("InvalidPrice")
def _invalid_price(ctx: Ctx) -> tuple[Callable[[], None], dict[str, Any]]:
    deal = ctx.open()

    def trigger() -> None:
        ctx.quote(deal, price=MAX_PRICE + 1)

    return trigger, {"price": MAX_PRICE + 1, "maxPrice": MAX_PRICE}


@case("ZeroSize")
def _zero_size(ctx: Ctx) -> tuple[Callable[[], None], dict[str, Any]]:
    deal = ctx.open()
    c = release()[4]

    def trigger() -> None:
        ctx.send("postQuote", deal, PRICE, 1000, c.data_root, c.cipher_root, c.key_commit, 0, sender=ctx.who.oracle)

    return trigger, {}


@case("ZeroEpsilon")
def _zero_epsilon(ctx: Ctx) -> tuple[Callable[[], None], dict[str, Any]]:
    deal = ctx.open()

    def trigger() -> None:
        ctx.quote(deal, epsilon_milli=0)

    return trigger, {"dealId": deal}


@case("BudgetExceeded")
def _budget_exceeded(ctx: Ctx) -> tuple[Callable[[], None], dict[str, Any]]:
    first = ctx.open("first")
    ctx.quote(first, epsilon_milli=500)
    deal = ctx.open("second")

    def trigger() -> None:
        ctx.quote(deal, epsilon_milli=CAP_MILLI)

    return trigger, {"dealId": deal, "spentMilli": 500, "requestedMilli": CAP_MILLI, "capMilli": CAP_MILLI}


@case("ExactReleaseNotAllowed")
def _exact_not_allowed(ctx: Ctx) -> tuple[Callable[[], None], dict[str, Any]]:
    deal = ctx.open()

    def trigger() -> None:
        ctx.quote(deal, epsilon_milli=EXACT)

    return trigger, {"dealId": deal, "capMilli": CAP_MILLI}


@case("KeyMismatch")
def _key_mismatch(ctx: Ctx) -> tuple[Callable[[], None], dict[str, Any]]:
    deal = ctx.open()
    ctx.quote(deal)
    ctx.ex.accept(deal, sender=ctx.as_sender(ctx.who.buyer))

    def trigger() -> None:
        ctx.ex.reveal_key(deal, bytes(32), sender=ctx.as_sender(ctx.who.oracle))

    return trigger, {"dealId": deal}


@case("ChunkIndexOutOfRange")
def _chunk_index(ctx: Ctx) -> tuple[Callable[[], None], dict[str, Any]]:
    deal, c = ctx.revealed()

    def trigger() -> None:
        ctx.ex.complain_raw(deal, 5, c.cipher_chunk, c.cipher_proof, c.plain_leaf, c.data_proof, sender=ctx.as_sender(ctx.who.buyer))

    return trigger, {"dealId": deal, "index": 5, "chunks": 5}


@case("BadChunkLength")
def _bad_chunk_length(ctx: Ctx) -> tuple[Callable[[], None], dict[str, Any]]:
    deal, c = ctx.revealed()

    def trigger() -> None:
        ctx.ex.complain_raw(deal, 1, c.cipher_chunk + b"\x00", c.cipher_proof, c.plain_leaf, c.data_proof,
                            sender=ctx.as_sender(ctx.who.buyer))

    return trigger, {"chunkLength": 1025}


@case("BadProofLength")
def _bad_proof_length(ctx: Ctx) -> tuple[Callable[[], None], dict[str, Any]]:
    deal, c = ctx.revealed()

    def trigger() -> None:
        ctx.ex.complain_raw(deal, 1, c.cipher_chunk, c.cipher_proof[:-1], c.plain_leaf, c.data_proof,
                            sender=ctx.as_sender(ctx.who.buyer))

    return trigger, {"cipherProofLength": 2, "dataProofLength": 3, "depth": 3}


@case("ProofMismatch")
def _proof_mismatch(ctx: Ctx) -> tuple[Callable[[], None], dict[str, Any]]:
    deal, c = ctx.revealed()

    def trigger() -> None:
        ctx.ex.complain_raw(deal, 1, c.cipher_chunk, c.cipher_proof, bytes(32), c.data_proof, sender=ctx.as_sender(ctx.who.buyer))

    return trigger, {"dealId": deal, "index": 1}


@case("ComplaintUnfounded")
def _complaint_unfounded(ctx: Ctx) -> tuple[Callable[[], None], dict[str, Any]]:
    deal, c = ctx.revealed()

    def trigger() -> None:
        ctx.ex.complain(deal, c, sender=ctx.as_sender(ctx.who.buyer))

    return trigger, {"dealId": deal, "index": 1}


@case("NothingToWithdraw")
def _nothing_to_withdraw(ctx: Ctx) -> tuple[Callable[[], None], dict[str, Any]]:
    def trigger() -> None:
        ctx.ex.withdraw(ETH, sender=ctx.as_sender(ctx.who.stranger))

    return trigger, {"account": ctx.who.stranger, "token": ETH}


@case("EthTransferFailed")
def _eth_transfer_failed(ctx: Ctx) -> tuple[Callable[[], None], dict[str, Any]]:
    rr = deploy_contract(ctx.env.w3, "RevertingReceiver", sender=ctx.who.deployer)
    _fund(ctx.env, rr.address)
    open_call = rr.functions.exec(ctx.ex.address, _calldata(ctx.env, "openDeal", ctx.who.seller, DATASET, terms("rr"), ETH,
                                                             MAX_PRICE, 0))
    send_call(ctx.env.w3, open_call, ctx.as_sender(ctx.who.deployer), MAX_PRICE, ctx.ex.gas_limit)
    ctx.ex.decline(ctx.ex.deal_count(), sender=ctx.as_sender(ctx.who.seller))
    withdraw = rr.functions.exec(ctx.ex.address, _calldata(ctx.env, "withdraw", ETH))

    def trigger() -> None:
        send_call(ctx.env.w3, withdraw, ctx.as_sender(ctx.who.deployer), 0, ctx.ex.gas_limit)

    return trigger, {"to": rr.address, "amount": MAX_PRICE}


def _abi_errors() -> set[str]:
    return {item["name"] for item in load_artifact("DataExchange")["abi"] if item["type"] == "error"}


def test_every_error_of_the_abi_has_a_case():
    assert set(CASES) == _abi_errors()


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("name", sorted(CASES))
def test_each_custom_error_reaches_the_caller_named_with_its_fields(env, name, path):
    ctx = Ctx(env, Exchange(env.w3, env.ex.address, gas_limit=3_000_000 if path == "preflight" else None), path)
    trigger, expected = CASES[name](ctx)
    with pytest.raises(ContractRevert) as err:
        trigger()
    assert type(err.value).__name__ == name and err.value.error_name == name, f"{name} surfaced as {err.value!r}"
    assert {field: getattr(err.value, field) for field in type(err.value).field_names} == expected


@pytest.mark.parametrize("path", PATHS)
def test_budget_exceeded_on_deal_42_is_decoded_not_an_overflow_error(env, path):
    """The reported bug: web3 read BudgetExceeded(dealId=42, spentMilli=500, ...) as an Error(string),
    took 42 as the string's offset and a length beyond any index, and raised OverflowError."""
    ctx = Ctx(env, Exchange(env.w3, env.ex.address, gas_limit=3_000_000 if path == "preflight" else None), path)
    first = ctx.open("first")
    ctx.quote(first, epsilon_milli=500)
    for i in range(2, 42):
        ctx.open(f"deal{i}")
    assert ctx.open("deal42") == 42
    with pytest.raises(BudgetExceeded) as err:
        ctx.quote(42, epsilon_milli=CAP_MILLI)
    assert (err.value.dealId, err.value.spentMilli, err.value.requestedMilli, err.value.capMilli) == (42, 500, CAP_MILLI, CAP_MILLI)
