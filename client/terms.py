"""The terms document (protocol.md, "Terms document"): build, canonicalise, hash, parse.

A buyer builds terms from a hub's offer (:func:`build_terms`), uploads their canonical
bytes (:attr:`Terms.canonical`) and opens the deal with ``termsHash = keccak256(canonical
bytes)`` (:attr:`Terms.terms_hash`). A hub or a wallet reads terms bytes with
:func:`parse_terms`, which refuses anything that is not exactly the canonical form of a
well-formed document, so two implementations can never hash the same terms differently.

The canonical bytes are RFC 8785 (JSON Canonicalization Scheme). Because every amount,
epsilon and tolerance is a string and ``chainId`` is the only number (an integer), JCS here
is UTF-8 JSON with object keys sorted by UTF-16 code unit and no white space: for keys in
the Basic Multilingual Plane (all the protocol's keys) that is ``json.dumps(doc,
sort_keys=True, separators=(",", ":"), ensure_ascii=False)``. The bytes come from
:func:`common.canonical_json.canonical_json`, the project's one RFC 8785 serializer; this
module adds the terms' stricter rules before it (no JSON number but integers within
``2**53 - 1``, which only ``chainId`` may use; string keys; at most :data:`MAX_DEPTH`
levels when parsing). Errors are the
:class:`~client.errors.TermsError` family (``ValueError``s; a hub answers them with 400).

Citations: A. Rundgren, B. Jordan, S. Erdtman, "JSON Canonicalization Scheme (JCS)",
RFC 8785, 2020.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Mapping

from eth_hash.auto import keccak
from eth_utils import is_checksum_address, is_hex_address, to_checksum_address

from client.constants import EXACT
from common.canonical_json import NotCanonical, canonical_json
from common.json_bounded import JsonTooDeep, check_depth
from client.errors import (
    InvalidTermsValue,
    UnquotableTerms,
    MissingTermsField,
    NonCanonicalTerms,
    TermsError,
    TermsFieldError,
    UnexpectedTermsField,
    WrongTermsType,
)

__all__ = [
    "PROTOCOL",
    "EXACT",
    "ETH",
    "MAX_UINT256",
    "MAX_SAFE_CHAIN_ID",
    "MAX_DEPTH",
    "REQUIRED_FIELDS",
    "OPTIONAL_FIELDS",
    "Terms",
    "build_terms",
    "parse_terms",
    "validate_terms",
    "canonical_bytes",
    "terms_hash",
    "epsilon_milli",
    "TermsError",
    "NonCanonicalTerms",
    "TermsFieldError",
    "MissingTermsField",
    "UnexpectedTermsField",
    "WrongTermsType",
    "InvalidTermsValue",
    "UnquotableTerms",
    "check_quotable",
]

#: The protocol name every terms document carries.
PROTOCOL: str = "spartacus-v1"
#: The token address that means ETH.
ETH: str = "0x0000000000000000000000000000000000000000"
MAX_UINT256: int = 2**256 - 1
#: chainId must survive a JavaScript number (JCS serialises numbers as IEEE doubles).
MAX_SAFE_CHAIN_ID: int = 2**53 - 1

#: Deepest nesting of arrays and objects a terms document may have (the protocol's own fields reach 5).
MAX_DEPTH: int = 32
#: Longest `nonce`, in characters (code points): enough for any fresh random string (the wallet sends
#: 16 hex digits), short enough that terms kept by a hub cannot be padded to its body limit.
MAX_NONCE_CHARS: int = 128

REQUIRED_FIELDS: tuple[str, ...] = (
    "buyer", "chainId", "contract", "datasetId", "maxPrice", "offerId", "priceTolerance",
    "pricing", "protocol", "quoteFee", "release", "seller", "specHash", "token",
)
OPTIONAL_FIELDS: tuple[str, ...] = ("nonce",)

_EPSILON = re.compile(r"(0|[1-9][0-9]*)(\.[0-9]+)?\Z")
_UINT = re.compile(r"(0|[1-9][0-9]*)\Z")
_HASH = re.compile(r"0x[0-9a-f]{64}\Z")
_FIXED = "fixed"


# ---------------------------------------------------------------- canonical bytes


def _check_jcs(value: Any, path: str) -> None:
    """The terms' stricter rules on top of canonical JSON: integers only (within 2**53 - 1, where JCS and
    every JSON reader agree), no floats, string keys, and only JSON's own types."""
    if value is None or isinstance(value, (bool, str)):
        return
    if isinstance(value, int):
        if abs(value) > MAX_SAFE_CHAIN_ID:
            raise InvalidTermsValue(path, value, "is beyond 2**53 - 1, where JSON numbers lose precision; write it as a decimal string")
        return
    if isinstance(value, float):
        raise WrongTermsType(path, value, "a decimal string (JSON numbers other than chainId are not allowed in terms)")
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _check_jcs(v, f"{path}[{i}]")
        return
    if isinstance(value, Mapping):
        for k, v in value.items():
            if not isinstance(k, str):
                raise WrongTermsType(f"{path}.{k!r}" if path else repr(k), k, "an object key that is a string")
            _check_jcs(v, f"{path}.{k}" if path else k)
        return
    raise WrongTermsType(path or "(document)", value, "a JSON value (object, array, string, boolean, null)")


