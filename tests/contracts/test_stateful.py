"""Stateful test of DataExchange: random sequences of every external function by random
actors, with random time jumps, against a Python model of protocol.md's rules 1-9.

After every call the model says whether the protocol allows it. An allowed call must
succeed on chain; a forbidden one must revert with a custom error naming a rule the call
actually breaks (with that error's fields). After every mined transaction the whole
observable state is compared with the model: each deal's `state()` and `deadline()`,
`dealCount()`, every actor's credit in ETH and in the ERC-20, each dataset's
`epsilonSpent`, and conservation (rule 8): for each token, the contract's balance equals
the locked maxPrice of deals not yet Settled/Refunded plus all credits.

Rule 2 as revised (issue 25): a (seller, datasetId, termsHash) is used once a deal with it
is quoted; until then any number of deals may open with it (a copier's deal beside the
buyer's, or the same pair re-opened after a decline or a lapse), and once one is quoted the
others can only end unquoted. `copy_terms` opens such copies on purpose.

Speed: the embedded chain costs ~40 ms per mined transaction and ~3 ms per eth_call
through eth-tester directly (several times that through web3 middleware and gas
estimation), so this module talks to eth-tester directly: every call is first run as an
eth_call on the pending block (same timestamp the transaction will be mined with), which
yields the revert data for forbidden calls without mining anything; only allowed calls
are mined, and only then is the chain state re-read (a forbidden call or a time jump
changes no contract storage). Each example starts from a snapshot taken after the
module's one-off deployment.
"""

from __future__ import annotations

import ast
import time
from dataclasses import dataclass
from typing import Any

from eth_abi import encode as abi_encode
from eth_tester.backends.pyevm.main import EVMSpoofTransaction
from eth_tester.exceptions import TransactionFailed
from eth_utils import function_signature_to_4byte_selector, to_canonical_address
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from client.chain import Exchange, connect
from client.chain.errors import ContractRevert, decode_revert
from client.chain.exchange import ETH, deploy_contract
from client.delivery import Commitment, build_complaint, encode_bytes
from client.merkle import merkle_root

from eth_hash.auto import keccak

# ---------------------------------------------------------------- parameters

QUOTE_WINDOW, ACCEPT_WINDOW, REVEAL_WINDOW, DISPUTE_WINDOW = 100, 60, 80, 150
LONGEST_WINDOW = max(QUOTE_WINDOW, ACCEPT_WINDOW, REVEAL_WINDOW, DISPUTE_WINDOW)
EXACT = 2**32 - 1
U128 = 2**128 - 1
GAS = 2_000_000
ZERO_ADDRESS = "0x" + "00" * 20

MAX_EXAMPLES = 10_000 if settings.default.max_examples >= 10_000 else 200
STEP_COUNT = 25

# Open, Quoted, ... as the contract numbers them.
NONE, OPEN, QUOTED, ACCEPTED, REVEALED, SETTLED, REFUNDED = range(7)

ACTORS = ("seller", "oracle", "buyer", "buyer2", "stranger")
DATASETS = (b"\xd0" * 32, b"\xd1" * 32, b"\xd2" * 32)
INITIAL_CAPS = {DATASETS[0]: 3000, DATASETS[1]: EXACT}  # registered by the seller at setup
TERMS = tuple(bytes([0x70 + i]) * 32 for i in range(5))
CAPS = (0, 500, 1000, 2999, 3000, 3001, 10_000, EXACT - 1, EXACT)
EPSILONS = (0, 1, 500, 1000, 2000, 3000, EXACT - 2, EXACT - 1, EXACT)
MINTED = 2**200

# ---------------------------------------------------------------- releases

KEY = keccak(b"spartacus stateful key")
WRONG_KEY = keccak(b"not the key")
_DATA = b"".join(keccak(i.to_bytes(4, "big")) for i in range(94))[:3000]  # 3 chunks
CHUNKS = 3
TAMPERED_INDEX = 1


def _releases() -> tuple[dict[str, Commitment], dict[tuple[str, int], Any]]:
    """An honest encoding and one whose chunk TAMPERED_INDEX was altered after encryption,
    with cipherRoot recomputed over the altered ciphertext (the seller commits to garbage),
    and the complaint the buyer would build for every chunk of each."""
    cipher, leaves, honest = encode_bytes(_DATA, KEY)
    bad = bytearray(cipher)
    bad[TAMPERED_INDEX * 1024 + 7] ^= 0xFF
    bad = bytes(bad)
    root = merkle_root([keccak(bad[i * 1024 : (i + 1) * 1024]) for i in range(CHUNKS)])
    tampered = Commitment(honest.data_root, root, honest.key_commit, honest.size)
    complaints = {}
    for kind, c, commitment in (("honest", cipher, honest), ("tampered", bad, tampered)):
        for index in range(CHUNKS):
            complaints[kind, index] = build_complaint(c, leaves, index, commitment)
    return {"honest": honest, "tampered": tampered}, complaints


