"""The hub's request-side rules: what a spec upload, a terms document and a download must satisfy
before the hub answers 201 or serves bytes (protocol.md "Hub HTTP API"). HTTP-free: functions of
the `HubContext` and bytes that raise the `oracle.errors` family, which the API maps to status codes.

Rules are checked in the protocol's order (400, 404, 422, 409): a request that breaks several is
answered by the first. No message here quotes a raw data value: only the buyer's own inputs."""

from __future__ import annotations

from typing import Any

from eth_utils import is_checksum_address, is_hex_address, to_checksum_address
from web3.exceptions import Web3Exception

from client.chain import State
from client.chain.exchange import EXACT
from client.terms import PROTOCOL, Terms, TermsError, UnquotableTerms, check_quotable, parse_terms
from pricing import PricingError, Spec, parse_spec, spec_hash

from .budget import budget_refusal, spent_milli
from .context import HubContext
from .errors import BadRequest, Conflict, Forbidden, NotFound, TooLarge, Unprocessable
from .offers import SpecDoesNotFit, fitting_spec, pricing_fit
from .store import DatasetRecord, DealRecord, OfferRecord, TermsRecord

__all__ = [
    "PROTOCOL", "SERVED_PHASES", "checked_address", "datasets_public", "offers_public", "accept_spec",
    "accept_terms", "deal_public", "deal_for_download", "phase_name", "spec_schema_of",
]

#: Deal phases in which the buyer may download the ciphertext and the leaves.
SERVED_PHASES = ("Quoted", "Accepted", "Revealed")
_PHASES = ("None", "Open", "Quoted", "Accepted", "Revealed", "Settled", "Refunded")

# The first bytes of what must never be loaded: a pickle (protocol 2..5 starts with 0x80 and the
# protocol number) and torch.save's zip archive (which holds a pickle).
_PICKLE_MAGIC = tuple(bytes([0x80, p]) for p in range(2, 6))
_ZIP_MAGIC = b"PK\x03\x04"


def checked_address(value: str, what: str) -> str:
    """`value` as a checksummed address; raises `BadRequest` for anything else (a wrong EIP-55
    checksum included; all-lower-case or all-upper-case hex carry no checksum and are accepted)."""
    if not isinstance(value, str) or not is_hex_address(value):
        raise BadRequest(f"{what} must be an address: 0x followed by 40 hex digits")
    body = value[2:]
    if body != body.lower() and body != body.upper() and not is_checksum_address(value):
        raise BadRequest(f"{what} has a wrong EIP-55 checksum: write {to_checksum_address(value)} or all lower case")
    return to_checksum_address(value)


# ---------------------------------------------------------------- catalogue


def datasets_public(ctx: HubContext) -> list[dict[str, Any]]:
    """Every dataset with its schema, rows, cap and the epsilon spent as the chain says (not a local copy)."""
    out = []
    for d in ctx.store.list_datasets():
        spent = ctx.exchange.epsilon_spent(ctx.seller, bytes.fromhex(d.dataset_id[2:]))
        out.append({"datasetId": d.dataset_id, "name": d.name, "schema": d.schema, "rows": d.rows,
                    "epsilonCapMilli": d.epsilon_cap_milli, "epsilonSpentMilli": spent})
    return out


def offers_public(ctx: HubContext, buyer: str) -> dict[str, Any]:
    """What this hub offers `buyer` (its own offers and the defaults)."""
    buyer = checked_address(buyer, "the buyer query parameter")
    return {"buyer": buyer, "offers": [o.public() for o in ctx.store.offers_for(buyer)]}


# ---------------------------------------------------------------- specs


def accept_spec(ctx: HubContext, bundle: bytes) -> str:
    """Validate a spec bundle strictly (never unpickled) and store it; return its specHash.
    Raises `TooLarge` over the limit and `Unprocessable` naming the broken rule."""
    if len(bundle) > ctx.max_spec_bytes:
        raise TooLarge(f"the spec bundle is {len(bundle)} bytes, over this hub's limit of {ctx.max_spec_bytes}; "
                       "ship a smaller proxy or fewer probe rows")
    if bundle.startswith(_PICKLE_MAGIC) or bundle.startswith(_ZIP_MAGIC):
        raise Unprocessable("the body is a pickle (or a torch.save archive), which this hub never loads: "
                            "build the spec with pricing.make_spec, a safetensors bundle")
    try:
        parse_spec(bundle, max_bytes=ctx.max_spec_bytes)
    except PricingError as e:
        raise Unprocessable(f"the spec bundle is not valid ({type(e).__name__}): {e}") from None
    h = spec_hash(bundle)
    ctx.store.put_spec(h, bundle)
    return h


def spec_schema_of(schema: dict[str, Any]) -> dict[str, Any]:
    """A dataset's release schema (privacy.Schema JSON) in the form a spec's manifest names it:
    feature names and a label that is categorical (with its class count) or continuous."""
    label = schema.get("label") or {}
    kind = label.get("kind")
    if kind in ("categorical", "boolean"):
        classes = 2 if kind == "boolean" else (label.get("classes") or len(label.get("categories") or ()))
        spec_label: dict[str, Any] = {"kind": "categorical", "classes": classes}
    else:
        spec_label = {"kind": "continuous"}
    return {"features": [{"name": f.get("name")} for f in schema.get("features", [])], "label": spec_label}


