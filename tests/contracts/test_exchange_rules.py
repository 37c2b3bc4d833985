"""Every rule of protocol.md's DataExchange and every revert path, one test each."""

from __future__ import annotations

import pytest

from client.chain import State, advance_time, chain_time
from client.chain.errors import (
    AmountTooLarge, BudgetExceeded, CapRaised, DatasetNotRegistered, DeadlineNotReached, DeadlinePassed,
    DealWrongState, ExactReleaseNotAllowed, InvalidOracle, InvalidPrice, KeyMismatch, NotBuyer, NotOracle,
    NothingToWithdraw, NotSellerOrOracle, QuoteFeeTooHigh, SellerNotRegistered, TermsAlreadyQuoted, TermsAlreadyUsed,
    WrongPayment, ZeroEpsilon, ZeroMaxPrice, ZeroSize,
)
from client.chain.exchange import ETH, EXACT, send_call, wait_for_success
from tests.contracts.conftest import ACCEPT_WINDOW, CAP_MILLI, DATASET, DISPUTE_WINDOW, QUOTE_WINDOW, REVEAL_WINDOW
from tests.contracts.helpers import (
    MAX_PRICE, PRICE, QUOTE_FEE, open_deal, quote, quoted_deal, release, revealed_deal, terms,
)


def locked_plus_credits(env, deals: list[int], accounts: list[str], token: str = ETH) -> int:
    """Rule 8's right-hand side for the given deals and accounts."""
    locked = sum(MAX_PRICE for d in deals if env.ex.state(d) in (State.OPEN, State.QUOTED, State.ACCEPTED, State.REVEALED))
    return locked + sum(env.ex.credit(a, token) for a in accounts)


# ---------------------------------------------------------------- sellers and datasets

def test_register_seller_emits_oracle_and_can_rotate(env):
    first = env.ex.register_seller(env.who.stranger, sender=env.who.buyer2)
    assert first.event("SellerRegistered") == {"seller": env.who.buyer2, "oracle": env.who.stranger}
    second = env.ex.register_seller(env.who.deployer, sender=env.who.buyer2)
    assert second.event("SellerRegistered")["oracle"] == env.who.deployer


def test_register_seller_rejects_zero_oracle(env):
    with pytest.raises(InvalidOracle):
        env.ex.register_seller(ETH, sender=env.who.buyer2)


def test_register_dataset_requires_a_registered_seller(env):
    with pytest.raises(SellerNotRegistered) as err:
        env.ex.register_dataset(b"\x22" * 32, 1000, sender=env.who.stranger)
    assert err.value.caller == env.who.stranger


def test_register_dataset_may_only_lower_the_cap(env):
    with pytest.raises(CapRaised) as err:
        env.ex.register_dataset(DATASET, CAP_MILLI + 1, sender=env.who.seller)
    assert (err.value.currentCapMilli, err.value.requestedCapMilli) == (CAP_MILLI, CAP_MILLI + 1)
    lowered = env.ex.register_dataset(DATASET, 1000, sender=env.who.seller)
    assert lowered.event("DatasetRegistered")["epsilonCapMilli"] == 1000
    deal = open_deal(env)
    with pytest.raises(BudgetExceeded):
        quote(env, deal, epsilon_milli=1001)


# ---------------------------------------------------------------- rule 1: escrow

def test_open_deal_locks_exactly_max_price_in_eth_and_numbers_deals(env):
    before = env.balance()
    ids = [open_deal(env, label=str(i)) for i in range(3)]
    assert ids == [1, 2, 3]
    assert env.ex.deal_count() == 3
    assert env.balance() - before == 3 * MAX_PRICE
    assert env.ex.state(2) == State.OPEN


def test_deal_opened_event_carries_every_field(env):
    deal_id, result = env.ex.open_deal(env.who.seller, DATASET, terms("x"), MAX_PRICE, QUOTE_FEE, sender=env.who.buyer)
    ev = result.event("DealOpened")
    assert ev["dealId"] == deal_id and ev["buyer"] == env.who.buyer and ev["seller"] == env.who.seller
    assert ev["datasetId"] == DATASET and ev["termsHash"] == terms("x") and ev["token"] == ETH
    assert (ev["maxPrice"], ev["quoteFee"]) == (MAX_PRICE, QUOTE_FEE)
    assert ev["quoteDeadline"] == chain_time(env.w3) + QUOTE_WINDOW