def _jcs(value: Any, path: str) -> str:
    """RFC 8785 text of a terms value (common.canonical_json, the project's one serializer) after the terms' own checks."""
    _check_jcs(value, path)
    try:
        return canonical_json(value)
    except NotCanonical as e:  # a lone surrogate (the checks above leave nothing else for it to refuse)
        where = f"{path}.{e.path}" if path and e.path else (path or e.path or "(document)")
        bad = e.value if isinstance(e.value, str) else "(document)"
        raise InvalidTermsValue(where, bad, "holds a lone surrogate, which UTF-8 cannot encode; remove it") from None


def canonical_bytes(doc: Mapping[str, Any]) -> bytes:
    """The RFC 8785 canonical UTF-8 bytes of a terms document (not validated: see :func:`validate_terms`)."""
    return _jcs(doc, "").encode("utf-8")


def terms_hash(doc: Mapping[str, Any] | bytes) -> bytes:
    """``termsHash = keccak256(canonical bytes)``: of terms bytes as given, or of a document's canonical bytes."""
    return keccak(bytes(doc) if isinstance(doc, (bytes, bytearray, memoryview)) else canonical_bytes(doc))


# ---------------------------------------------------------------- field rules


def epsilon_milli(epsilon: str) -> int:
    """The quote's ``epsilonMilli``: ``ceil(1000 × epsilon)`` exactly on the decimal string, EXACT for "exact".

    Raises :class:`WrongTermsType` for a non-string and :class:`InvalidTermsValue` for a string
    outside ``(0|[1-9][0-9]*)(\\.[0-9]+)?``, equal to 0, or above what a uint32 ledger holds."""
    field = "release.epsilon"
    if not isinstance(epsilon, str):
        raise WrongTermsType(field, epsilon, 'a decimal string such as "1" or "0.25", or "exact"')
    if epsilon == "exact":
        return EXACT
    if not _EPSILON.match(epsilon):
        raise InvalidTermsValue(field, epsilon, 'must match (0|[1-9][0-9]*)(\\.[0-9]+)? (e.g. "1", "0.25"; no sign, exponent, '
                                "leading zeros or white space) or be \"exact\"")
    milli = math.ceil(Fraction(epsilon) * 1000)
    if milli == 0:
        raise InvalidTermsValue(field, epsilon, "is zero; a release always spends some epsilon (use a positive decimal)")
    if milli >= EXACT:
        raise InvalidTermsValue(field, epsilon, f"is {milli} milli-epsilon, more than a uint32 ledger holds "
                                f"({EXACT - 1}); offer an exact release (\"exact\") instead")
    return milli


def _get(doc: Mapping[str, Any], key: str, path: str) -> Any:
    if key not in doc:
        raise MissingTermsField(path)
    return doc[key]


def _check_keys(doc: Mapping[str, Any], required: tuple[str, ...], optional: tuple[str, ...], prefix: str) -> None:
    allowed = tuple(sorted(required + optional))
    for key in required:
        if key not in doc:
            raise MissingTermsField(prefix + key)
    for key in doc:
        if key not in allowed:
            raise UnexpectedTermsField(prefix + str(key), allowed)


def _str(value: Any, path: str, what: str = "a string") -> str:
    if not isinstance(value, str):
        raise WrongTermsType(path, value, what)
    return value


