"""One check for a new or edited offer, shared by `spartacus offer set` and the owner's page: the
fields parse, the release is valid for the dataset, the price rule is one of the protocol's, its MDE
method is one validated on the release's mechanism (`pricing_fit`: no influence on DP releases), the
tokens are on the hub's list, the fixed-price menu stays arbitrage-free across precisions, and the
offer's epsilon fits in the budget the dataset has left on chain. `save_offer` then keeps it (fitting
a sanitized offer's sanitizer once, before the offer is listed)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from fractions import Fraction
from typing import Any, Callable, Mapping, Sequence

from web3 import Web3

from client.chain.exchange import ETH, EXACT

from .store import DatasetRecord, OfferRecord, Store

__all__ = ["OfferDraft", "OfferRejected", "SpecDoesNotFit", "build_offer", "fitting_spec", "fixed_menu", "pricing_fit",
           "spec_fit", "release_mechanism", "releases_left", "save_offer"]

_EPSILON = re.compile(r"(0|[1-9][0-9]*)(\.[0-9]+)?")
_OFFER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")


class OfferRejected(ValueError):
    """Raised when an offer is refused; `field` names the input at fault (epsilon, price, ...)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


@dataclass(frozen=True)
class OfferDraft:
    """An offer as the owner typed it (strings, as a form or the command line gives them).

    `bounds` are `NAME=LO:HI` items; exactly one of `price` (fixed) or `mde_method` (with `curve`,
    JSON) is set; `tokens` default to ETH. Mechanism "sanitizer" sells ``sanitized(p=private,
    alpha=alpha)`` of `variant`: epsilon "exact" alone (no guarantee), or a decimal epsilon for
    ml-laplace-rr after the sanitizer."""

    offer_id: str
    dataset: DatasetRecord
    epsilon: str
    buyer: str | None = None
    mechanism: str = "ml-laplace-rr"
    bounds: Sequence[str] = ()
    clamp: bool = False
    price: str | None = None
    mde_method: str | None = None
    curve: str | None = None
    tokens: Sequence[str] = field(default_factory=tuple)
    quote_fee: str = "0"
    private: str | None = None
    alpha: str | None = None
    variant: str = "deterministic"


def fixed_menu(offers: Sequence[OfferRecord], dataset_id: str, buyer: str | None) -> list[tuple[float, int]]:
    """The (epsilon, price) points of the fixed-price, non-exact offers one buyer (or the defaults) sees
    on one dataset: the menu that must be arbitrage-free."""
    out = []
    for o in offers:
        if o.dataset_id.lower() != dataset_id.lower() or (o.buyer or "").lower() != (buyer or "").lower():
            continue
        eps = o.release.get("epsilon")
        if eps == "exact" or o.pricing.get("method") != "fixed":
            continue
        out.append((float(Fraction(eps)), int(o.pricing["price"])))
    return out


def release_mechanism(release: Mapping[str, Any]) -> str:
    """The mechanism whose output the buyer's model sees, as `pricing.method_fits_release` names it: the
    release object's mechanism name; a sanitizer alone counts as "exact" (a learned map of the features
    that adds no DP noise), a sanitizer followed by a DP mechanism as that mechanism."""
    mech = release.get("mechanism")
    name = mech.get("name") if isinstance(mech, Mapping) else None
    if name == "sanitizer":
        return str(mech.get("then") or "exact")
    return str(name)


def pricing_fit(release: Mapping[str, Any], pricing: Mapping[str, Any]) -> tuple[bool, str]:
    """(whether an offer's `pricing` may price its `release`, why, with the fix when not): a fixed price
    always may; an MDE method only where `pricing.method_fits_release` found it sound (issue 29)."""
    from pricing import METHODS, method_fits_release
    from pricing.release_fit import DP_MECHANISMS, FITS_DP_WITH

    method = pricing.get("method")
    if method == "fixed":
        return True, "a fixed price does not read the release"
    mechanism = release_mechanism(release)
    ok, reason = method_fits_release(str(method), mechanism)
    if ok:
        return True, reason
    fits = [m + (f" (its spec setting hyper.{FITS_DP_WITH[m][0]} > 0)" if m in FITS_DP_WITH else "")
            for m in sorted(METHODS) if method_fits_release(m, mechanism)[0]]
    kind = "DP releases" if mechanism in DP_MECHANISMS else f"{mechanism} releases"
    fix = f"use {' or '.join(fits)} for {kind}, or a fixed price" if fits else "use a fixed price"
    return False, f"pricing method {method!r} does not fit this release ({mechanism}): {fix}. Why: {reason}"