@pytest.mark.parametrize("value", [MAX_PRICE - 1, MAX_PRICE + 1, 0])
def test_open_deal_rejects_a_value_other_than_max_price(env, value):
    fn = env.ex.contract.functions.openDeal(env.who.seller, DATASET, terms("v"), ETH, MAX_PRICE, QUOTE_FEE)
    with pytest.raises(WrongPayment) as err:
        send_call(env.w3, fn, env.who.buyer, value)
    assert (err.value.sent, err.value.expected) == (value, MAX_PRICE)
    assert env.ex.deal_count() == 0


def test_open_deal_rejects_zero_max_price(env):
    with pytest.raises(ZeroMaxPrice):
        open_deal(env, max_price=0, quote_fee=0)


def test_open_deal_rejects_quote_fee_above_max_price(env):
    with pytest.raises(QuoteFeeTooHigh) as err:
        open_deal(env, quote_fee=MAX_PRICE + 1)
    assert err.value.quoteFee == MAX_PRICE + 1


def test_open_deal_rejects_amounts_beyond_128_bits(env, token):
    with pytest.raises(AmountTooLarge) as err:
        open_deal(env, max_price=2**128, quote_fee=0, token=token.address)
    assert err.value.amount == 2**128


def test_open_deal_requires_the_dataset_registered_by_that_seller(env):
    env.ex.register_seller(env.who.stranger, sender=env.who.buyer2)
    with pytest.raises(DatasetNotRegistered):
        env.ex.open_deal(env.who.buyer2, DATASET, terms("a"), MAX_PRICE, 0, sender=env.who.buyer)
    with pytest.raises(DatasetNotRegistered):
        env.ex.open_deal(env.who.stranger, DATASET, terms("b"), MAX_PRICE, 0, sender=env.who.buyer)


def test_open_deal_pulls_exactly_max_price_of_a_token(env, token):
    before = env.balance(token.address)
    deal = open_deal(env, token=token.address)
    assert env.balance(token.address) - before == MAX_PRICE
    assert env.ex.state(deal) == State.OPEN


def test_open_deal_with_a_token_refuses_ether(env, token):
    fn = env.ex.contract.functions.openDeal(env.who.seller, DATASET, terms("e"), token.address, MAX_PRICE, 0)
    with pytest.raises(WrongPayment):
        send_call(env.w3, fn, env.who.buyer, 1)


# ---------------------------------------------------------------- rule 2: one evaluation per pair

def test_a_copied_terms_hash_no_longer_burns_the_buyers_terms(env):
    """The griefing attack of issue 25: a stranger sees the buyer's openDeal in the mempool and
    opens the same (seller, datasetId, termsHash) first for 1 wei. The hub declines it (the terms
    name another buyer); the buyer's own openDeal must still succeed and be quoted."""
    copy, _ = env.ex.open_deal(env.who.seller, DATASET, terms("victim"), 1, 0, sender=env.who.stranger)
    stranger_credit = env.ex.decline(copy, sender=env.who.oracle).event("Refunded")
    assert stranger_credit == {"dealId": copy, "toBuyer": 1, "toSeller": 0}
    mine = open_deal(env, label="victim")
    quote(env, mine)
    assert env.ex.state(mine) == State.QUOTED
    assert env.ex.credit(env.who.stranger) == 1  # the attacker got its wei back, and nothing else


def test_a_copy_that_lands_first_and_stays_open_cannot_block_the_quote(env):
    """The copier does not wait to be declined: both deals are open at once. The oracle quotes
    the buyer's; the copy can then never be quoted and ends refunded."""
    copy, _ = env.ex.open_deal(env.who.seller, DATASET, terms("both"), 1, 0, sender=env.who.stranger)
    mine = open_deal(env, label="both")
    quote(env, mine)
    with pytest.raises(TermsAlreadyQuoted) as err:
        quote(env, copy, price=1)
    assert (err.value.dealId, err.value.termsHash) == (copy, terms("both"))
    env.ex.decline(copy, sender=env.who.seller)
    assert (env.ex.state(copy), env.ex.state(mine)) == (State.REFUNDED, State.QUOTED)