# ---------------------------------------------------------------- terms


def _parse(body: bytes) -> Terms:
    try:
        return parse_terms(body)
    except TermsError as e:
        raise BadRequest(f"the terms are malformed ({type(e).__name__}): {e}") from None


def _found(ctx: HubContext, terms: Terms) -> tuple[DatasetRecord, OfferRecord]:
    dataset = ctx.store.get_dataset(terms.dataset_id)
    if dataset is None:
        raise NotFound(f"datasetId {terms.dataset_id} is not a dataset of this hub: pick one from GET /v1/datasets")
    offer = ctx.store.get_offer(terms.offer_id)
    if offer is None:
        raise NotFound(f"offerId {terms.offer_id!r} is not an offer of this hub: pick one from GET /v1/offers?buyer=")
    return dataset, offer


def _budget_has_room(ctx: HubContext, terms: Terms, dataset: DatasetRecord) -> None:
    """Raise `Unprocessable` when the dataset's budget left (`oracle.budget`) cannot pay for the
    release's epsilon now: the quote pipeline would decline the deal after the buyer had paid to
    open it. (Another deal can still spend the budget between these terms and their deal: the
    pipeline checks again.)"""
    if dataset.epsilon_cap_milli == EXACT:
        return
    spent = spent_milli(ctx.store, ctx.exchange, ctx.seller, dataset.dataset_id)
    refusal = budget_refusal(dataset.name, dataset.epsilon_cap_milli, spent, terms.epsilon_milli)
    if refusal is not None:
        raise Unprocessable(refusal)


def _priceable(ctx: HubContext, terms: Terms, dataset: DatasetRecord, offer: OfferRecord) -> Spec | None:
    """Raise `Unprocessable` for the first rule the hub will not price under; the parsed spec if any."""
    try:
        check_quotable(terms)
    except UnquotableTerms as e:
        raise Unprocessable(str(e)) from None
    if terms.chain_id != ctx.chain_id:
        raise Unprocessable(f"chainId {terms.chain_id} is not this hub's chain ({ctx.chain_id}): see GET /v1/info")
    if terms.contract != ctx.exchange.address:
        raise Unprocessable(f"contract {terms.contract} is not this hub's exchange ({ctx.exchange.address}): see GET /v1/info")
    if terms.seller != ctx.seller:
        raise Unprocessable(f"seller {terms.seller} is not this hub's seller ({ctx.seller}): see GET /v1/info")
    if offer.buyer is not None and offer.buyer != terms.buyer:
        raise Unprocessable(f"offer {offer.offer_id!r} is not made to buyer {terms.buyer}: use an offer from "
                            f"GET /v1/offers?buyer={terms.buyer}")
    if offer.dataset_id != terms.dataset_id:
        raise Unprocessable(f"offer {offer.offer_id!r} is for dataset {offer.dataset_id}, not {terms.dataset_id}: "
                            "copy the offer's datasetId")
    if terms.release != offer.release:
        raise Unprocessable(f"release is not offer {offer.offer_id!r}'s release: copy the offer's release object as it is")
    if terms.pricing != offer.pricing:
        raise Unprocessable(f"pricing is not offer {offer.offer_id!r}'s pricing: copy the offer's pricing object as it is")
    fits, why = pricing_fit(offer.release, offer.pricing)
    if not fits:  # an offer kept before the rule (issue 29) is refused here, not quoted
        raise Unprocessable(f"offer {offer.offer_id!r} will not be priced: {why}; ask the owner for an offer "
                            "with a fitting method")
    if terms.token.lower() not in {t.lower() for t in offer.tokens}:
        raise Unprocessable(f"token {terms.token} is not one offer {offer.offer_id!r} lists "
                            f"({', '.join(offer.tokens)}): pay with one of them")
    if terms.quote_fee < offer.min_quote_fee:
        raise Unprocessable(f"quoteFee {terms.quote_fee} is under offer {offer.offer_id!r}'s minQuoteFee "
                            f"{offer.min_quote_fee}: pay at least that")
    _budget_has_room(ctx, terms, dataset)
    if terms.spec_hash is None:  # a fixed price (check_quotable refused a spec-reading method without one)
        return None
    bundle = ctx.store.get_spec(terms.spec_hash)
    if bundle is None:
        raise Unprocessable(f"specHash {terms.spec_hash} was never uploaded to this hub: PUT /v1/specs first")

    def check(spec: Spec) -> None:
        """What only the terms check: the spec is for the pricing's method and reads the dataset's columns."""
        if spec.method != terms.pricing_method:
            raise Unprocessable(f"the spec is for method {spec.method!r} but the pricing names "
                                f"{terms.pricing_method!r}: build the spec for the offer's method")
        spec.check_schema(spec_schema_of(dataset.schema))

    try:
        return fitting_spec(bundle, offer.release, ctx.max_spec_bytes, check)
    except PricingError as e:
        raise Unprocessable(f"the spec is not valid for dataset {dataset.dataset_id} ({type(e).__name__}): {e}") from None
    except SpecDoesNotFit as e:
        raise Unprocessable(f"the spec will not price offer {offer.offer_id!r}'s release: {e}") from None