COMMITMENTS, COMPLAINTS = _releases()

# ---------------------------------------------------------------- chain access


def _revert_bytes(err: BaseException) -> bytes:
    """eth-tester reports custom-error revert data as a bytes repr inside TransactionFailed's message."""
    message = str(err.args[0]) if err.args else ""
    starts = [i for i in (message.find("b'"), message.find('b"')) if i >= 0]
    return ast.literal_eval(message[min(starts):]) if starts else b""


class Chain:
    """One embedded chain per process: the exchange, a TestToken, funded and approved actors,
    a registered seller with two datasets, and the snapshot every example starts from."""

    def __init__(self) -> None:
        self.w3 = connect("embedded")
        self.tester = self.w3.provider.ethereum_tester
        accounts = self.w3.eth.accounts
        deployer = accounts[0]
        self.who = dict(zip(ACTORS, accounts[1 : 1 + len(ACTORS)]))
        ex = Exchange.deploy(
            self.w3, sender=deployer, quote_window=QUOTE_WINDOW, accept_window=ACCEPT_WINDOW,
            reveal_window=REVEAL_WINDOW, dispute_window=DISPUTE_WINDOW, gas_limit=GAS,
        )
        self.exchange = ex.address
        token = deploy_contract(self.w3, "TestToken", sender=deployer)
        self.token = token.address
        for account in self.who.values():
            token.functions.mint(account, MINTED).transact({"from": deployer})
            token.functions.approve(ex.address, 2**256 - 1).transact({"from": account})
        ex.register_seller(self.who["oracle"], sender=self.who["seller"])
        for dataset, cap in INITIAL_CAPS.items():
            ex.register_dataset(dataset, cap, sender=self.who["seller"])
        self.fns = self._abi(ex.contract.abi)
        self.token_fns = self._abi(token.abi)
        self._stranger_bytes = to_canonical_address(self.who["stranger"])
        self._exchange_bytes = to_canonical_address(self.exchange)
        self.snapshot = self.tester.take_snapshot()

    @staticmethod
    def _abi(abi: list[dict]) -> dict[str, tuple[bytes, list[str]]]:
        out = {}
        for item in abi:
            if item.get("type") == "function":
                types = [i["type"] for i in item["inputs"]]
                out[item["name"]] = (function_signature_to_4byte_selector(f"{item['name']}({','.join(types)})"), types)
        return out

    def reset(self) -> None:
        """Back to the snapshot, then far ahead of the wall clock: py-evm stamps a block
        max(parent + 1, wall clock), so an example whose chain time stayed near the wall
        clock could replay with other timestamps, and Hypothesis would call it flaky."""
        self.tester.revert_to_snapshot(self.snapshot)
        self.travel_to(max(self.now(), int(time.time())) + 100_000)

    def now(self) -> int:
        """The timestamp the next transaction (and an eth_call on 'pending') executes at."""
        return int(self.tester.get_block_by_number("pending")["timestamp"])

    def travel_to(self, timestamp: int) -> None:
        """Make `timestamp` the time of the next transaction (if it is in the future)."""
        if timestamp > self.now():
            self.tester.time_travel(timestamp)
            assert self.now() == timestamp

    def _data(self, fns: dict, fn: str, args: tuple) -> str:
        selector, types = fns[fn]
        return "0x" + (selector + abi_encode(types, list(args))).hex()

    def call(self, sender: str, fn: str, *args: Any, value: int = 0, to: str | None = None, fns: dict | None = None) -> bytes:
        """eth_call on the pending block; raises the decoded custom error on revert."""
        tx = {"from": sender, "to": to or self.exchange, "data": self._data(fns or self.fns, fn, args), "value": value, "gas": GAS}
        try:
            out = self.tester.call(tx, "pending")
        except TransactionFailed as err:
            raise decode_revert(_revert_bytes(err)) from None
        return bytes.fromhex(out[2:])

    def view(self, fn: str, *args: Any) -> int:
        return int.from_bytes(self.call(self.who["stranger"], fn, *args), "big")

    def send(self, sender: str, fn: str, *args: Any, value: int = 0) -> dict:
        tx = {"from": sender, "to": self.exchange, "data": self._data(self.fns, fn, args), "value": value, "gas": GAS}
        tx_hash = self.tester.send_transaction(tx)
        receipt = self.tester.get_transaction_receipt(tx_hash)
        assert receipt["status"] == 1, f"{fn}{args} from {sender} passed eth_call but failed when mined: {receipt}"
        return receipt

    def views(self, calls: list[tuple[str, tuple]]) -> list[int]:
        """Many uint views of the exchange, run on one EVM state of the pending block.

        Same answers as one eth_call each, about three times faster: eth-tester rebuilds the
        state (and its trie caches) for every eth_call, which dominates this test's runtime.
        """
        backend = self.tester.backend
        vm = backend.chain.get_vm()
        state = vm.state
        sender, to = self._stranger_bytes, self._exchange_bytes
        nonce, fee = state.get_nonce(sender), 2 * vm.get_header().base_fee_per_gas
        out = []
        for fn, args in calls:
            data = bytes.fromhex(self._data(self.fns, fn, args)[2:])
            tx = backend.chain.create_unsigned_transaction(nonce=nonce, gas_price=fee, gas=GAS, to=to, value=0, data=data)
            snapshot = state.snapshot()
            computation = state.apply_transaction(EVMSpoofTransaction(tx, from_=sender))
            state.revert(snapshot)
            assert not computation.is_error, f"view {fn}{args} reverted: {computation._error}"
            out.append(int.from_bytes(computation.output, "big"))
        return out

    def eth_balance(self, account: str) -> int:
        return int(self.tester.get_balance(account))

    def token_balance(self, account: str) -> int:
        out = self.call(self.who["stranger"], "balanceOf", account, to=self.token, fns=self.token_fns)
        return int.from_bytes(out, "big")