@pytest.mark.parametrize("ending", ["accept", "reject", "lapse"])
def test_a_quoted_pair_can_never_be_opened_or_quoted_again(env, ending):
    deal = open_deal(env, label="once")
    quote(env, deal)
    if ending == "accept":
        env.ex.accept(deal, sender=env.who.buyer)
    elif ending == "reject":
        env.ex.reject(deal, sender=env.who.buyer)
    else:
        advance_time(env.w3, ACCEPT_WINDOW)
        env.ex.refund(deal, sender=env.who.stranger)
    for opener in (env.who.buyer, env.who.buyer2):
        with pytest.raises(TermsAlreadyUsed) as err:
            open_deal(env, label="once", buyer=opener)
        assert (err.value.seller, err.value.datasetId, err.value.termsHash) == (env.who.seller, DATASET, terms("once"))
    assert env.ex.deal_count() == 1


@pytest.mark.parametrize("ending", ["decline", "refund"])
def test_an_opened_but_unquoted_pair_can_be_opened_again(env, ending):
    first = open_deal(env, label="again")
    if ending == "decline":
        env.ex.decline(first, sender=env.who.seller)
    else:
        advance_time(env.w3, QUOTE_WINDOW)
        env.ex.refund(first, sender=env.who.stranger)
    second = open_deal(env, label="again")
    quote(env, second)
    assert (env.ex.state(first), env.ex.state(second)) == (State.REFUNDED, State.QUOTED)
    with pytest.raises(TermsAlreadyUsed):
        open_deal(env, label="again")


def test_the_pair_is_per_seller_and_dataset(env):
    deal = open_deal(env, label="one")
    quote(env, deal)
    env.ex.register_dataset(b"\x33" * 32, CAP_MILLI, sender=env.who.seller)
    other = open_deal(env, label="one", dataset=b"\x33" * 32)
    quote(env, other)
    assert open_deal(env, label="two") == 3


# ---------------------------------------------------------------- rule 3: quote

def test_quote_is_only_by_the_current_oracle(env):
    deal = open_deal(env)
    for who in (env.who.seller, env.who.stranger, env.who.buyer):
        with pytest.raises(NotOracle) as err:
            env.ex.post_quote(deal, PRICE, 1000, release()[4], sender=who)
        assert err.value.caller == who
    env.ex.register_seller(env.who.stranger, sender=env.who.seller)  # rotate
    with pytest.raises(NotOracle):
        quote(env, deal)  # the old oracle
    env.ex.post_quote(deal, PRICE, 1000, release()[4], sender=env.who.stranger)
    assert env.ex.state(deal) == State.QUOTED


@pytest.mark.parametrize("price", [0, MAX_PRICE + 1])
def test_quote_price_must_be_positive_and_at_most_max_price(env, price):
    deal = open_deal(env)
    with pytest.raises(InvalidPrice) as err:
        quote(env, deal, price=price)
    assert err.value.maxPrice == MAX_PRICE


def test_quote_at_max_price_is_allowed(env):
    deal = open_deal(env)
    quote(env, deal, price=MAX_PRICE)
    assert env.ex.state(deal) == State.QUOTED


def test_quote_needs_a_positive_size(env):
    deal = open_deal(env)
    good = release()[4]  # Commitment itself refuses size 0, so call the contract directly
    fn = env.ex.contract.functions.postQuote(deal, PRICE, 1000, good.data_root, good.cipher_root, good.key_commit, 0)
    with pytest.raises(ZeroSize):
        send_call(env.w3, fn, env.who.oracle)


def test_quote_must_spend_a_positive_epsilon(env):
    deal = open_deal(env)
    with pytest.raises(ZeroEpsilon) as err:
        quote(env, deal, epsilon_milli=0)
    assert err.value.dealId == deal
    assert env.ex.state(deal) == State.OPEN and env.ex.epsilon_spent(env.who.seller, DATASET) == 0
    quote(env, deal, epsilon_milli=1)  # the smallest spend is allowed
    assert env.ex.epsilon_spent(env.who.seller, DATASET) == 1


def test_quote_after_the_quote_deadline_reverts(env):
    deal = open_deal(env)
    advance_time(env.w3, QUOTE_WINDOW)
    with pytest.raises(DeadlinePassed):
        quote(env, deal)


