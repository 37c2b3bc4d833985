from decimal import Decimal
from fractions import Fraction

import numpy as np
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from privacy import (EXACT, BudgetExceeded, CapRaised, InvalidEpsilon, Offer, OutOfBounds, OverRefund, PrivacyError,
                     PrivacyLedger, compose, compose_milli, draw_release, from_milli, split_epsilon, to_milli)
from privacy.budget import MAX_MILLI

epsilons = st.floats(min_value=1e-6, max_value=1e6, allow_nan=False, allow_infinity=False)


@given(epsilons)
def test_to_milli_never_rounds_down_and_overshoots_by_less_than_one(eps):
    milli = to_milli(eps)
    exact = Decimal(repr(eps)) * 1000
    assert milli >= exact
    assert milli - 1 < exact


@given(epsilons)
def test_to_milli_covers_the_float_actually_used_up_to_one_ulp(eps):
    # the decimal reading may sit below the binary double by < 1 ulp, never more
    assert Fraction(to_milli(eps), 1000) >= Fraction(eps) * (1 - Fraction(1, 2**52))


@given(st.integers(min_value=1, max_value=MAX_MILLI))
def test_to_milli_round_trips_chain_units(m):
    assert to_milli(m / 1000) == m
    assert to_milli(from_milli(m)) == m


def test_to_milli_examples_and_exact():
    assert to_milli(0.1) == 100
    assert to_milli(1) == 1000
    assert to_milli(0.0001) == 1
    assert to_milli(1.0005) == 1001
    assert to_milli("exact") == EXACT
    assert from_milli(EXACT) == "exact"


@pytest.mark.parametrize("bad", [0, -1.0, float("nan"), float("inf"), True, "1.0", None])
def test_to_milli_rejects_non_epsilons_with_the_value_in_the_message(bad):
    with pytest.raises(InvalidEpsilon) as err:
        to_milli(bad)
    assert repr(bad) in str(err.value)
    assert isinstance(err.value, ValueError)


def test_to_milli_rejects_epsilon_too_large_for_uint32():
    with pytest.raises(InvalidEpsilon, match="exact release"):
        to_milli(5e6)


@given(st.lists(st.integers(min_value=0, max_value=10**6), max_size=20))
def test_compose_milli_is_the_integer_sum(ms):
    assert compose_milli(ms) == sum(ms)


def test_compose_milli_exact_part_makes_whole_exact():
    assert compose_milli([10, EXACT, 5]) == EXACT


def test_compose_sums_epsilons():
    assert compose([0.5, 0.25, 0.25]) == 1.0


@given(epsilons, st.lists(st.floats(min_value=0.01, max_value=100), min_size=1, max_size=12))
def test_split_epsilon_consumes_all_but_never_more(eps, weights):
    shares = split_epsilon(eps, weights)
    assume(all(s > 0 for s in shares))
    total = sum(Fraction(s) for s in shares)
    assert total <= Fraction(eps)
    assert float(total) == pytest.approx(eps, rel=1e-12)
    ratio = [s / w for s, w in zip(shares, weights)]
    assert max(ratio) == pytest.approx(min(ratio), rel=1e-9)


def test_split_epsilon_equal_parts():
    assert split_epsilon(1.0, 4) == [0.25] * 4


@given(st.integers(min_value=1, max_value=10**6),
       st.lists(st.integers(min_value=1, max_value=3000), max_size=30))
def test_ledger_never_exceeds_cap_and_refusals_change_nothing(cap, charges):
    ledger = PrivacyLedger(cap_milli=cap)
    for m in charges:
        before = ledger.spent_milli
        if before + m <= cap:
            assert ledger.charge(m) == before + m
        else:
            with pytest.raises(BudgetExceeded) as err:
                ledger.charge(m)
            assert ledger.spent_milli == before
            assert err.value.requested_milli == m and err.value.cap_milli == cap
            assert str(cap) in str(err.value)
        assert ledger.spent_milli <= cap


def test_ledger_refuses_exact_release_under_finite_cap():
    ledger = PrivacyLedger(cap_milli=1000)
    with pytest.raises(BudgetExceeded, match="EXACT cap"):
        ledger.charge(EXACT)
    assert ledger.spent_milli == 0


def test_ledger_with_exact_cap_allows_everything():
    ledger = PrivacyLedger(cap_milli=EXACT)
    assert ledger.charge(5000) == 5000
    assert ledger.can_spend(MAX_MILLI)
    assert ledger.charge(MAX_MILLI) == MAX_MILLI  # epsilon charges saturate below EXACT


