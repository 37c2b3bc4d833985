"""The quote pipeline: from a confirmed `DealOpened` to a posted quote or a prompt `decline`.

Checks first (opener is the terms' buyer, the terms accepted, token and amounts fit the offer,
the spec not yet evaluated against the dataset, the chain's budget has room), then: draw the
release with `privacy` (the raw data for an exact offer) and keep it durably with the spec's
evaluated mark and its epsilon counted at the hub, price it with `pricing.price`, encode it with
`client.delivery` under a fresh key into fsync'd files, store key and commitment in one
transaction, and only then `postQuote`. Idempotent: a deal draws at most once (a retry reuses the
kept release), and a deal with a prepared quote is re-posted with the SAME commitment.

No raw data value ever reaches a log line or a stored reason: privacy's errors are reported by
their type only (OutOfBounds quotes the offending value in its message)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Sequence

from web3 import Web3

from client.chain import State
from client.chain.errors import ContractRevert
from client.chain.exchange import EXACT, Sender
from client.constants import epsilon_text
from client.delivery import Commitment, encode_file
from client.terms import epsilon_milli as terms_epsilon_milli
from privacy import (Offer, PrivacyError, PrivacyLedger, SanitizedOffer, Schema, draw_release, draw_sanitized_release,
                     precision_epsilon_milli)

from .context import HubContext
from .offers import SpecDoesNotFit, fitting_spec, pricing_fit
from .budget import budget_refusal, spent_milli
from .rawdata import category_values, decode_raw
from .sanitizers import is_sanitized, sanitizer_for
from .store import StoreError, fsync_dir, fsync_file, write_durable

__all__ = ["QuotePipeline", "Outcome", "STAGES", "epsilon_milli_of", "TEST_HOOK_DRAW_SLEEP", "PHASE_OF_STATE"]

log = logging.getLogger("oracle.pipeline")

#: The pipeline's timed stages, in order.
STAGES = ("draw", "price", "encode", "store", "post")
#: TEST HOOK ONLY: seconds to sleep inside the draw stage, so a test can SIGKILL the hub mid-draw.
TEST_HOOK_DRAW_SLEEP = "SPARTACUS_TEST_HOOK_DRAW_SLEEP"
#: Attempts at a deal that fails with an unexpected error before the hub declines it. A failure
#: re-raises (the watcher retries the step: a node that was briefly down gets another chance), but
#: a deal that always fails (a bug, a release that crashes a kernel) must not stall every deal
#: behind it: after this many attempts it is declined, so its buyer is refunded at once.
MAX_ATTEMPTS = 3
#: The store's phase name for each contract state.
PHASE_OF_STATE = {State.NONE: "None", State.OPEN: "Open", State.QUOTED: "Quoted", State.ACCEPTED: "Accepted",
                  State.REVEALED: "Revealed", State.SETTLED: "Settled", State.REFUNDED: "Refunded"}


def epsilon_milli_of(epsilon: str) -> int:
    """The quote's epsilonMilli: ceil(1000 * epsilon) exactly on the decimal string, EXACT for "exact"
    (`client.terms.epsilon_milli`, the one implementation; a ValueError names a malformed epsilon)."""
    return terms_epsilon_milli(epsilon)


class _Decline(Exception):
    """Internal: the deal will not be priced; `reason` is safe to store and show (no data values)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass
class Outcome:
    """What the pipeline did with a deal: "quoted", "requoted", "declined", "skipped" (chain already
    past Open) or "failed" (a post that reverted); `timings` in seconds per stage."""

    deal_id: int
    action: str
    reason: str | None = None
    price: int | None = None
    timings: dict[str, float] = field(default_factory=dict)


def _same_address(a: str | None, b: str | None) -> bool:
    return a is not None and b is not None and a.lower() == b.lower()


def _hex32(v: Any) -> str:
    return "0x" + (bytes(v).hex() if isinstance(v, (bytes, bytearray)) else str(v).removeprefix("0x")).lower()


def _counted_milli(milli: int, cap: int) -> int | None:
    """The epsilon a draw counts against its dataset at the hub until the chain charges it: None for
    an exact release or a dataset with an EXACT cap, which have no budget to count."""
    return None if milli == EXACT or cap == EXACT else milli