def test_quote_spends_epsilon_at_once_and_refuses_past_the_cap(env):
    first, second, third = (open_deal(env, label=str(i)) for i in range(3))
    result = env.ex.post_quote(first, PRICE, 3000, release()[4], sender=env.who.oracle)
    assert result.event("Quoted")["epsilonMilli"] == 3000
    assert env.ex.epsilon_spent(env.who.seller, DATASET) == 3000
    with pytest.raises(BudgetExceeded) as err:
        quote(env, second, epsilon_milli=2001)
    assert (err.value.spentMilli, err.value.requestedMilli, err.value.capMilli) == (3000, 2001, CAP_MILLI)
    quote(env, second, epsilon_milli=2000)  # exactly the cap fits
    assert env.ex.epsilon_spent(env.who.seller, DATASET) == CAP_MILLI
    with pytest.raises(BudgetExceeded):
        quote(env, third, epsilon_milli=1)


def test_epsilon_stays_spent_when_the_buyer_rejects(env):
    deal = open_deal(env)
    quote(env, deal, epsilon_milli=1500)
    env.ex.reject(deal, sender=env.who.buyer)
    assert env.ex.epsilon_spent(env.who.seller, DATASET) == 1500


def test_exact_release_needs_an_exact_dataset(env):
    deal = open_deal(env)
    with pytest.raises(ExactReleaseNotAllowed):
        quote(env, deal, epsilon_milli=EXACT)


def test_exact_release_on_an_exact_dataset_marks_the_ledger_spent(env):
    exact_ds = b"\x44" * 32
    env.ex.register_dataset(exact_ds, EXACT, sender=env.who.seller)
    deal = open_deal(env, dataset=exact_ds)
    quote(env, deal, epsilon_milli=EXACT)
    assert env.ex.epsilon_spent(env.who.seller, exact_ds) == EXACT


def test_quote_on_a_quoted_deal_reverts_with_its_state(env):
    deal = quoted_deal(env)
    with pytest.raises(DealWrongState) as err:
        quote(env, deal)
    assert (err.value.dealId, err.value.state) == (deal, State.QUOTED)


def test_quote_on_an_unknown_deal_reverts(env):
    with pytest.raises(DealWrongState) as err:
        quote(env, 99)
    assert err.value.state == State.NONE


# ---------------------------------------------------------------- rule 4: accept / reject

def test_accept_is_by_the_buyer_before_the_accept_deadline(env):
    deal = quoted_deal(env)
    with pytest.raises(NotBuyer):
        env.ex.accept(deal, sender=env.who.stranger)
    result = env.ex.accept(deal, sender=env.who.buyer)
    assert result.event("Accepted")["revealDeadline"] == chain_time(env.w3) + REVEAL_WINDOW
    assert env.ex.state(deal) == State.ACCEPTED


@pytest.mark.parametrize("answer", ["accept", "reject"])
def test_answering_a_quote_after_the_accept_deadline_reverts(env, answer):
    deal = quoted_deal(env)
    advance_time(env.w3, ACCEPT_WINDOW)
    with pytest.raises(DeadlinePassed) as err:
        getattr(env.ex, answer)(deal, sender=env.who.buyer)
    assert err.value.dealId == deal


def test_reject_credits_the_quote_fee_to_the_seller_and_the_rest_to_the_buyer(env):
    deal = quoted_deal(env)
    with pytest.raises(NotBuyer):
        env.ex.reject(deal, sender=env.who.seller)
    result = env.ex.reject(deal, sender=env.who.buyer)
    assert result.event("Refunded") == {"dealId": deal, "toBuyer": MAX_PRICE - QUOTE_FEE, "toSeller": QUOTE_FEE}
    assert [name for name, _ in result.events] == ["Rejected", "Refunded"]
    assert env.ex.credit(env.who.seller) == QUOTE_FEE
    assert env.ex.credit(env.who.buyer) == MAX_PRICE - QUOTE_FEE
    assert env.ex.state(deal) == State.REFUNDED


def test_a_lapsed_quote_refunds_like_a_rejection(env):
    deal = quoted_deal(env)
    with pytest.raises(DeadlineNotReached):
        env.ex.refund(deal, sender=env.who.stranger)
    advance_time(env.w3, ACCEPT_WINDOW)
    result = env.ex.refund(deal, sender=env.who.stranger)
    assert result.event("Refunded") == {"dealId": deal, "toBuyer": MAX_PRICE - QUOTE_FEE, "toSeller": QUOTE_FEE}


# ---------------------------------------------------------------- rule 5: reveal