class SpecDoesNotFit(ValueError):
    """A valid spec whose method's settings may not price the offer's release (the reason is the message)."""


def spec_fit(release: Mapping[str, Any], method: str, hyper: Mapping[str, float]) -> tuple[bool, str]:
    """(whether a spec of `method` with the parsed `hyper` may price `release`, why): the offer's
    method may fit only with a setting the spec must make (`pricing.release_fit.FITS_DP_WITH`)."""
    from pricing import method_fits_release

    return method_fits_release(method, release_mechanism(release), hyper)


def fitting_spec(bundle: bytes, release: Mapping[str, Any], max_spec_bytes: int,
                 check: Callable[[Any], None] | None = None) -> Any:
    """A terms' spec bundle parsed (a bundle the hub stored is never refused for its size) and
    `check`ed, then `spec_fit` against the offer's release: one path for the terms (HTTP 422) and
    the deal (an on-chain decline). Raises `pricing.PricingError` (invalid, or from `check`) or
    `SpecDoesNotFit`."""
    from pricing import parse_spec

    spec = parse_spec(bundle, max_bytes=max(max_spec_bytes, len(bundle)))
    if check is not None:
        check(spec)
    fits, why = spec_fit(release, spec.method, spec.hyper)
    if not fits:
        raise SpecDoesNotFit(why)
    return spec


def releases_left(offer: OfferRecord, budget_left_milli: int | None) -> int | None:
    """How many more releases at `offer`'s precision the budget still pays for; None when unlimited
    (an exact cap, or budget unknown). An exact offer on a capped dataset buys none."""
    if budget_left_milli is None:
        return None
    eps = offer.release.get("epsilon")
    if eps == "exact":
        return 0
    from .pipeline import epsilon_milli_of

    return max(0, budget_left_milli) // epsilon_milli_of(str(eps))


def _sanitized_release(draft: OfferDraft) -> dict[str, Any]:
    from privacy import InvalidSanitizerAlpha, PrivacyError, SanitizedOffer
    from privacy.mechanisms.sanitizer import VARIANTS

    ds = draft.dataset
    if draft.bounds or draft.clamp:
        raise OfferRejected("bounds", "a sanitized offer takes no bounds or clamp: the sanitizer releases within "
                                      "its own bounds")
    if not draft.private:
        raise OfferRejected("private", "a sanitized offer names the private column the sanitizer hides (--private)")
    if draft.alpha is None or not draft.alpha.strip():
        raise OfferRejected("alpha", "a sanitized offer names its privacy weight alpha in [0, 1], e.g. 0.9 (--alpha)")
    if draft.variant not in VARIANTS:
        raise OfferRejected("variant", f"variant {draft.variant!r} must be one of {list(VARIANTS)}")
    exact = draft.epsilon == "exact"
    if not exact and (not _EPSILON.fullmatch(draft.epsilon) or Fraction(draft.epsilon) == 0):
        raise OfferRejected("epsilon", f"epsilon {draft.epsilon!r} must be 'exact' (the sanitizer alone) or a "
                                       "positive decimal like 0.5 (ml-laplace-rr after the sanitizer)")
    try:
        precision = SanitizedOffer(private=draft.private, alpha=draft.alpha, variant=draft.variant,
                                   epsilon=draft.epsilon, then=None if exact else "ml-laplace-rr")
    except InvalidSanitizerAlpha as err:
        raise OfferRejected("alpha", str(err)) from None
    except PrivacyError as err:
        raise OfferRejected("mechanism", f"the sanitized precision is invalid: {err}") from None
    label = ds.schema.get("label") or {}
    if label.get("kind") not in ("boolean", "categorical"):
        raise OfferRejected("mechanism", f"dataset {ds.name} has no categorical label: a sanitizer keeps the label "
                                         "(the buyer's utility) inferable, so it needs one")
    private_ok = {c["name"] for c in ds.schema.get("columns") or [] if c.get("kind") in ("boolean", "categorical")}
    private_ok |= {c["name"] for c in ds.schema.get("features") or [] if c.get("kind") == "integer"}
    if draft.private not in private_ok:
        raise OfferRejected("private", f"private column {draft.private!r} is not one of dataset {ds.name}'s boolean "
                                       f"or categorical columns or integer features: {sorted(private_ok)}")
    if exact and ds.epsilon_cap_milli != EXACT:
        raise OfferRejected("epsilon", f"a sanitized release alone carries no epsilon guarantee and spends EXACT, "
                                       f"but dataset {ds.name} has a cap of {ds.epsilon_cap_milli / 1000:g}: give "
                                       "an epsilon to pass it through ml-laplace-rr, or sell it on an EXACT-cap "
                                       "dataset")
    return precision.terms_release()