def _object(value: Any, path: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise WrongTermsType(path, value, "an object")
    return value


def _address(value: Any, path: str, *, zero_ok: bool = False) -> str:
    value = _str(value, path, 'an EIP-55 checksummed address string "0x…"')
    if not is_hex_address(value):
        raise InvalidTermsValue(path, value, "is not an address: write 0x followed by 40 hex digits")
    if not is_checksum_address(value):
        raise InvalidTermsValue(path, value, f"is not EIP-55 checksummed: write {to_checksum_address(value)}")
    if not zero_ok and int(value, 16) == 0:
        raise InvalidTermsValue(path, value, "is the zero address; name the real account")
    return value


def _hash(value: Any, path: str) -> str:
    value = _str(value, path, 'a hash string "0x" + 64 hex digits')
    if not _HASH.match(value):
        raise InvalidTermsValue(path, value, "must be 0x followed by 64 lower-case hex digits")
    return value


def _uint(value: Any, path: str) -> int:
    value = _str(value, path, 'a decimal string of the token\'s smallest unit, e.g. "1000"')
    if not _UINT.match(value):
        raise InvalidTermsValue(path, value, "must be an unsigned decimal integer without sign, leading zeros or exponent, e.g. \"1000\"")
    out = int(value)
    if out > MAX_UINT256:
        raise InvalidTermsValue(path, value, "does not fit a uint256")
    return out


def _no_numbers(value: Any, path: str) -> None:
    """Refuse JSON numbers under ``path``: protocol.md makes chainId the only one (floats hash differently per language)."""
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return
    if isinstance(value, (int, float)):
        raise WrongTermsType(path, value, "a string (chainId is the only JSON number in terms: write numbers as decimal strings)")
    if isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _no_numbers(v, f"{path}[{i}]")
        return
    if isinstance(value, Mapping):
        for k, v in value.items():
            _no_numbers(v, f"{path}.{k}")
        return
    raise WrongTermsType(path, value, "a JSON value (object, array, string, boolean, null)")


def _pricing(value: Any) -> dict[str, Any]:
    pricing = _object(value, "pricing")
    method = _str(_get(pricing, "method", "pricing.method"), "pricing.method")
    if not method:
        raise InvalidTermsValue("pricing.method", method, "is empty; name the offer's pricing method (or \"fixed\")")
    if method == _FIXED:
        _check_keys(pricing, ("method", "price"), (), "pricing.")
        _uint(pricing["price"], "pricing.price")
    else:
        _check_keys(pricing, ("curve", "method"), (), "pricing.")
        _object(pricing["curve"], "pricing.curve")
        _no_numbers(pricing["curve"], "pricing.curve")
    return pricing  # type: ignore[return-value]


def _release(value: Any) -> dict[str, Any]:
    release = _object(value, "release")
    _check_keys(release, ("epsilon", "mechanism"), (), "release.")
    epsilon_milli(release["epsilon"])
    mechanism = _object(release["mechanism"], "release.mechanism")
    name = _str(_get(mechanism, "name", "release.mechanism.name"), "release.mechanism.name")
    if not name:
        raise InvalidTermsValue("release.mechanism.name", name, "is empty; copy the offer's mechanism name")
    _no_numbers(mechanism, "release.mechanism")
    return release  # type: ignore[return-value]


# ---------------------------------------------------------------- the typed document


def _thaw(value: Any) -> Any:
    """A deep copy as plain dicts and lists (what json.loads would give)."""
    if isinstance(value, Mapping):
        return {k: _thaw(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_thaw(v) for v in value]
    return value


@dataclass(frozen=True)
class Terms:
    """A validated terms document; immutable, built only by :func:`validate_terms`, :func:`parse_terms`
    or :func:`build_terms`. Fields hold the JSON values; properties give what a hub or wallet needs."""

    protocol: str
    chain_id: int
    contract: str
    seller: str
    buyer: str
    dataset_id: str
    offer_id: str
    spec_hash: str | None
    pricing_json: str  # canonical JSON of "pricing": keeps the frozen object free of mutable dicts
    release_json: str  # canonical JSON of "release"
    token: str
    max_price: int
    quote_fee: int
    price_tolerance: int
    nonce: str | None = None

    @property
    def pricing(self) -> dict[str, Any]:
        """The ``pricing`` object (a fresh copy): ``{"method", "curve"}`` or ``{"method": "fixed", "price"}``."""
        return json.loads(self.pricing_json)

    @property
    def release(self) -> dict[str, Any]:
        """The ``release`` object (a fresh copy): ``{"epsilon", "mechanism": {"name", …}}``."""
        return json.loads(self.release_json)

    @property
    def epsilon(self) -> str:
        """``release.epsilon`` as written: a decimal string or "exact"."""
        return self.release["epsilon"]

    @property
    def epsilon_milli(self) -> int:
        """The ``epsilonMilli`` the hub must quote: ``ceil(1000 × epsilon)``, or EXACT."""
        return epsilon_milli(self.epsilon)

    @property
    def is_exact(self) -> bool:
        """True for an exact release (``epsilon == "exact"``)."""
        return self.epsilon == "exact"

    @property
    def mechanism(self) -> str:
        """``release.mechanism.name``."""
        return self.release["mechanism"]["name"]

    @property
    def pricing_method(self) -> str:
        """``pricing.method``: an MDE method name, or "fixed"."""
        return self.pricing["method"]

    @property
    def is_fixed_price(self) -> bool:
        """True when ``pricing.method`` is "fixed" (then ``specHash`` is null)."""
        return self.pricing_method == _FIXED

    @property
    def fixed_price(self) -> int | None:
        """The fixed price in the token's smallest unit, or None for MDE pricing."""
        return int(self.pricing["price"]) if self.is_fixed_price else None

    @property
    def is_eth(self) -> bool:
        """True when the deal is paid in ETH (``token`` is the zero address)."""
        return int(self.token, 16) == 0

    @property
    def dataset_id_bytes(self) -> bytes:
        """``datasetId`` as the 32 bytes ``openDeal`` takes."""
        return bytes.fromhex(self.dataset_id[2:])

    @property
    def spec_hash_bytes(self) -> bytes | None:
        """``specHash`` as 32 bytes, or None for a fixed price."""
        return None if self.spec_hash is None else bytes.fromhex(self.spec_hash[2:])

    def to_document(self) -> dict[str, Any]:
        """The JSON document (plain dicts; what ``pricing.price`` reads as ``terms``)."""
        doc: dict[str, Any] = {
            "protocol": self.protocol, "chainId": self.chain_id, "contract": self.contract, "seller": self.seller,
            "buyer": self.buyer, "datasetId": self.dataset_id, "offerId": self.offer_id, "specHash": self.spec_hash,
            "pricing": self.pricing, "release": self.release, "token": self.token, "maxPrice": str(self.max_price),
            "quoteFee": str(self.quote_fee), "priceTolerance": str(self.price_tolerance),
        }
        if self.nonce is not None:
            doc["nonce"] = self.nonce
        return doc

    @property
    def canonical(self) -> bytes:
        """The canonical bytes: what ``PUT /v1/terms`` carries and ``termsHash`` hashes."""
        return canonical_bytes(self.to_document())

    @property
    def terms_hash(self) -> bytes:
        """``termsHash = keccak256(canonical bytes)``, the 32 bytes ``openDeal`` takes."""
        return keccak(self.canonical)

    @property
    def terms_hash_hex(self) -> str:
        """``termsHash`` as 0x + 64 lower-case hex digits (the hub's ``{"termsHash"}``)."""
        return "0x" + self.terms_hash.hex()


def validate_terms(doc: Mapping[str, Any]) -> Terms:
    """Check a parsed terms document against protocol.md and return it typed.

    Raises a :class:`TermsFieldError` naming the first bad field: missing, extra, of the
    wrong JSON type, or with a value the protocol's grammar refuses (a hub answers 400). Whether
    the amounts and the spec fit together is :func:`check_quotable`'s question (a hub answers 422)."""
    if not isinstance(doc, Mapping):
        raise WrongTermsType("(document)", doc, "a JSON object")
    _check_keys(doc, REQUIRED_FIELDS, OPTIONAL_FIELDS, "")
    protocol = _str(doc["protocol"], "protocol")
    if protocol != PROTOCOL:
        raise InvalidTermsValue("protocol", protocol, f"is not this protocol; write {PROTOCOL!r}")
    chain_id = doc["chainId"]
    if isinstance(chain_id, bool) or not isinstance(chain_id, int):
        raise WrongTermsType("chainId", chain_id, "a JSON integer (the one number in terms), e.g. 31337")
    if not 0 < chain_id <= MAX_SAFE_CHAIN_ID:
        raise InvalidTermsValue("chainId", chain_id, "must satisfy 0 < chainId <= 2**53 - 1")
    contract = _address(doc["contract"], "contract")
    seller = _address(doc["seller"], "seller")
    buyer = _address(doc["buyer"], "buyer")
    token = _address(doc["token"], "token", zero_ok=True)
    dataset_id = _hash(doc["datasetId"], "datasetId")
    offer_id = _str(doc["offerId"], "offerId")
    if not offer_id:
        raise InvalidTermsValue("offerId", offer_id, "is empty; copy the offerId of the offer (GET /v1/offers)")
    pricing = _pricing(doc["pricing"])
    release = _release(doc["release"])
    spec_hash = doc["specHash"]
    if spec_hash is not None:
        spec_hash = _hash(spec_hash, "specHash")
    max_price = _uint(doc["maxPrice"], "maxPrice")
    quote_fee = _uint(doc["quoteFee"], "quoteFee")
    price_tolerance = _uint(doc["priceTolerance"], "priceTolerance")
    nonce = doc.get("nonce")
    if nonce is not None or "nonce" in doc:
        nonce = _str(nonce, "nonce")
        if not nonce:
            raise InvalidTermsValue("nonce", nonce, "is empty; leave the field out or give a non-empty string")
        if len(nonce) > MAX_NONCE_CHARS:
            raise InvalidTermsValue("nonce", nonce[:16] + "...",
                                    f"is {len(nonce)} characters long; give at most {MAX_NONCE_CHARS} "
                                    "(a fresh random string, e.g. 16 hex digits)")
    canonical_bytes(doc)  # every string encodable (no lone surrogates), every number safe
    return Terms(
        protocol=protocol, chain_id=chain_id, contract=contract, seller=seller, buyer=buyer, dataset_id=dataset_id,
        offer_id=offer_id, spec_hash=spec_hash, pricing_json=_jcs(pricing, "pricing"), release_json=_jcs(release, "release"),
        token=token, max_price=max_price, quote_fee=quote_fee, price_tolerance=price_tolerance, nonce=nonce,
    )



def check_quotable(terms: Terms) -> None:
    """Raise :class:`UnquotableTerms` naming the first rule that keeps well-formed ``terms`` from ever
    being quoted: ``maxPrice`` 0 or under ``quoteFee`` (``openDeal`` reverts), a fixed price outside
    ``0 < price <= maxPrice`` (``postQuote`` reverts), a ``specHash`` where the pricing reads no spec
    or none where it does. A hub answers 422 for these, after its 404 checks (protocol.md's order)."""
    if terms.max_price == 0:
        raise UnquotableTerms("maxPrice", "0", "must be positive (openDeal reverts with ZeroMaxPrice)")
    if terms.quote_fee > terms.max_price:
        raise UnquotableTerms("quoteFee", str(terms.quote_fee),
                              f"exceeds maxPrice {terms.max_price} (openDeal reverts with QuoteFeeTooHigh)")
    if terms.is_fixed_price:
        if terms.spec_hash is not None:
            raise UnquotableTerms("specHash", terms.spec_hash, "must be null for a fixed price (there is no spec to evaluate)")
        if not 0 < int(terms.pricing["price"]) <= terms.max_price:
            raise UnquotableTerms("pricing.price", terms.pricing["price"],
                                  f"must satisfy 0 < price <= maxPrice ({terms.max_price}), else the hub can never quote it")
    elif terms.spec_hash is None:
        raise UnquotableTerms("specHash", None, f"is null but pricing.method {terms.pricing_method!r} evaluates a spec: "
                              "upload the spec bundle (PUT /v1/specs) and write its specHash")


# ---------------------------------------------------------------- parsing bytes


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in pairs:
        if k in out:
            raise NonCanonicalTerms(f"key {k!r} appears twice in one object")
        out[k] = v
    return out


def _check_depth(data: bytes) -> None:
    """Refuse nesting deeper than MAX_DEPTH before json.loads sees it (its C scanner can overflow the stack)."""
    try:
        check_depth(data, MAX_DEPTH)
    except JsonTooDeep as err:
        raise NonCanonicalTerms(f"{err} of the document; no terms document is that deep") from None


def _refuse_constant(text: str) -> Any:
    raise NonCanonicalTerms(f"{text} is not JSON")


def parse_terms(data: bytes) -> Terms:
    """Parse terms bytes strictly (what a hub does with ``PUT /v1/terms``, a wallet with terms it is shown).

    Refuses bytes that are not UTF-8 JSON or not exactly the canonical form
    (:class:`NonCanonicalTerms`), and documents :func:`validate_terms` refuses."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise TypeError(f"terms must be bytes (the canonical UTF-8 document), got {type(data).__name__}")
    data = bytes(data)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as e:
        raise NonCanonicalTerms(f"not UTF-8 (byte {e.start})", offset=e.start) from None
    _check_depth(data)
    try:
        doc = json.loads(text, object_pairs_hook=_pairs, parse_constant=_refuse_constant)  # floats: refused by field below
    except json.JSONDecodeError as e:
        raise NonCanonicalTerms(f"not JSON ({e.msg} at character {e.pos})", offset=e.pos) from None
    terms = validate_terms(doc)
    want = canonical_bytes(doc)
    if data != want:
        at = next((i for i, (a, b) in enumerate(zip(data, want)) if a != b), min(len(data), len(want)))
        raise NonCanonicalTerms(
            f"they differ from the canonical form at byte {at} (got {data[at:at + 12]!r}, canonical has "
            f"{want[at:at + 12]!r}): white space, key order or string escapes", offset=at)
    return terms


# ---------------------------------------------------------------- building from an offer


def _amount(value: int | str, path: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise WrongTermsType(path, value, "an int or a decimal string of the token's smallest unit")
    return str(value)


def _hex32(value: bytes | str | None, path: str) -> str | None:
    if value is None or isinstance(value, str):
        return value.lower() if isinstance(value, str) else None
    if isinstance(value, (bytes, bytearray)) and len(value) == 32:
        return "0x" + bytes(value).hex()
    raise WrongTermsType(path, value, "32 bytes or a 0x-prefixed hex string")


def _checksummed(value: str, path: str) -> str:
    if not isinstance(value, str) or not is_hex_address(value):
        raise InvalidTermsValue(path, value, "is not an address: give 0x followed by 40 hex digits")
    return to_checksum_address(value)


def build_terms(
    offer: Mapping[str, Any],
    *,
    chain_id: int,
    contract: str,
    seller: str,
    buyer: str,
    token: str,
    max_price: int | str,
    quote_fee: int | str,
    price_tolerance: int | str = 0,
    spec_hash: bytes | str | None = None,
    nonce: str | None = None,
) -> Terms:
    """Terms taking up ``offer`` (an entry of ``GET /v1/offers``): its ``offerId``, ``datasetId``,
    ``release`` and ``pricing`` copied, the rest from the arguments.

    Addresses may be in any case (they are checksummed), amounts ints or decimal strings,
    ``spec_hash`` bytes or hex (None for a fixed price). When the offer lists ``tokens`` or
    ``minQuoteFee``, the token and fee are checked against them (the hub would answer 422)."""
    offer = _object(offer, "offer")
    for key in ("offerId", "datasetId", "release", "pricing"):
        if key not in offer:
            raise MissingTermsField(f"offer.{key}")
    token = _checksummed(token, "token")
    fee = _amount(quote_fee, "quoteFee")
    if "tokens" in offer and token.lower() not in {str(t).lower() for t in offer["tokens"]}:
        raise InvalidTermsValue("token", token, f"is not one the offer lists ({', '.join(map(str, offer['tokens']))}); pick one of them")
    if "minQuoteFee" in offer and _UINT.match(fee) and _UINT.match(str(offer["minQuoteFee"])) and int(fee) < int(offer["minQuoteFee"]):
        raise InvalidTermsValue("quoteFee", fee, f"is under the offer's minQuoteFee {offer['minQuoteFee']}; pay at least that")
    doc: dict[str, Any] = {
        "protocol": PROTOCOL,
        "chainId": chain_id,
        "contract": _checksummed(contract, "contract"),
        "seller": _checksummed(seller, "seller"),
        "buyer": _checksummed(buyer, "buyer"),
        "datasetId": _thaw(offer["datasetId"]),
        "offerId": _thaw(offer["offerId"]),
        "specHash": _hex32(spec_hash, "specHash"),
        "pricing": _thaw(offer["pricing"]),
        "release": _thaw(offer["release"]),
        "token": token,
        "maxPrice": _amount(max_price, "maxPrice"),
        "quoteFee": fee,
        "priceTolerance": _amount(price_tolerance, "priceTolerance"),
    }
    if nonce is not None:
        doc["nonce"] = nonce
    terms = validate_terms(doc)
    check_quotable(terms)
    return terms
