"""Sanitized offers: the terms `release` object (every parameter a JSON string) round-trips, the
precision notation parses, what the ledger is charged (EXACT alone, ceil(1000 epsilon) with DP
after), and what the offer tells the buyer."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from privacy import EXACT, InvalidSanitizerAlpha, MalformedSanitizedOffer, PrivacyError, SanitizedOffer, parse_precision, \
    precision_epsilon_milli

EXAMPLE = {"epsilon": "exact", "mechanism": {"name": "sanitizer", "private": "sex", "alpha": "0.9",
                                             "variant": "stochastic"}}


def _disclosed(release, offer):
    """`release` with the ``guarantee`` parameter terms_release adds (the describe() text)."""
    return {**release, "mechanism": {**release["mechanism"], "guarantee": offer.describe()}}


def test_the_release_object_tells_the_buyer_the_accounting_and_refuses_a_false_claim():
    offer = SanitizedOffer.from_terms_release(EXAMPLE)
    shown = offer.terms_release()
    assert "no epsilon guarantee" in shown["mechanism"]["guarantee"]
    assert SanitizedOffer.from_terms_release(shown) == offer
    lie = {**shown, "mechanism": {**shown["mechanism"], "guarantee": "1-DP"}}
    with pytest.raises(MalformedSanitizedOffer, match="guarantee"):
        SanitizedOffer.from_terms_release(lie)


def _strings_only(obj) -> bool:
    if isinstance(obj, dict):
        return all(_strings_only(v) for v in obj.values())
    return isinstance(obj, str)


def test_the_documented_example_parses_and_counts_as_exact():
    offer = SanitizedOffer.from_terms_release(EXAMPLE)
    assert (offer.private, offer.alpha, offer.variant, offer.then) == ("sex", "0.9", "stochastic", None)
    assert offer.terms_release() == _disclosed(EXAMPLE, offer)
    assert offer.epsilon_milli == precision_epsilon_milli(EXAMPLE) == EXACT
    text = offer.describe()
    assert "no epsilon guarantee" in text and "counts as an exact release" in text and "'sex'" in text


alphas = st.decimals(min_value=0, max_value=1, places=4).map(lambda d: format(d.normalize(), "f"))
epsilons = st.one_of(st.just("exact"), st.decimals(min_value=Decimal("0.001"), max_value=100, places=3)
                     .map(lambda d: format(d.normalize(), "f")))


@given(alpha=alphas, variant=st.sampled_from(["deterministic", "stochastic"]), epsilon=epsilons,
       utility=st.one_of(st.none(), st.just("income")))
def test_terms_release_round_trips_with_every_parameter_a_string(alpha, variant, epsilon, utility):
    then = None if epsilon == "exact" else "ml-laplace-rr"
    offer = SanitizedOffer(private="sex", alpha=alpha, variant=variant, epsilon=epsilon, then=then, utility=utility)
    doc = json.loads(json.dumps(offer.terms_release()))
    assert _strings_only(doc)
    assert SanitizedOffer.from_terms_release(doc) == offer
    expected = EXACT if epsilon == "exact" else int((Decimal(epsilon) * 1000).to_integral_value("ROUND_CEILING"))
    assert offer.epsilon_milli == expected


@pytest.mark.parametrize(("epsilon", "milli"), [("0.0011", 2), ("1.0005", 1001), ("0.5", 500), ("2", 2000)])
def test_sanitizer_then_dp_spends_ceil_1000_epsilon_on_the_decimal(epsilon, milli):
    release = {"epsilon": epsilon, "mechanism": {**EXAMPLE["mechanism"], "then": "ml-laplace-rr"}}
    assert precision_epsilon_milli(release) == milli
    assert "DP" in SanitizedOffer.from_terms_release(release).describe()


def test_the_precision_notation_parses():
    offer = parse_precision("sanitized(p=sex, α=0.90, variant=stochastic)")
    assert offer.terms_release() == _disclosed(EXAMPLE, offer)
    dp = parse_precision("sanitized(p=sex, alpha=1, epsilon=0.25, then=ml-laplace-rr)")
    assert (dp.alpha, dp.epsilon_milli) == ("1", 250)


@pytest.mark.parametrize("text", ["sanitised(p=sex, alpha=0.9)", "sanitized(alpha=0.9)", "sanitized(p=sex)",
                                  "sanitized(p=sex, alpha=0.9, colour=red)", "sanitized(p=sex, p=age, alpha=1)",
                                  "sanitized(p=sex, alpha)"])
def test_a_malformed_precision_is_refused(text):
    with pytest.raises(MalformedSanitizedOffer):
        parse_precision(text)


@pytest.mark.parametrize(("mutate", "match"), [
    (lambda r: r["mechanism"].update(alpha=0.9), "must be a JSON string"),
    (lambda r: r["mechanism"].update(seed="1"), "unknown key"),
    (lambda r: r["mechanism"].pop("private"), "lacks"),
    (lambda r: r["mechanism"].update(name="ml-laplace-rr"), "name 'sanitizer'"),
    (lambda r: r.update(epsilon="0.5"), "needs a DP mechanism after it"),
    (lambda r: r["mechanism"].update(then="ml-laplace-rr"), "a sanitizer alone has epsilon 'exact'"),
    (lambda r: r.update(epsilon=1), "positive decimal string"),
    (lambda r: r.update(epsilon="0"), "positive decimal string"),
    (lambda r: r["mechanism"].update(variant="noisy"), "variant"),
    (lambda r: r.update(nonce="x"), "exactly 'epsilon' and 'mechanism'"),
])
def test_a_malformed_terms_release_is_refused_naming_the_defect(mutate, match):
    doc = json.loads(json.dumps(EXAMPLE))
    mutate(doc)
    with pytest.raises(MalformedSanitizedOffer, match=match) as err:
        SanitizedOffer.from_terms_release(doc)
    assert isinstance(err.value, PrivacyError)


@pytest.mark.parametrize("alpha", ["1.1", "-0.1", "NaN", "nan", "1e-1", ".5"])
def test_an_alpha_outside_0_1_is_refused(alpha):
    with pytest.raises(InvalidSanitizerAlpha):
        SanitizedOffer.from_terms_release({**EXAMPLE, "mechanism": {**EXAMPLE["mechanism"], "alpha": alpha}})