class QuotePipeline:
    """Turns a confirmed DealOpened into a quote or a decline, for the hub in `ctx`.

    `signer` sends postQuote/decline (the oracle's unlocked account, or its address on a test
    chain); `tokens` is the hub's token allow-list; `stage_hook(stage)` is called before each
    stage (tests use it to crash the pipeline at a chosen point)."""

    def __init__(self, ctx: HubContext, *, signer: Sender, tokens: Sequence[str],
                 stage_hook: Callable[[str], None] | None = None) -> None:
        self.ctx = ctx
        self.signer = signer
        self.tokens = {t.lower() for t in tokens}
        self.stage_hook = stage_hook

    @property
    def store(self):  # noqa: ANN201 - the context's Store
        return self.ctx.store

    @staticmethod
    def warm_up() -> float:
        """Load and compile the delivery encoder's kernels (numba, ~1 s once) before the first deal
        waits on them; returns the seconds it took. `hub serve` calls it at start."""
        from client.delivery import encode_bytes

        t0 = time.perf_counter()
        encode_bytes(bytes(1 << 20), bytes(32))
        return time.perf_counter() - t0

    # -- entry ----------------------------------------------------------------------

    def handle_opened(self, deal_id: int, args: Mapping[str, Any], *, block: int = 0) -> Outcome:
        """Act on DealOpened `args` (the decoded event) for deal `deal_id`; safe to call again."""
        self.store.record_deal_opened(
            deal_id, buyer=Web3.to_checksum_address(args["buyer"]), terms_hash=_hex32(args["termsHash"]),
            dataset_id=_hex32(args["datasetId"]), token=Web3.to_checksum_address(args["token"]),
            max_price=int(args["maxPrice"]), quote_fee=int(args["quoteFee"]), block=block)
        state = self.ctx.exchange.state(deal_id)
        if state != State.OPEN:
            self._sync_phase(deal_id, state)
            return Outcome(deal_id, "skipped", reason=f"deal is {state.name} on chain")
        prepared = self.store.prepared_quote(deal_id)
        if prepared is not None:
            return self._post(deal_id, prepared.price, prepared.epsilon_milli,
                              Commitment(prepared.data_root, prepared.cipher_root, prepared.key_commit, prepared.size),
                              {}, action="requoted")
        attempt = self.store.begin_attempt(deal_id)  # durable: a process killed while pricing counted it
        if attempt > MAX_ATTEMPTS:
            log.error("deal %d: %d attempts to price it did not finish (the process stopped); declining", deal_id,
                      MAX_ATTEMPTS)
            return self._decline(deal_id, f"the hub could not finish pricing this deal in {MAX_ATTEMPTS} attempts "
                                          "(its process stopped while pricing); declined so the buyer is refunded")
        try:
            plan = self._check(deal_id, args)
            return self._quote(deal_id, plan)
        except _Decline as d:
            return self._decline(deal_id, d.reason)
        except Exception as err:  # noqa: BLE001 - unexpected: retried, then declined (MAX_ATTEMPTS)
            if attempt < MAX_ATTEMPTS:
                log.error("deal %d: pricing failed (%s), attempt %d of %d", deal_id, type(err).__name__,
                          attempt, MAX_ATTEMPTS)
                raise
            log.error("deal %d: pricing failed %d times (%s); declining so the buyer is refunded", deal_id,
                      attempt, type(err).__name__)
            return self._decline(deal_id, f"the hub failed to price this deal ({type(err).__name__}, "
                                          f"{attempt} attempts); declined so the buyer is refunded at once")

    def decline(self, deal_id: int, reason: str) -> Outcome:
        """Decline an Open deal on chain with `reason` kept in the store (public)."""
        return self._decline(deal_id, reason)

    # -- checks ---------------------------------------------------------------------

    def _check(self, deal_id: int, args: Mapping[str, Any]) -> dict[str, Any]:
        terms_hash = _hex32(args["termsHash"])
        rec = self.store.get_terms(terms_hash)
        if rec is None:
            raise _Decline("unknown terms: upload the terms with PUT /v1/terms (201) before openDeal")
        doc = json.loads(rec.canonical)
        if not _same_address(args["buyer"], doc.get("buyer")):
            raise _Decline("the deal's opener is not the buyer the terms name: only that buyer's openDeal is quoted")
        if not _same_address(args["seller"], self.ctx.seller) or not _same_address(doc.get("seller"), self.ctx.seller):
            raise _Decline("the terms name another seller")
        if doc.get("chainId") != self.ctx.chain_id or not _same_address(doc.get("contract"), self.ctx.exchange.address):
            raise _Decline("the terms name another chain or contract")
        dataset_id = _hex32(args["datasetId"])
        if dataset_id != str(doc.get("datasetId", "")).lower():
            raise _Decline("the deal's datasetId is not the terms' datasetId")
        dataset = self.store.get_dataset(dataset_id)
        if dataset is None:
            raise _Decline("unknown dataset: this hub does not sell it")
        offer = self.store.get_offer(str(doc.get("offerId")))
        if offer is None or offer.dataset_id.lower() != dataset_id:
            raise _Decline("the terms' offer is withdrawn or is for another dataset")
        if offer.buyer is not None and not _same_address(offer.buyer, doc["buyer"]):
            raise _Decline("the offer is not made to this buyer")
        if doc.get("release") != offer.release or doc.get("pricing") != offer.pricing:
            raise _Decline("the terms' release or pricing is not the offer's")
        fits, why = pricing_fit(offer.release, offer.pricing)
        if not fits:  # terms accepted before the rule (issue 29) are declined, not quoted
            raise _Decline(f"the offer's pricing does not fit its release: {why}")
        token = Web3.to_checksum_address(args["token"])
        if not _same_address(token, doc.get("token")):
            raise _Decline("the deal's token is not the terms' token")
        if token.lower() not in self.tokens or token.lower() not in {t.lower() for t in offer.tokens}:
            raise _Decline(f"token {token} is not on this hub's list for the offer")
        max_price, quote_fee = int(args["maxPrice"]), int(args["quoteFee"])
        if str(max_price) != doc.get("maxPrice") or str(quote_fee) != doc.get("quoteFee"):
            raise _Decline("the deal's maxPrice or quoteFee differs from the terms'")
        if quote_fee < offer.min_quote_fee:
            raise _Decline(f"quoteFee {quote_fee} is under the offer's minQuoteFee {offer.min_quote_fee}")
        epsilon = offer.release.get("epsilon")
        try:  # a sanitized release spends EXACT alone (no guarantee), its DP epsilon when DP follows it
            milli = (precision_epsilon_milli(offer.release) if is_sanitized(offer.release)
                     else epsilon_milli_of(str(epsilon)))
        except (ValueError, PrivacyError):
            raise _Decline("the offer's epsilon is not a positive decimal string") from None
        method = offer.pricing.get("method")
        spec_hash = doc.get("specHash")
        spec = None
        if method == "fixed":
            fixed = int(offer.pricing["price"])
            if fixed > max_price:
                raise _Decline(f"maxPrice {max_price} is under the offer's fixed price {fixed}")
        else:
            if not spec_hash:
                raise _Decline("an MDE offer needs the terms to name a specHash")
            spec = self.store.get_spec(spec_hash)
            if spec is None:
                raise _Decline("the terms' spec was never uploaded: PUT /v1/specs first")
            if self.store.spec_evaluated_by(spec_hash, dataset_id) not in (None, deal_id):
                raise _Decline("the spec was already evaluated against this dataset (once per data-pricing pair)")
            spec = self._parsed_spec(spec, offer)
        deadline = args.get("quoteDeadline")
        if deadline is not None:
            now = max(int(self.ctx.exchange.w3.eth.get_block("latest")["timestamp"]), int(time.time()))
            if now >= int(deadline):
                raise _Decline("the quote window closed before the hub could price the deal")
        cap = dataset.epsilon_cap_milli
        spent = spent_milli(self.store, self.ctx.exchange, self.ctx.seller, dataset_id)
        drawn = self.store.drawn_release(deal_id)
        refusal = budget_refusal(dataset.name, cap, spent, milli)
        if refusal is not None and drawn is None:  # a kept draw passed this check before it was made and is counted
            raise _Decline(refusal)
        return {"doc": doc, "offer": offer, "dataset": dataset, "milli": milli, "cap": cap, "spent": spent,
                "spec": spec, "spec_hash": spec_hash, "max_price": max_price, "drawn": drawn}

    def _count_unposted_draw(self, deal_id: int, milli: int) -> None:
        """Count again a prepared quote's draw whose postQuote did not land: the chain never charges it."""
        deal = self.store.get_deal(deal_id)
        dataset = None if deal is None or deal.dataset_id is None else self.store.get_dataset(deal.dataset_id)
        if dataset is not None and _counted_milli(milli, dataset.epsilon_cap_milli) is not None:
            self.store.record_declined_draw(deal_id, dataset.dataset_id, milli)

    def _parsed_spec(self, bundle: bytes, offer: Any) -> Any:
        """The terms' spec parsed once for the deal (`pricing.price` takes it as is), declined when it
        is invalid or its method's settings do not fit the offer's release (`offers.fitting_spec`: terms
        accepted before the hub checked a spec's hyper), so nothing is drawn for it."""
        from pricing import PricingError

        try:
            return fitting_spec(bundle, offer.release, self.ctx.max_spec_bytes)
        except PricingError as err:
            raise _Decline(f"the terms' spec is not valid ({type(err).__name__}: {err})") from None
        except SpecDoesNotFit as err:
            raise _Decline(f"the terms' spec does not fit the offer's release: {err}") from None

    # -- stages ---------------------------------------------------------------------

    def _stage(self, name: str) -> None:
        if self.stage_hook is not None:
            self.stage_hook(name)

    def _draw(self, plan: dict[str, Any]) -> bytes:
        dataset, offer = plan["dataset"], plan["offer"]
        schema = Schema.from_json(dataset.schema)
        data = category_values(decode_raw(self.store.raw_data(dataset.dataset_id), schema), schema)
        ledger = PrivacyLedger(cap_milli=plan["cap"], spent_milli=min(plan["spent"], EXACT))
        sleep = os.environ.get(TEST_HOOK_DRAW_SLEEP)
        if sleep:  # TEST HOOK ONLY: lets a test kill the hub while it draws
            time.sleep(float(sleep))
        if is_sanitized(offer.release):  # the sanitizer kept for the offer (fitted now only if missing)
            sanitizer, _ = sanitizer_for(self.store, offer, dataset, data=data)
            return draw_sanitized_release(SanitizedOffer.from_terms_release(offer.release), sanitizer, schema, data,
                                          ledger=ledger).to_bytes()
        priv_offer = Offer.from_terms_release(offer.release, price_rule=offer.pricing)
        return draw_release(priv_offer, schema, data, ledger=ledger).to_bytes()

    def _release_for(self, deal_id: int, plan: dict[str, Any]) -> bytes:
        """The deal's one release: the one kept from an earlier attempt, else a fresh draw written
        durably and recorded (`Store.record_release_drawn`: the spec's evaluated mark and the draw's
        epsilon counted at the hub until the quote is prepared) before anything prices it.

        One draw per deal rather than a count per draw: pricing that raised on one draw and not on
        another (a bad spec's factorisation) made each retry's fresh release tell the buyer a bit,
        uncounted; reusing the kept one makes every attempt, retry or restart a function of the same
        draw, so a deal costs at most one release's epsilon whatever happens after it, counted even if
        the hub is killed while pricing (an out-of-memory kill), and the spec cannot probe again."""
        drawn = plan.get("drawn")
        if drawn is not None:
            log.info("deal %d: reusing the release drawn before", deal_id)
            try:
                release = drawn.release_path.read_bytes()
            except OSError:
                release = b""
            if hashlib.sha256(release).hexdigest() != drawn.release_hash:
                raise _Decline("the release drawn for this deal is missing or damaged on disk; declined so the buyer "
                               "is refunded (its epsilon stays counted at this hub)")
            return release
        log.info("deal %d: drawing the release (epsilon %s)", deal_id, epsilon_text(plan["milli"]))
        release = self._draw(plan)
        path = self.store.deal_dir(deal_id) / "release.safetensors"
        write_durable(path, release)
        counted = _counted_milli(plan["milli"], plan["cap"])
        try:
            self.store.record_release_drawn(
                deal_id, dataset_id=plan["dataset"].dataset_id,
                spec_hash=plan["spec_hash"] if plan["spec"] is not None else None, counted_milli=counted,
                release_path=path, release_hash=hashlib.sha256(release).hexdigest())
        except StoreError:  # another deal evaluated the spec meanwhile: this draw is never priced, but counted
            if counted is not None:
                self.store.record_declined_draw(deal_id, plan["dataset"].dataset_id, counted)
            raise _Decline("the spec was already evaluated against this dataset (once per data-pricing pair)") from None
        return release

    def _price(self, plan: dict[str, Any], release: bytes) -> int:
        offer = plan["offer"]
        if offer.pricing.get("method") == "fixed":
            return int(offer.pricing["price"])
        from pricing import price

        return int(price(plan["spec"], release, plan["doc"]).price)

    def _quote(self, deal_id: int, plan: dict[str, Any]) -> Outcome:
        from pricing import PricingError
        from pricing.errors import SpecError, TermsError

        t: dict[str, float] = {}
        t0 = time.perf_counter()
        self._stage("draw")
        try:
            release = self._release_for(deal_id, plan)
        except PrivacyError as err:  # the message may quote a data value: keep only the type
            raise _Decline(f"the release could not be drawn ({type(err).__name__}): the data do not fit the "
                           "offer's schema or bounds") from None
        t["draw"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        self._stage("price")
        try:
            price = self._price(plan, release)
        except (SpecError, TermsError) as err:  # the draw is counted since it was made (`_release_for`)
            raise _Decline(f"the spec or terms cannot price this release ({type(err).__name__}: {err})") from None
        except PricingError as err:
            raise _Decline(f"pricing failed ({type(err).__name__})") from None
        t["price"] = time.perf_counter() - t0
        if price <= 0:
            counted = _counted_milli(plan["milli"], plan["cap"]) is not None
            raise _Decline("no efficacy: the release does not improve the spec's model (price 0)"
                           + (f"; the draw's epsilon {epsilon_text(plan['milli'])} counts against the dataset's "
                              "budget at this hub (the decline discloses a bit of it)" if counted else ""))
        price = min(price, plan["max_price"])
        t0 = time.perf_counter()
        self._stage("encode")
        ddir = self.store.deal_dir(deal_id)
        rel_path, cipher_path, leaves_path = ddir / "release.safetensors", ddir / "cipher.bin", ddir / "leaves.bin"
        key = secrets.token_bytes(32)  # the release is on disk since the draw (`_release_for`)
        commitment = encode_file(rel_path, key, cipher_path, leaves_path)
        for p in (cipher_path, leaves_path):
            fsync_file(p)
        fsync_dir(ddir)
        t["encode"] = time.perf_counter() - t0
        t0 = time.perf_counter()
        self._stage("store")
        try:
            self.store.record_quote_prepared(
                deal_id, spec_hash=plan["spec_hash"] if plan["spec"] is not None else None,
                dataset_id=plan["dataset"].dataset_id, price=price, epsilon_milli=plan["milli"], key=key,
                data_root=commitment.data_root, cipher_root=commitment.cipher_root, key_commit=commitment.key_commit,
                size=commitment.size, n=commitment.n, release_path=rel_path, cipher_path=cipher_path,
                leaves_path=leaves_path)
        except StoreError:
            raise _Decline("the spec was already evaluated against this dataset (once per data-pricing pair)") from None
        t["store"] = time.perf_counter() - t0
        return self._post(deal_id, price, plan["milli"], commitment, t, action="quoted")

    def _post(self, deal_id: int, price: int, milli: int, commitment: Commitment, t: dict[str, float], *,
              action: str) -> Outcome:
        t0 = time.perf_counter()
        self._stage("post")
        try:
            self.ctx.exchange.post_quote(deal_id, price, milli, commitment, sender=self.signer)
        except ContractRevert as err:
            state = self.ctx.exchange.state(deal_id)
            self._sync_phase(deal_id, state)
            if state == State.QUOTED:  # our earlier post landed before a crash
                return Outcome(deal_id, "skipped", reason="already quoted on chain", price=price)
            self._count_unposted_draw(deal_id, milli)
            reason = f"postQuote reverted ({type(err).__name__}); the deal is {state.name} on chain"
            self.store.set_reason(deal_id, reason)
            log.error("deal %d: %s", deal_id, reason)
            return Outcome(deal_id, "failed", reason=reason, price=price, timings=t)
        t["post"] = time.perf_counter() - t0
        self.store.uncount_draw(deal_id)  # a re-post that lands after one that failed: the chain charges it
        self.store.set_phase(deal_id, "Quoted")
        self.store.set_timings(deal_id, t)
        log.info("deal %d: %s at price %d, epsilon %s, %d chunks; stages %s", deal_id, action, price,
                 epsilon_text(milli), commitment.n, " ".join(f"{k}={v * 1000:.1f}ms" for k, v in t.items()))
        return Outcome(deal_id, action, price=price, timings=t)

    def _decline(self, deal_id: int, reason: str) -> Outcome:
        self.store.set_reason(deal_id, reason)
        try:
            self.ctx.exchange.decline(deal_id, sender=self.signer)
        except ContractRevert as err:
            state = self.ctx.exchange.state(deal_id)
            self._sync_phase(deal_id, state)
            log.warning("deal %d: decline reverted (%s); the deal is %s on chain", deal_id, type(err).__name__,
                        state.name)
            return Outcome(deal_id, "skipped", reason=reason)
        self.store.set_phase(deal_id, "Refunded")
        self._drop_drawn_release(deal_id)
        log.info("deal %d: declined: %s", deal_id, reason)
        return Outcome(deal_id, "declined", reason=reason)

    def _drop_drawn_release(self, deal_id: int) -> None:
        """Delete a declined deal's kept release file: nothing will price or serve it, its draw stays
        counted in the store, and declined deals must not fill the disk with releases."""
        drawn = self.store.drawn_release(deal_id)
        if drawn is not None and self.store.prepared_quote(deal_id) is None:
            drawn.release_path.unlink(missing_ok=True)

    def _sync_phase(self, deal_id: int, state: State) -> None:
        if state != State.NONE:
            self.store.set_phase(deal_id, PHASE_OF_STATE[state])