def accepted_deal(env) -> tuple[int, bytes]:
    """A deal in state Accepted and its key."""
    deal = open_deal(env)
    _, key, _, _, commitment = release()
    quote(env, deal, commitment=commitment)
    env.ex.accept(deal, sender=env.who.buyer)
    return deal, key


def test_reveal_checks_the_key_commitment(env):
    deal, key = accepted_deal(env)
    with pytest.raises(KeyMismatch):
        env.ex.reveal_key(deal, bytes(32), sender=env.who.oracle)
    with pytest.raises(NotSellerOrOracle):
        env.ex.reveal_key(deal, key, sender=env.who.buyer)
    result = env.ex.reveal_key(deal, key, sender=env.who.seller)
    ev = result.event("KeyRevealed")
    assert ev["key"] == key and ev["disputeDeadline"] == chain_time(env.w3) + DISPUTE_WINDOW
    assert env.ex.state(deal) == State.REVEALED


def test_reveal_after_the_reveal_deadline_reverts_and_the_buyer_is_refunded(env):
    deal, key = accepted_deal(env)
    advance_time(env.w3, REVEAL_WINDOW)
    with pytest.raises(DeadlinePassed):
        env.ex.reveal_key(deal, key, sender=env.who.oracle)
    result = env.ex.refund(deal, sender=env.who.stranger)
    assert result.event("Refunded") == {"dealId": deal, "toBuyer": MAX_PRICE, "toSeller": 0}


def test_reveal_before_accept_reverts(env):
    deal = open_deal(env)
    _, key, _, _, commitment = release()
    quote(env, deal, commitment=commitment)
    with pytest.raises(DealWrongState):
        env.ex.reveal_key(deal, key, sender=env.who.oracle)


# ---------------------------------------------------------------- rule 7: settlement and refunds

def test_confirm_credits_price_to_the_seller_and_the_rest_to_the_buyer(env):
    deal, *_ = revealed_deal(env)
    with pytest.raises(NotBuyer):
        env.ex.confirm(deal, sender=env.who.seller)
    result = env.ex.confirm(deal, sender=env.who.buyer)
    assert result.event("Settled") == {"dealId": deal, "price": PRICE, "refund": MAX_PRICE - PRICE}
    assert env.ex.credit(env.who.seller) == PRICE
    assert env.ex.credit(env.who.buyer) == MAX_PRICE - PRICE
    assert env.ex.state(deal) == State.SETTLED
    with pytest.raises(DealWrongState):
        env.ex.confirm(deal, sender=env.who.buyer)


def test_finalize_waits_for_the_dispute_window_then_anyone_settles(env):
    deal, *_ = revealed_deal(env)
    with pytest.raises(DeadlineNotReached):
        env.ex.finalize(deal, sender=env.who.stranger)
    advance_time(env.w3, DISPUTE_WINDOW)
    env.ex.finalize(deal, sender=env.who.stranger)
    assert env.ex.state(deal) == State.SETTLED


def test_no_quote_in_time_refunds_the_buyer_in_full(env):
    deal = open_deal(env)
    with pytest.raises(DeadlineNotReached):
        env.ex.refund(deal, sender=env.who.stranger)
    advance_time(env.w3, QUOTE_WINDOW)
    result = env.ex.refund(deal, sender=env.who.stranger)
    assert result.event("Refunded") == {"dealId": deal, "toBuyer": MAX_PRICE, "toSeller": 0}


@pytest.mark.parametrize("settle", ["confirm", "none"])
def test_refund_does_not_apply_to_revealed_or_settled_deals(env, settle):
    deal, *_ = revealed_deal(env)
    if settle == "confirm":
        env.ex.confirm(deal, sender=env.who.buyer)
    advance_time(env.w3, DISPUTE_WINDOW)
    with pytest.raises(DealWrongState):
        env.ex.refund(deal, sender=env.who.stranger)


def test_decline_is_by_seller_or_oracle_while_open(env):
    deal = open_deal(env)
    with pytest.raises(NotSellerOrOracle):
        env.ex.decline(deal, sender=env.who.buyer)
    result = env.ex.decline(deal, sender=env.who.oracle)
    assert [name for name, _ in result.events] == ["Declined", "Refunded"]
    assert env.ex.credit(env.who.buyer) == MAX_PRICE
    quoted = open_deal(env, label="q")
    quote(env, quoted)
    with pytest.raises(DealWrongState):
        env.ex.decline(quoted, sender=env.who.seller)