def test_ledger_exact_release_marks_the_dataset_fully_spent_like_the_contract():
    ledger = PrivacyLedger(cap_milli=EXACT)
    ledger.charge(700)
    assert ledger.charge(EXACT) == EXACT
    assert ledger.charge(5000) == EXACT  # stays fully disclosed
    assert ledger.refund(EXACT) == 700   # a refused exact release restores the figure


def test_ledger_sync_adopts_chain_and_reports_pending():
    ledger = PrivacyLedger(cap_milli=3000)
    ledger.charge(1000)
    assert ledger.sync(0) == 1000          # our quote is not mined yet: keep it charged
    assert ledger.spent_milli == 1000
    assert ledger.sync(1500) == 0          # the chain knows more: the chain wins
    assert ledger.spent_milli == 1500
    ledger.sync(1500, chain_cap_milli=2000)
    assert ledger.cap_milli == 2000
    with pytest.raises(CapRaised, match=r"chain cap \(2500 milli-epsilon\) is above the ledger's cap \(2000\); "
                                        "a cap may only be lowered: rebuild the ledger from the chain") as err:
        ledger.sync(1500, chain_cap_milli=2500)
    assert (err.value.chain_cap_milli, err.value.cap_milli) == (2500, 2000)
    assert isinstance(err.value, PrivacyError) and isinstance(err.value, ValueError)
    assert not isinstance(err.value, InvalidEpsilon)  # the epsilon is fine; the cap went the wrong way
    assert ledger.cap_milli == 2000                   # and nothing changed


def test_ledger_rejects_zero_cap_and_refuses_every_charge_once_spent_is_above_a_lowered_cap():
    with pytest.raises(InvalidEpsilon):
        PrivacyLedger(cap_milli=0)
    lowered = PrivacyLedger(cap_milli=10, spent_milli=11)  # as on chain after registerDataset lowered the cap
    assert lowered.remaining_milli == 0
    with pytest.raises(BudgetExceeded):
        lowered.charge(1)


class _Untouchable(dict):
    def __getitem__(self, key):
        raise AssertionError("data read after a refused charge")

    def get(self, key, default=None):
        raise AssertionError("data read after a refused charge")


class _NoNoise:
    def __getattr__(self, name):
        raise AssertionError("noise drawn after a refused charge")


@given(st.integers(min_value=1, max_value=5000), st.integers(min_value=1, max_value=5000))
def test_draw_release_refuses_past_cap_before_any_noise_or_data(cap, milli):
    assume(milli > cap)
    ledger = PrivacyLedger(cap_milli=cap)
    offer = Offer(price_rule={}, epsilon=milli / 1000)
    with pytest.raises(BudgetExceeded):
        draw_release(offer, None, _Untouchable(), ledger=ledger, rng=_NoNoise())
    assert ledger.spent_milli == 0


def test_draw_release_charges_the_ceiling_milli(ml_schema, rng, ml_data):
    ledger = PrivacyLedger(cap_milli=2000)
    offer = Offer(price_rule={}, epsilon=0.3333)
    release = draw_release(offer, ml_schema, ml_data(rng, 50), ledger=ledger, rng=rng)
    assert ledger.spent_milli == 334
    assert release.epsilon == 0.3333
    assert np.isfinite(release.tensors["features"]).all()


def test_draw_release_refunds_when_the_mechanism_refuses_the_data(ml_schema, ml_data, rng):
    data = ml_data(rng, 20)
    data["features"][0, 0] = 1000.0  # outside age's bounds, no clamp
    ledger = PrivacyLedger(cap_milli=2000)
    with pytest.raises(OutOfBounds):
        draw_release(Offer(price_rule={}, epsilon=1.0), ml_schema, data, ledger=ledger, rng=rng)
    assert ledger.spent_milli == 0


def test_refund_cannot_go_below_zero():
    ledger = PrivacyLedger(cap_milli=2000)
    ledger.charge(10)
    with pytest.raises(OverRefund, match="refund of 11 milli-epsilon exceeds the 10 milli-epsilon spent; "
                                         "refund only the epsilon_milli of a charge") as err:
        ledger.refund(11)
    assert (err.value.refund_milli, err.value.spent_milli) == (11, 10)
    assert isinstance(err.value, PrivacyError) and isinstance(err.value, ValueError)
    assert not isinstance(err.value, InvalidEpsilon)
    assert ledger.spent_milli == 10
