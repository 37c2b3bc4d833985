"""The learned sanitizer behind a sanitized offer (privacy.sanitized_offer): fitted ONCE per offer on
the owner's raw data, seeded, and kept by the store (safetensors weights + canonical JSON config);
refitted only when the offer's dataset or release object changes. Deals draw with the kept one."""

from __future__ import annotations

import json
import logging
from typing import Any, Mapping

from eth_hash.auto import keccak

from privacy import Schema
from privacy.mechanisms.sanitizer import Sanitizer, SanitizerConfig, fit_sanitizer
from privacy.sanitized_offer import SanitizedOffer

from .rawdata import category_values, decode_raw
from .store import DatasetRecord, OfferRecord, Store, StoredSanitizer

__all__ = ["FIT_SEED", "FIT_CONFIG", "is_sanitized", "fit_key", "sanitizer_for"]

log = logging.getLogger("oracle.sanitizers")

#: The seed every offer's sanitizer is fitted with: the same offer and data give the same weights.
FIT_SEED = 0
#: Training hyper-parameters (None: privacy's defaults). Tests shrink it so a fit takes seconds.
FIT_CONFIG: SanitizerConfig | None = None


def is_sanitized(release: Mapping[str, Any]) -> bool:
    """True when an offer's release object names the sanitizer mechanism."""
    mech = release.get("mechanism")
    return isinstance(mech, Mapping) and mech.get("name") == "sanitizer"


def fit_key(offer: OfferRecord) -> str:
    """What a kept sanitizer was fitted for: keccak of the dataset id and the release object (a price or
    token change keeps the sanitizer; a new alpha, private column, variant or dataset refits it)."""
    body = json.dumps({"datasetId": offer.dataset_id.lower(), "release": offer.release}, sort_keys=True,
                      separators=(",", ":"))
    return "0x" + keccak(body.encode()).hex()


def _load(stored: StoredSanitizer) -> Sanitizer | None:
    if "0x" + keccak(stored.weights).hex() != stored.weights_hash:
        log.error("offer %s: the kept sanitizer's weights do not match their hash; refitting", stored.offer_id)
        return None
    return Sanitizer.from_bytes(stored.weights, stored.config_json)


def sanitizer_for(store: Store, offer: OfferRecord, dataset: DatasetRecord, *, data: Mapping[str, Any] | None = None,
                  ) -> tuple[Sanitizer, bool]:
    """(the sanitizer for sanitized `offer`, whether it was fitted now): the kept one when it was fitted
    for this offer as it stands, else fitted on `dataset`'s raw data (or `data`, through
    `category_values`) and kept.
    Raises privacy's errors (e.g. UnknownSanitizerColumn) when the offer cannot be fitted."""
    key = fit_key(offer)
    stored = store.get_sanitizer(offer.offer_id)
    if stored is not None and stored.fit_key == key:
        kept = _load(stored)
        if kept is not None:
            return kept, False
    precision = SanitizedOffer.from_terms_release(offer.release)
    schema = Schema.from_json(dataset.schema)
    if data is None:
        data = category_values(decode_raw(store.raw_data(dataset.dataset_id), schema), schema)
    sanitizer = fit_sanitizer(data, schema, private=precision.private, alpha=precision.alpha,
                              utility=precision.utility, variant=precision.variant, seed=FIT_SEED, config=FIT_CONFIG)
    store.put_sanitizer(StoredSanitizer(offer.offer_id, key, sanitizer.weights_hash, sanitizer.weights,
                                        sanitizer.config_json()))
    log.info("offer %s: sanitizer fitted (%s)", offer.offer_id, sanitizer.weights_hash)
    return sanitizer, True