def test_withdraw_pays_the_credit_once(env):
    deal, *_ = revealed_deal(env)
    env.ex.confirm(deal, sender=env.who.buyer)
    before = env.w3.eth.get_balance(env.who.seller)
    result = env.ex.withdraw(sender=env.who.seller)
    assert result.event("Withdrawn") == {"account": env.who.seller, "token": ETH, "amount": PRICE}
    gas_cost = result.gas_used * env.w3.eth.get_transaction(result.tx_hash)["gasPrice"]
    assert env.w3.eth.get_balance(env.who.seller) == before + PRICE - gas_cost
    with pytest.raises(NothingToWithdraw):
        env.ex.withdraw(sender=env.who.seller)


def test_token_deal_settles_and_withdraws_in_the_token(env, token):
    deal, *_ = revealed_deal(env, token=token.address)
    env.ex.confirm(deal, sender=env.who.buyer)
    assert env.ex.credit(env.who.seller, token.address) == PRICE
    env.ex.withdraw(token.address, sender=env.who.seller)
    assert token.functions.balanceOf(env.who.seller).call() == PRICE
    assert env.balance(token.address) == MAX_PRICE - PRICE


# ---------------------------------------------------------------- rule 8: conservation

def test_balance_equals_locked_plus_credits_through_every_ending(env):
    accounts = [env.who.seller, env.who.buyer, env.who.oracle]
    settled, *_ = revealed_deal(env, label="s")
    declined = open_deal(env, label="d")
    rejected = open_deal(env, label="r")
    quote(env, rejected)
    deals = [settled, declined, rejected]
    assert env.balance() == locked_plus_credits(env, deals, accounts)
    env.ex.confirm(settled, sender=env.who.buyer)
    env.ex.decline(declined, sender=env.who.seller)
    env.ex.reject(rejected, sender=env.who.buyer)
    assert env.balance() == locked_plus_credits(env, deals, accounts) == 3 * MAX_PRICE
    env.ex.withdraw(sender=env.who.buyer)
    assert env.balance() == locked_plus_credits(env, deals, accounts)


# ---------------------------------------------------------------- the test clock itself

@pytest.mark.parametrize("seconds", [0, 1, 2, 3600])
def test_advance_time_moves_the_next_transaction_by_exactly_that_much(env, seconds):
    before = env.w3.eth.get_block("pending")["timestamp"]
    advance_time(env.w3, seconds)
    deal = open_deal(env, label=f"clock{seconds}")
    assert env.ex.events()[-1][1]["quoteDeadline"] - QUOTE_WINDOW == before + seconds
    assert env.ex.state(deal) == State.OPEN


def _next_tx_at(env, timestamp: int) -> None:
    """Make the next transaction's block timestamp exactly `timestamp`."""
    advance_time(env.w3, timestamp - env.w3.eth.get_block("pending")["timestamp"])


def test_deadline_boundary_is_exact(env):
    deal = open_deal(env)
    deadline = env.ex.events()[-1][1]["quoteDeadline"]
    _next_tx_at(env, deadline - 1)
    quote(env, deal)  # one second before the deadline: still allowed
    assert env.ex.state(deal) == State.QUOTED
    late = open_deal(env, label="late")
    _next_tx_at(env, env.ex.events()[-1][1]["quoteDeadline"])
    with pytest.raises(DeadlinePassed):
        quote(env, late)  # at the deadline: too late
    env.ex.refund(late, sender=env.who.stranger)  # and from the deadline on, refundable
    assert env.ex.state(late) == State.REFUNDED



@pytest.mark.parametrize("mined", [False, True])
def test_a_failure_without_revert_data_says_what_to_check(env, mined):
    from client.chain.errors import NoRevertData

    fn = env.ex.contract.functions.registerSeller(env.who.oracle)
    if not mined:  # the preflight eth_call runs out of gas
        with pytest.raises(NoRevertData) as err:
            send_call(env.w3, fn, env.who.buyer2, gas=23_500)
        assert err.value.gas_limit == 23_500 and err.value.tx_hash is None
    else:  # a transaction mined with too little gas
        tx_hash = fn.transact({"from": env.who.buyer2, "gas": 23_500})
        with pytest.raises(NoRevertData) as err:
            wait_for_success(env.w3, tx_hash)
        assert err.value.tx_hash == tx_hash.to_0x_hex() and err.value.gas_used == 23_500
    assert "raise the gas limit" in str(err.value)