_CHAIN: Chain | None = None


def _chain() -> Chain:
    global _CHAIN
    if _CHAIN is None:
        _CHAIN = Chain()
    return _CHAIN


# ---------------------------------------------------------------- the model


@dataclass
class Deal:
    id: int
    buyer: str
    seller: str
    dataset: bytes
    token: str
    max_price: int
    quote_fee: int
    state: int = OPEN
    deadline: int = 0
    price: int = 0
    kind: str = ""  # which commitment the quote used: honest or tampered
    terms: bytes = b""

    @property
    def pair(self) -> tuple[str, bytes, bytes]:
        return self.seller, self.dataset, self.terms


class Forbidden(list):
    """The custom errors (name, expected fields) a forbidden call may revert with: one per
    rule it breaks, since protocol.md does not order the checks."""

    def add(self, name: str, **fields: Any) -> "Forbidden":
        self.append((name, fields))
        return self


def _err(name: str, **fields: Any) -> Forbidden:
    return Forbidden().add(name, **fields)


actor_st = st.sampled_from(("proper",) * 6 + ACTORS)
deal_st = st.integers(0, 15)
token_st = st.sampled_from(("eth", "token"))


class DataExchangeMachine(RuleBasedStateMachine):
    """Chain and model side by side; every rule calls the contract and compares."""

    def __init__(self) -> None:
        super().__init__()
        self.chain = _chain()
        self.chain.reset()
        who = self.chain.who
        self.who = who
        self.tokens = {"eth": ETH, "token": self.chain.token}
        self.oracles: dict[str, str] = {who["seller"]: who["oracle"]}
        self.ledgers: dict[tuple[str, bytes], list[int]] = {(who["seller"], d): [cap, 0] for d, cap in INITIAL_CAPS.items()}
        self.used: set[tuple[str, bytes, bytes]] = set()  # pairs quoted once (rule 2)
        self.deals: list[Deal] = []
        self.credits: dict[tuple[str, str], int] = {(a, t): 0 for a in who.values() for t in self.tokens.values()}
        self.dirty = True  # the chain may differ from the model until _check has run

    # -- helpers -------------------------------------------------------------------

    def _actor(self, choice: str, proper: str | None = None) -> str:
        if choice == "proper":
            return proper or self.who["buyer"]
        return self.who[choice]

    def _pick(self, pick: int, *states: int) -> tuple[int, Deal | None]:
        """Mostly a deal in one of `states` (if any), else any id including one never opened."""
        fitting = [d for d in self.deals if d.state in states]
        if fitting and pick < 10:
            d = fitting[pick % len(fitting)]
            return d.id, d
        deal_id = 1 + pick % (len(self.deals) + 1)
        return deal_id, (self.deals[deal_id - 1] if deal_id <= len(self.deals) else None)

    def _state_of(self, deal: Deal | None) -> int:
        return deal.state if deal else NONE

    def _locked(self, token: str) -> int:
        return sum(d.max_price for d in self.deals if d.token == token and d.state not in (SETTLED, REFUNDED))

    def _credit(self, account: str, token: str, amount: int) -> None:
        self.credits[account, token] += amount

    def _sellers_side(self, deal: Deal) -> set[str]:
        return {deal.seller, self.oracles[deal.seller]}

    def _do(self, forbidden: Forbidden, sender: str, fn: str, *args: Any, value: int = 0) -> bytes | None:
        shown = tuple(a.hex()[:16] + "…" if isinstance(a, bytes) else "[…]" if isinstance(a, list) else a for a in args)
        return self._run(forbidden, sender, fn, shown, args, value)

    def _run(self, forbidden: Forbidden, sender: str, fn: str, shown: tuple, args: tuple, value: int) -> bytes | None:
        """Run `fn` as the model predicts: forbidden (a non-empty list) must revert with one of
        its errors; allowed must succeed and is then mined. Returns eth_call's output if mined."""
        try:
            out = self.chain.call(sender, fn, *args, value=value)
        except ContractRevert as err:
            assert forbidden, f"the model allows {fn}{shown} from {sender} but the contract reverted with {err}"
            names = [name for name, _ in forbidden]
            assert err.error_name in names, f"{fn}{shown}: reverted with {err}, the rules it breaks say one of {forbidden}"
            for name, fields in forbidden:
                if name == err.error_name and all(getattr(err, k) == v for k, v in fields.items()):
                    return None
            raise AssertionError(f"{fn}{shown}: reverted with {err}, expected fields {forbidden}") from None
        assert not forbidden, f"{fn}{shown} from {sender} succeeded but the model forbids it: {forbidden}"
        self.receipt = self.chain.send(sender, fn, *args, value=value)
        self.dirty = True
        return out

    # -- invariants (after every mined transaction) --------------------------------

    @invariant()
    def chain_matches_model(self) -> None:
        """Runs after every step; re-reads the chain only if a transaction was mined since
        the last check (eth_calls and time jumps leave contract storage as it was)."""
        if self.dirty:
            self._check()
            self.dirty = False

    def _check(self) -> None:
        chain = self.chain
        deal_ids = range(1, len(self.deals) + 2)  # and the next id, never opened
        credit_keys = [(a, t) for t in self.tokens.values() for a in self.who.values()]
        ledger_keys = list(self.ledgers)
        got = iter(chain.views(
            [("dealCount", ())] + [(fn, (i,)) for i in deal_ids for fn in ("state", "deadline")]
            + [("credit", k) for k in credit_keys] + [("epsilonSpent", k) for k in ledger_keys]
        ))
        # (b) every deal's state, its current deadline (0 once ended) and the deal count
        assert next(got) == len(self.deals), "dealCount"
        for deal_id in deal_ids:
            deal = self.deals[deal_id - 1] if deal_id <= len(self.deals) else None
            want = deal.state if deal else NONE
            state, deadline = next(got), next(got)
            assert state == want, f"deal {deal_id}: chain state {state}, model {want}"
            want_deadline = deal.deadline if deal and deal.state in (OPEN, QUOTED, ACCEPTED, REVEALED) else 0
            assert deadline == want_deadline, f"deal {deal_id}: chain deadline {deadline}, model {want_deadline}"
        # (a) credits of every actor, and conservation per token (rule 8)
        totals = dict.fromkeys(self.tokens.values(), 0)
        for account, token in credit_keys:
            credit = next(got)
            assert credit == self.credits[account, token], f"credit({account}, {token}): chain {credit}, model {self.credits[account, token]}"
            totals[token] += credit
        for token, total in totals.items():
            balance = chain.eth_balance(chain.exchange) if token == ETH else chain.token_balance(chain.exchange)
            assert balance == self._locked(token) + total, (
                f"rule 8 broken for {token}: balance {balance} != locked {self._locked(token)} + credits {total}"
            )
        # (c) the privacy ledger
        for (seller, dataset) in ledger_keys:
            spent = next(got)
            assert spent == self.ledgers[seller, dataset][1], f"epsilonSpent({seller}, {dataset.hex()}): chain {spent}, model {self.ledgers[seller, dataset][1]}"

    @initialize(prices=st.tuples(st.integers(1, 10**21), st.integers(1, 10**21)), stage=st.integers(0, 3),
                kind=st.sampled_from(("honest", "tampered")))
    def two_live_deals(self, prices: tuple[int, int], stage: int, kind: str) -> None:
        """Every example starts with an open deal in ETH and a deal in the token taken to a
        random stage (Open, Quoted, Accepted or Revealed), so steps are not spent getting there."""
        self.open_deal("buyer", "seller", DATASETS[0], TERMS[0], "eth", prices[0], "part", "exact")
        self.open_deal("buyer2", "seller", DATASETS[1], TERMS[1], "token", prices[1], "part", "exact")
        if stage >= 1:
            self.post_quote("proper", 1, "valid", 500, 1000, kind)
        if stage >= 2:
            self.accept("proper", 0)
        if stage >= 3:
            self.reveal_key("proper", 0, True)
        assert [d.state for d in self.deals] == [OPEN, (OPEN, QUOTED, ACCEPTED, REVEALED)[stage]]

    # -- sellers and datasets ------------------------------------------------------

    @rule(actor=st.sampled_from(ACTORS), oracle=st.sampled_from(ACTORS + ("zero",)))
    def register_seller(self, actor: str, oracle: str) -> None:
        sender = self.who[actor]
        oracle_address = ZERO_ADDRESS if oracle == "zero" else self.who[oracle]
        forbidden = _err("InvalidOracle", oracle=ZERO_ADDRESS) if oracle == "zero" else Forbidden()
        if self._do(forbidden, sender, "registerSeller", oracle_address) is not None:
            self.oracles[sender] = oracle_address

    @rule(actor=st.sampled_from(("seller",) * 3 + ACTORS), dataset=st.sampled_from(DATASETS), cap=st.sampled_from(CAPS))
    def register_dataset(self, actor: str, dataset: bytes, cap: int) -> None:
        sender = self.who[actor]
        forbidden = Forbidden()
        ledger = self.ledgers.get((sender, dataset))
        if sender not in self.oracles:
            forbidden.add("SellerNotRegistered", caller=sender)
        elif ledger is not None and cap > ledger[0]:
            forbidden.add("CapRaised", datasetId=dataset, currentCapMilli=ledger[0], requestedCapMilli=cap)
        if self._do(forbidden, sender, "registerDataset", dataset, cap) is not None:
            if ledger is None:
                self.ledgers[sender, dataset] = [cap, 0]
            else:
                ledger[0] = cap

    # -- deals -----------------------------------------------------------------------

    @rule(
        actor=st.sampled_from(("buyer", "buyer2") * 3 + ACTORS),
        seller=st.sampled_from(("seller",) * 8 + ACTORS),
        dataset=st.sampled_from(DATASETS[:2] * 5 + DATASETS),
        terms=st.sampled_from(TERMS),
        token=token_st,
        max_price=st.one_of(
            st.integers(1, 10**21), st.integers(1, 100), st.integers(1, 10**21),
            st.sampled_from((1, 10**18, 10**21, U128, U128 + 1, 0)),
        ),
        fee_mode=st.sampled_from(("zero", "part", "part", "part", "all", "over")),
        pay_mode=st.sampled_from(("exact",) * 12 + ("less", "more", "other")),
    )
    def open_deal(self, actor, seller, dataset, terms, token, max_price, fee_mode, pay_mode) -> None:
        sender, seller_address, token_address = self.who[actor], self.who[seller], self.tokens[token]
        fee = {"zero": 0, "part": max_price // 7, "all": max_price, "over": max_price + 1}[fee_mode]
        expected_value = max_price if token == "eth" else 0
        value = {"exact": expected_value, "less": max(expected_value - 1, 0), "more": expected_value + 1,
                 "other": 0 if token == "eth" else max_price}[pay_mode]
        if value > 10**22:  # more than an actor owns: a real buyer could not send it at all
            value = 0
        forbidden = Forbidden()
        if max_price == 0:
            forbidden.add("ZeroMaxPrice")
        if max_price > U128:
            forbidden.add("AmountTooLarge", amount=max_price)
        if fee > max_price:
            forbidden.add("QuoteFeeTooHigh", quoteFee=fee, maxPrice=max_price)
        if (seller_address, dataset) not in self.ledgers:
            forbidden.add("DatasetNotRegistered", seller=seller_address, datasetId=dataset)
        if (seller_address, dataset, terms) in self.used:  # quoted once: never again (an unquoted pair may re-open)
            forbidden.add("TermsAlreadyUsed", seller=seller_address, datasetId=dataset, termsHash=terms)
            event("rule 2: open of a quoted pair")
        elif any(d.pair == (seller_address, dataset, terms) for d in self.deals):
            event("rule 2: open of a pair opened before, never quoted")
        if value != expected_value:
            forbidden.add("WrongPayment", sent=value, expected=expected_value)
        now = self.chain.now()
        paid_before = self.chain.token_balance(sender) if token == "token" and not forbidden else 0
        out = self._do(forbidden, sender, "openDeal", seller_address, dataset, terms, token_address, max_price, fee, value=value)
        if out is None:
            return
        deal_id = len(self.deals) + 1
        assert int.from_bytes(out, "big") == deal_id, "openDeal must return ids 1, 2, 3, ..."
        self.deals.append(Deal(deal_id, sender, seller_address, dataset, token_address, max_price, fee, OPEN, now + QUOTE_WINDOW,
                               terms=terms))
        if token == "token":  # rule 1: exactly maxPrice left the buyer
            assert self.chain.token_balance(sender) == paid_before - max_price

    @rule(pick=st.integers(0, 15), copier=st.sampled_from(ACTORS), token=token_st, max_price=st.sampled_from((1, 10**18)))
    def copy_terms(self, pick: int, copier: str, token: str, max_price: int) -> None:
        """A copier (or the buyer again) opens the (seller, datasetId, termsHash) of an existing
        deal: the griefing attempt of issue 25 when that deal is live and unquoted, a re-opened
        pair when it ended unquoted, and a TermsAlreadyUsed once it was quoted."""
        if not self.deals:
            return
        deal = self.deals[pick % len(self.deals)]
        self.open_deal(copier, next(a for a, addr in self.who.items() if addr == deal.seller), deal.dataset, deal.terms,
                       token, max_price, "zero", "exact")

    @rule(
        actor=actor_st, pick=deal_st,
        price_mode=st.sampled_from(("valid",) * 8 + ("max", "zero", "over")), fraction=st.integers(0, 1000),
        epsilon=st.sampled_from(EPSILONS), kind=st.sampled_from(("honest",) * 4 + ("tampered",) * 3 + ("zero-size",)),
    )
    def post_quote(self, actor, pick, price_mode, fraction, epsilon, kind) -> None:
        deal_id, deal = self._pick(pick, OPEN)
        sender = self._actor(actor, self.oracles.get(deal.seller) if deal else None)
        max_price = deal.max_price if deal else 0
        price = {"valid": max(1, max_price * fraction // 1000), "max": max_price, "zero": 0, "over": max_price + 1}[price_mode]
        commitment = COMMITMENTS["honest" if kind == "zero-size" else kind]
        size = 0 if kind == "zero-size" else commitment.size
        now = self.chain.now()
        forbidden = Forbidden()
        if self._state_of(deal) != OPEN:
            forbidden.add("DealWrongState", dealId=deal_id, state=self._state_of(deal))
        if deal is None:
            forbidden.add("NotOracle", dealId=deal_id, caller=sender)
        else:
            cap, spent = self.ledgers[deal.seller, deal.dataset]
            if sender != self.oracles[deal.seller]:
                forbidden.add("NotOracle", dealId=deal_id, caller=sender)
            if now >= deal.deadline:
                forbidden.add("DeadlinePassed", dealId=deal_id, deadline=deal.deadline)
            if not 0 < price <= max_price:
                forbidden.add("InvalidPrice", price=price, maxPrice=max_price)
            if size == 0:
                forbidden.add("ZeroSize")
            if epsilon == 0:
                forbidden.add("ZeroEpsilon", dealId=deal_id)
            if deal.pair in self.used:  # another deal with this pair was quoted first
                forbidden.add("TermsAlreadyQuoted", dealId=deal_id, termsHash=deal.terms)
                event("rule 2: quote of a pair another deal was quoted with")
            if epsilon == EXACT and cap != EXACT:
                forbidden.add("ExactReleaseNotAllowed", dealId=deal_id, capMilli=cap)
            if epsilon != EXACT and cap != EXACT and spent + epsilon > cap:
                forbidden.add("BudgetExceeded", dealId=deal_id, spentMilli=spent, requestedMilli=epsilon, capMilli=cap)
        done = self._do(
            forbidden, sender, "postQuote", deal_id, price, epsilon,
            commitment.data_root, commitment.cipher_root, commitment.key_commit, size,
        )
        if done is None:
            return
        self.used.add(deal.pair)
        ledger = self.ledgers[deal.seller, deal.dataset]
        if epsilon == EXACT:
            ledger[1] = EXACT  # an exact release marks the ledger fully spent
        elif ledger[1] != EXACT:
            ledger[1] = min(ledger[1] + epsilon, EXACT - 1)  # saturates just below EXACT
        deal.state, deal.deadline, deal.price, deal.kind = QUOTED, now + ACCEPT_WINDOW, price, kind

    def _full_refund(self, deal: Deal) -> None:
        deal.state = REFUNDED
        self._credit(deal.buyer, deal.token, deal.max_price)

    def _fee_refund(self, deal: Deal) -> None:
        deal.state = REFUNDED
        self._credit(deal.buyer, deal.token, deal.max_price - deal.quote_fee)
        self._credit(deal.seller, deal.token, deal.quote_fee)

    def _settle(self, deal: Deal) -> None:
        deal.state = SETTLED
        self._credit(deal.seller, deal.token, deal.price)
        self._credit(deal.buyer, deal.token, deal.max_price - deal.price)

    def _common(self, deal_id: int, deal: Deal | None, state: int | tuple[int, ...], sender: str, *,
                who: str | None = None, before: bool = False, after: bool = False) -> Forbidden:
        """The state / caller / deadline checks shared by the deal transitions."""
        states = state if isinstance(state, tuple) else (state,)
        now = self.chain.now()
        forbidden = Forbidden()
        if self._state_of(deal) not in states:
            forbidden.add("DealWrongState", dealId=deal_id, state=self._state_of(deal))
        if deal is None:
            if who is not None:
                forbidden.add("NotBuyer" if who == "buyer" else "NotSellerOrOracle", dealId=deal_id, caller=sender)
            if after:
                forbidden.add("DeadlineNotReached", dealId=deal_id)
            return forbidden
        if who == "buyer" and sender != deal.buyer:
            forbidden.add("NotBuyer", dealId=deal_id, caller=sender)
        if who == "seller" and sender not in self._sellers_side(deal):
            forbidden.add("NotSellerOrOracle", dealId=deal_id, caller=sender)
        if before and now >= deal.deadline:
            forbidden.add("DeadlinePassed", dealId=deal_id, deadline=deal.deadline)
        if after and now < deal.deadline:
            forbidden.add("DeadlineNotReached", dealId=deal_id, deadline=deal.deadline)
        return forbidden

    @rule(actor=st.sampled_from(("proper", "seller", "oracle", "buyer", "stranger")), pick=deal_st)
    def decline(self, actor, pick) -> None:
        deal_id, deal = self._pick(pick, OPEN)
        sender = self._actor(actor, self.oracles[deal.seller] if deal else None)
        forbidden = self._common(deal_id, deal, OPEN, sender, who="seller")
        if self._do(forbidden, sender, "decline", deal_id) is not None:
            self._full_refund(deal)

    @rule(actor=actor_st, pick=deal_st)
    def accept(self, actor, pick) -> None:
        deal_id, deal = self._pick(pick, QUOTED)
        sender = self._actor(actor, deal.buyer if deal else None)
        now = self.chain.now()
        forbidden = self._common(deal_id, deal, QUOTED, sender, who="buyer", before=True)
        if self._do(forbidden, sender, "accept", deal_id) is not None:
            deal.state, deal.deadline = ACCEPTED, now + REVEAL_WINDOW

    @rule(actor=actor_st, pick=deal_st)
    def reject(self, actor, pick) -> None:
        deal_id, deal = self._pick(pick, QUOTED)
        sender = self._actor(actor, deal.buyer if deal else None)
        forbidden = self._common(deal_id, deal, QUOTED, sender, who="buyer", before=True)
        if self._do(forbidden, sender, "reject", deal_id) is not None:
            self._fee_refund(deal)

    @rule(actor=actor_st, pick=deal_st, right_key=st.booleans())
    def reveal_key(self, actor, pick, right_key) -> None:
        deal_id, deal = self._pick(pick, ACCEPTED)
        sender = self._actor(actor, (deal.seller if pick % 2 else self.oracles[deal.seller]) if deal else None)
        now = self.chain.now()
        forbidden = self._common(deal_id, deal, ACCEPTED, sender, who="seller", before=True)
        if deal is not None and not right_key:
            forbidden.add("KeyMismatch", dealId=deal_id)
        if self._do(forbidden, sender, "revealKey", deal_id, KEY if right_key else WRONG_KEY) is not None:
            deal.state, deal.deadline = REVEALED, now + DISPUTE_WINDOW

    @rule(actor=actor_st, pick=deal_st, source=st.sampled_from(("honest", "tampered")), index=st.integers(0, CHUNKS))
    def complain(self, actor, pick, source, index) -> None:
        deal_id, deal = self._pick(pick, REVEALED)
        sender = self._actor(actor, deal.buyer if deal else None)
        complaint = COMPLAINTS[source, min(index, CHUNKS - 1)]
        forbidden = self._common(deal_id, deal, REVEALED, sender, who="buyer", before=True)
        if deal is not None:
            # the misbehaviour proof: which one of these applies is fixed by the complaint itself
            if index >= CHUNKS:
                forbidden.add("ChunkIndexOutOfRange", dealId=deal_id, index=index, chunks=CHUNKS)
            elif source != deal.kind:
                forbidden.add("ProofMismatch", dealId=deal_id, index=index)
            elif not (deal.kind == "tampered" and index == TAMPERED_INDEX):
                forbidden.add("ComplaintUnfounded", dealId=deal_id, index=index)
        done = self._do(
            forbidden, sender, "complain", deal_id, index, complaint.cipher_chunk, complaint.cipher_proof,
            complaint.plain_leaf, complaint.data_proof,
        )
        if done is not None:
            self._full_refund(deal)

    @rule(actor=actor_st, pick=deal_st)
    def confirm(self, actor, pick) -> None:
        deal_id, deal = self._pick(pick, REVEALED)
        sender = self._actor(actor, deal.buyer if deal else None)
        forbidden = self._common(deal_id, deal, REVEALED, sender, who="buyer")
        if self._do(forbidden, sender, "confirm", deal_id) is not None:
            self._settle(deal)

    @rule(actor=st.sampled_from(ACTORS), pick=deal_st)
    def finalize(self, actor, pick) -> None:
        deal_id, deal = self._pick(pick, REVEALED)
        sender = self.who[actor]
        forbidden = self._common(deal_id, deal, REVEALED, sender, after=True)
        if self._do(forbidden, sender, "finalize", deal_id) is not None:
            self._settle(deal)

    @rule(actor=st.sampled_from(ACTORS), pick=deal_st)
    def refund(self, actor, pick) -> None:
        deal_id, deal = self._pick(pick, OPEN, QUOTED, ACCEPTED)
        sender = self.who[actor]
        forbidden = self._common(deal_id, deal, (OPEN, QUOTED, ACCEPTED), sender, after=True)
        if self._do(forbidden, sender, "refund", deal_id) is not None:
            if deal.state == QUOTED:
                self._fee_refund(deal)  # a lapsed quote costs the buyer the quote fee (rule 4)
            else:
                self._full_refund(deal)

    @rule(actor=st.sampled_from(("proper",) * 3 + ACTORS), token=token_st)
    def withdraw(self, actor, token) -> None:
        token_address = self.tokens[token]
        creditors = [a for a in self.who.values() if self.credits[a, token_address]]
        sender = self._actor(actor, creditors[0] if creditors else None)
        amount = self.credits[sender, token_address]
        forbidden = Forbidden() if amount else _err("NothingToWithdraw", account=sender, token=token_address)
        before = self.chain.eth_balance(sender) if token == "eth" else self.chain.token_balance(sender)
        if self._do(forbidden, sender, "withdraw", token_address) is None:
            return
        self.credits[sender, token_address] = 0
        if token == "eth":
            gas = int(self.receipt["gas_used"]) * int(self.receipt["effective_gas_price"])
            assert self.chain.eth_balance(sender) == before + amount - gas
        else:
            assert self.chain.token_balance(sender) == before + amount

    # -- the happy path, so that deals get far in few steps -------------------------

    @rule(pick=st.integers(0, 9), choice=st.integers(0, 7), fraction=st.integers(1, 1000), index=st.integers(0, CHUNKS - 1))
    def progress(self, pick: int, choice: int, fraction: int, index: int) -> None:
        """Take a live deal one step further with the proper actor (through the same rules),
        sometimes by letting its phase lapse and ending it exactly at the deadline."""
        live = [d for d in self.deals if d.state in (OPEN, QUOTED, ACCEPTED, REVEALED)]
        if not live:
            if any(self.credits.values()) and choice % 2:
                self.withdraw("proper", ("eth", "token")[pick % 2])
            else:
                self.open_deal("buyer", "seller", DATASETS[pick % 2], TERMS[pick % len(TERMS)], ("eth", "token")[choice % 2],
                               10**18 * fraction, "part", "exact")
            return
        deal = live[pick % len(live)]
        at = [d for d in self.deals if d.state == deal.state].index(deal)
        if at >= 10:
            return
        if deal.state == REVEALED:
            if choice < 2:
                self.complain("proper", at, deal.kind, TAMPERED_INDEX)
            elif choice == 2:
                self.complain("proper", at, deal.kind, index)
            elif choice in (3, 4, 5):  # the dispute window ends: anyone finalizes, a late complaint fails
                self.chain.travel_to(deal.deadline + (index % 2))
                if choice == 3:
                    self.finalize(ACTORS[pick % len(ACTORS)], at)
                else:
                    self.complain("proper", at, deal.kind, TAMPERED_INDEX)
            else:
                self.confirm("proper", at)
        elif choice in (1, 4):  # the phase lapses: anyone refunds, the late proper action fails
            self.chain.travel_to(deal.deadline + (index % 2))
            if choice == 1:
                self.refund(ACTORS[pick % len(ACTORS)], at)
            elif deal.state == OPEN:
                self.post_quote("proper", at, "valid", fraction, 1, "honest")
            elif deal.state == QUOTED:
                self.accept("proper", at)
            else:
                self.reveal_key("proper", at, True)
        elif deal.state == OPEN:
            if choice == 0:
                self.decline("proper", at)
            else:
                epsilon = EXACT if choice == 2 else (1, 100, 500, 1000)[choice % 4]
                self.post_quote("proper", at, "valid", fraction, epsilon, "tampered" if choice in (3, 6) else "honest")
        elif deal.state == QUOTED:
            (self.reject if choice == 0 else self.accept)("proper", at)
        else:
            self.reveal_key("proper", at, choice != 0)

    # The happy path again, under other names: Hypothesis picks rules uniformly, and a deal
    # needs four or five proper steps in a row to reach complain / confirm / finalize.
    @rule(pick=st.integers(0, 9), choice=st.integers(0, 7), fraction=st.integers(1, 1000), index=st.integers(0, CHUNKS - 1))
    def progress_more(self, pick: int, choice: int, fraction: int, index: int) -> None:
        self.progress(pick, choice, fraction, index)

    @rule(pick=st.integers(0, 9), choice=st.integers(0, 7), fraction=st.integers(1, 1000), index=st.integers(0, CHUNKS - 1))
    def progress_even_more(self, pick: int, choice: int, fraction: int, index: int) -> None:
        self.progress(pick, choice, fraction, index)

    # -- time ------------------------------------------------------------------------

    @rule(seconds=st.one_of(st.integers(0, 2 * LONGEST_WINDOW), st.integers(0, 30)))
    def wait(self, seconds: int) -> None:
        self.chain.travel_to(self.chain.now() + seconds)

    @rule(pick=deal_st, offset=st.sampled_from((-1, 0, 0, 1)))
    def wait_until_deadline(self, pick: int, offset: int) -> None:
        """Land the next transaction on a deadline, or one second either side of it."""
        _, deal = self._pick(pick, OPEN, QUOTED, ACCEPTED, REVEALED)
        if deal is not None and deal.state in (OPEN, QUOTED, ACCEPTED, REVEALED):
            self.chain.travel_to(deal.deadline + offset)


DataExchangeMachine.TestCase.settings = settings(
    max_examples=MAX_EXAMPLES,
    stateful_step_count=STEP_COUNT,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
TestDataExchangeStateful = DataExchangeMachine.TestCase