def _release(draft: OfferDraft) -> dict[str, Any]:
    from privacy import Offer, PrivacyError
    from privacy.offers import MECHANISMS

    ds = draft.dataset
    if draft.mechanism == "sanitizer":
        return _sanitized_release(draft)
    for name, value in (("private", draft.private), ("alpha", draft.alpha)):
        if value is not None and value.strip():
            raise OfferRejected(name, f"{name} {value!r} is the sanitizer's: choose mechanism 'sanitizer' to sell "
                                      f"a sanitized release, or leave {name} empty")
    if draft.epsilon == "exact":
        if ds.epsilon_cap_milli != EXACT:
            raise OfferRejected("epsilon", f"dataset {ds.name} has a cap of {ds.epsilon_cap_milli / 1000:g}: "
                                           "exact offers need an EXACT cap")
        return {"epsilon": "exact", "mechanism": {"name": "exact"}}
    if not _EPSILON.fullmatch(draft.epsilon) or Fraction(draft.epsilon) == 0:
        raise OfferRejected("epsilon", f"epsilon {draft.epsilon!r} must be a positive decimal like 1 or 0.25, "
                                       "or 'exact'")
    choices = [m for m in MECHANISMS if m != "exact"] + ["sanitizer"]
    if draft.mechanism not in choices:
        raise OfferRejected("mechanism", f"mechanism {draft.mechanism!r} must be one of {choices}")
    bounds: dict[str, tuple[float, float]] = {}
    for b in draft.bounds:
        try:
            col, rng = b.split("=", 1)
            lo, hi = (float(v) for v in rng.split(":", 1))
        except ValueError:
            raise OfferRejected("bounds", f"bound {b!r} must be NAME=LO:HI") from None
        bounds[col.strip()] = (lo, hi)
    columns = {c["name"] for part in ("features", "columns") for c in ds.schema.get(part) or []}
    columns |= {ds.schema["label"]["name"]} if ds.schema.get("label") else set()
    unknown = sorted(set(bounds) - columns)
    if unknown:
        raise OfferRejected("bounds", f"bounds name column(s) {unknown} that dataset {ds.name} does not have: "
                                      f"{sorted(columns)}")
    try:  # privacy writes the release object, so the terms a buyer copies from it parse
        return Offer(price_rule={}, epsilon=draft.epsilon, mechanism=draft.mechanism, bounds=bounds,
                     clamp=draft.clamp).terms_release()
    except (PrivacyError, ValueError) as err:
        raise OfferRejected("epsilon", f"the offer's release is invalid: {err}") from None


def _pricing(draft: OfferDraft) -> dict[str, Any]:
    from pricing import METHODS, PricingError, apply_curve
    from pricing.curves import CURVES

    if (draft.price is None) == (draft.mde_method is None):
        raise OfferRejected("price", "give exactly one price rule: a fixed price in the token's smallest unit, "
                                     "or an MDE method with a curve")
    if draft.price is not None:
        if not draft.price.isdigit():
            raise OfferRejected("price", f"price {draft.price!r} must be a whole number of the token's smallest unit")
        return {"method": "fixed", "price": str(int(draft.price))}
    if draft.mde_method not in METHODS:
        raise OfferRejected("mde_method", f"MDE method {draft.mde_method!r} must be one of {sorted(METHODS)}")
    try:
        parsed = json.loads(draft.curve or "")
    except ValueError:
        raise OfferRejected("curve", 'the curve must be JSON such as {"kind": "linear", "slope": "1000"}') from None
    if not isinstance(parsed, dict) or parsed.get("kind") not in CURVES:
        raise OfferRejected("curve", f"the curve needs a kind in {sorted(CURVES)}")
    try:
        apply_curve(parsed, 1.0, 10**18)
    except PricingError as err:
        raise OfferRejected("curve", f"the curve is not a valid {parsed['kind']} curve: {err}") from None
    return {"method": draft.mde_method, "curve": parsed}