def accept_terms(ctx: HubContext, body: bytes) -> TermsRecord:
    """Check canonical terms bytes against this hub's offers and store them; the record answered 201.
    Raises, in this order: `BadRequest` (malformed), `NotFound` (dataset, offerId),
    `Unprocessable` (not priceable, naming the rule), `Conflict` (spec already evaluated, or these
    terms already quoted)."""
    if len(body) > ctx.max_terms_bytes:
        raise TooLarge(f"the terms are {len(body)} bytes, over this hub's limit of {ctx.max_terms_bytes}")
    terms = _parse(body)
    dataset, offer = _found(ctx, terms)
    _priceable(ctx, terms, dataset, offer)
    if terms.spec_hash is not None and ctx.store.spec_evaluated(terms.spec_hash, terms.dataset_id):
        raise Conflict(f"spec {terms.spec_hash} was already evaluated against dataset {terms.dataset_id}, which "
                       "this hub does once per pair: build a new spec to buy again")
    quoted = ctx.store.deal_quoted_on(terms.terms_hash_hex)
    if quoted is not None:
        raise Conflict(f"these terms were quoted in deal {quoted}, and the contract never reopens quoted terms: "
                       "add a \"nonce\" field (any fresh string) to buy the same offer again")
    record = TermsRecord(terms_hash=terms.terms_hash_hex, canonical=bytes(body), buyer=terms.buyer,
                         dataset_id=terms.dataset_id, offer_id=terms.offer_id, spec_hash=terms.spec_hash)
    ctx.store.put_terms(record)
    return record


# ---------------------------------------------------------------- deals


def _deal(ctx: HubContext, deal_id: int) -> DealRecord:
    deal = ctx.store.get_deal(deal_id) if 0 < deal_id < 2**63 else None  # SQLite holds 64-bit ids
    if deal is None:
        opened = _opened_with_us(ctx, deal_id)
        if opened is None:
            raise NotFound(f"deal {deal_id} is not a deal with this hub")
        # on chain with this seller, not yet recorded by the watcher (confirmations, or a moment's lag)
        deal = DealRecord(deal_id=deal_id, buyer=opened["buyer"], terms_hash="0x" + bytes(opened["termsHash"]).hex(),
                          phase=ctx.exchange.state(deal_id).name.capitalize(), reason=None)
    return deal


def _opened_with_us(ctx: HubContext, deal_id: int) -> dict[str, Any] | None:
    """The DealOpened args of `deal_id` if it was opened on chain with this hub's seller, else None
    (a deal id past `dealCount()` costs one view, not a log query)."""
    try:
        if not 0 < deal_id <= ctx.exchange.deal_count():
            return None
        opened = ctx.exchange.deal_opened(deal_id)
    except (Web3Exception, ValueError, OSError):  # a node that limits log queries: the watcher answers soon
        return None
    return opened if opened is not None and opened["seller"] == ctx.seller else None


def phase_name(deal: DealRecord) -> str:
    """The deal's phase as the contract names its state (a declined deal is Refunded, its reason kept)."""
    phase = deal.phase
    for name in _PHASES:
        if phase.lower() == name.lower():
            return name
    return "Refunded" if phase.lower() == "declined" else phase


def deal_public(ctx: HubContext, deal_id: int) -> dict[str, Any]:
    """`GET /v1/deals/<id>`: the phase and, when the hub declined, why."""
    deal = _deal(ctx, deal_id)
    return {"dealId": deal.deal_id, "phase": phase_name(deal), "reason": deal.reason}


def deal_for_download(ctx: HubContext, deal_id: int, signer: str) -> DealRecord:
    """The deal whose files `signer` may download. Raises `NotFound`, `Forbidden` (another address
    than the deal's buyer) or `Conflict` (not Quoted, Accepted or Revealed, or nothing to serve yet)."""
    deal = _deal(ctx, deal_id)
    if signer != deal.buyer:
        raise Forbidden(f"deal {deal_id} is served only to its buyer; the signature recovers to {signer}: "
                        "sign the delivery message of this deal with the buyer's key")
    phase = phase_name(deal)
    if phase == "Open" and deal.cipher_path is not None:
        # the quote is prepared and may be on chain already: postQuote returns before the watcher
        # records the phase, and a buyer polling the chain can ask in between. The chain decides
        # (read only: the watcher, not a request, moves the stored phase).
        state = ctx.exchange.state(deal_id)
        if state in (State.QUOTED, State.ACCEPTED, State.REVEALED):
            phase = state.name.capitalize()
    if phase not in SERVED_PHASES or deal.cipher_path is None or deal.leaves_path is None:
        raise Conflict(f"deal {deal_id} is {phase}; its ciphertext and leaves are served only while it is "
                       f"{', '.join(SERVED_PHASES)}")
    return deal