def _fits_dataset(release: Mapping[str, Any], pricing: Mapping[str, Any], dataset: DatasetRecord) -> None:
    """Refuse an offer whose release the dataset cannot yield, or whose MDE pricing has nothing to
    price: ml-laplace-rr draws features and a label, the table mechanism a table of columns only
    (privacy refuses a table release of a dataset with features), and an MDE method prices
    records with a label. Such an offer could only be declined at every deal."""
    mechanism = release["mechanism"]["name"]
    schema, name = dataset.schema, dataset.name
    has_records = bool(schema.get("features")) and bool(schema.get("label"))
    if mechanism == "ml-laplace-rr" and not has_records:
        raise OfferRejected("mechanism", f"dataset {name} is a table of columns, without features and a label: "
                                         "mechanism ml-laplace-rr draws records; choose 'table'")
    if mechanism == "table" and schema.get("features"):
        raise OfferRejected("mechanism", f"dataset {name} has features and a label: mechanism 'table' releases a "
                                         "table of columns only; choose ml-laplace-rr")
    if pricing.get("method") != "fixed" and not has_records:
        raise OfferRejected("mde_method", f"dataset {name} has no features and label for an MDE method to price "
                                          "(it prices how records improve a buyer's model): give a fixed price")


def build_offer(draft: OfferDraft, *, existing: Sequence[OfferRecord], hub_tokens: Sequence[str],
                budget_left_milli: int | None) -> OfferRecord:
    """The offer record `draft` describes, checked against the hub's other offers (`existing`, the
    one it replaces included or not), its token list and the dataset's budget left on chain in
    milli-epsilon (None: unknown or an exact cap, not checked). Raises `OfferRejected`."""
    from pricing import check_arbitrage_free

    if not _OFFER_ID.fullmatch(draft.offer_id):
        raise OfferRejected("offer_id", f"offer id {draft.offer_id!r} must be 1-64 letters, digits, '.', '_' or '-'")
    buyer = draft.buyer
    if buyer is not None:
        if not Web3.is_address(buyer):
            raise OfferRejected("buyer", f"buyer {buyer!r} is not an address (0x + 40 hex digits), or leave it "
                                         "empty for every buyer")
        buyer = Web3.to_checksum_address(buyer)
    release = _release(draft)
    pricing = _pricing(draft)
    fits, why = pricing_fit(release, pricing)
    if not fits:
        raise OfferRejected("mde_method", why)
    _fits_dataset(release, pricing, draft.dataset)
    raw_tokens = list(draft.tokens) or [ETH]
    tokens = tuple(Web3.to_checksum_address(t) for t in raw_tokens if Web3.is_address(t))
    if len(tokens) != len(raw_tokens):
        raise OfferRejected("tokens", f"token values {raw_tokens} must be addresses (ETH is {ETH})")
    listed = {s.lower() for s in hub_tokens}
    not_listed = [t for t in tokens if t.lower() not in listed]
    if not_listed:
        raise OfferRejected("tokens", f"token(s) {not_listed} are not on the hub's list {list(hub_tokens)}: "
                                      "add them to `tokens` in hub.toml")
    if not draft.quote_fee.isdigit():
        raise OfferRejected("quote_fee", f"quote fee {draft.quote_fee!r} must be a whole number")
    new = OfferRecord(draft.offer_id, draft.dataset.dataset_id, buyer, release, pricing, tokens, int(draft.quote_fee))
    if budget_left_milli is not None and draft.dataset.epsilon_cap_milli != EXACT and release["epsilon"] != "exact":
        from .pipeline import epsilon_milli_of

        need = epsilon_milli_of(release["epsilon"])
        if need > budget_left_milli:
            raise OfferRejected("epsilon", f"epsilon {release['epsilon']} spends more than the "
                                           f"{max(0, budget_left_milli) / 1000:g} left of dataset "
                                           f"{draft.dataset.name}'s budget: offer a smaller epsilon")
    menu = fixed_menu([*(o for o in existing if o.offer_id != draft.offer_id), new], new.dataset_id, buyer)
    if len(menu) > 1:
        report = check_arbitrage_free(menu)
        if not report.ok:
            raise OfferRejected("price", "the offers would allow arbitrage: " + "; ".join(report.violations)
                                + " — raise the higher-epsilon price or lower the other")
    return new


def save_offer(store: Store, offer: OfferRecord, dataset: DatasetRecord) -> bool:
    """Keep `offer` (checked by `build_offer`); a sanitized offer's sanitizer is fitted first, once,
    on the owner's data (kept unless the offer's release or dataset changed). True when a fit ran.
    Raises `OfferRejected` when the sanitizer cannot be fitted on this dataset."""
    from privacy import PrivacyError

    from .sanitizers import is_sanitized, sanitizer_for

    fitted = False
    if is_sanitized(offer.release):
        try:
            fitted = sanitizer_for(store, offer, dataset)[1]
        except PrivacyError as err:  # names columns and kinds only, never a data value
            raise OfferRejected("private", f"the sanitizer cannot be fitted on dataset {dataset.name}: "
                                           f"{type(err).__name__}: {err}") from None
    store.put_offer(offer)
    return fitted
