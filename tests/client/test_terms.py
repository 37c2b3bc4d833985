"""The terms document: a fixed document and its hash computed independently, round trips, every malformed case."""

from __future__ import annotations

import copy
import json
import re
import shutil
import subprocess
from fractions import Fraction
from pathlib import Path

import pytest
from eth_hash.auto import keccak
from eth_utils import to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from client.errors import ClientError
from client.terms import (
    ETH,
    EXACT,
    InvalidTermsValue,
    MissingTermsField,
    NonCanonicalTerms,
    Terms,
    TermsError,
    TermsFieldError,
    UnexpectedTermsField,
    UnquotableTerms,
    WrongTermsType,
    build_terms,
    canonical_bytes,
    check_quotable,
    epsilon_milli,
    parse_terms,
    terms_hash,
    validate_terms,
)

REPO = Path(__file__).resolve().parents[2]

# A fixed document, as a wallet would pretty-print it (non-ASCII on purpose: the bytes are UTF-8, not \u escapes).
FIXED_DOC = {
    "protocol": "spartacus-v1",
    "chainId": 31337,
    "contract": "0x5FbDB2315678afecb367f032d93F642f64180aa3",
    "seller": "0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",
    "buyer": "0x70997970C51812dc3A010C7d01b50e0d17dc79C8",
    "datasetId": "0x6d6e6973742d313030302d726f77730000000000000000000000000000000000",
    "offerId": "mnist-ε1-été",
    "specHash": "0x3f4c2b0d8d7c2a8f1e5b6a4d9c0e7f1a2b3c4d5e6f708192a3b4c5d6e7f80910",
    "pricing": {"method": "network-newton", "curve": {"kind": "linear", "slope": "1000000000", "cap": "900000000000000000"}},
    "release": {"epsilon": "0.25", "mechanism": {"name": "ml-laplace-rr", "bounds": {"pixel": ["0", "255"]}, "clamp": False,
                                                 "split": "equal", "neighbouring": "replace-one"}},
    "token": "0x0000000000000000000000000000000000000000",
    "maxPrice": "1000000000000000000",
    "quoteFee": "10000000000000000",
    "priceTolerance": "1000",
}

# Its canonical bytes written out by hand: keys sorted at every level, no white space, UTF-8 text.
FIXED_CANONICAL = (
    '{"buyer":"0x70997970C51812dc3A010C7d01b50e0d17dc79C8","chainId":31337,'
    '"contract":"0x5FbDB2315678afecb367f032d93F642f64180aa3",'
    '"datasetId":"0x6d6e6973742d313030302d726f77730000000000000000000000000000000000",'
    '"maxPrice":"1000000000000000000","offerId":"mnist-ε1-été","priceTolerance":"1000",'
    '"pricing":{"curve":{"cap":"900000000000000000","kind":"linear","slope":"1000000000"},"method":"network-newton"},'
    '"protocol":"spartacus-v1","quoteFee":"10000000000000000",'
    '"release":{"epsilon":"0.25","mechanism":{"bounds":{"pixel":["0","255"]},"clamp":false,"name":"ml-laplace-rr",'
    '"neighbouring":"replace-one","split":"equal"}},'
    '"seller":"0xf39Fd6e51aad88F6F4ce6aB8827279cffFb92266",'
    '"specHash":"0x3f4c2b0d8d7c2a8f1e5b6a4d9c0e7f1a2b3c4d5e6f708192a3b4c5d6e7f80910",'
    '"token":"0x0000000000000000000000000000000000000000"}'
).encode("utf-8")

# keccak256 of those bytes, computed outside Python (node, js-sha3, the JS canonicaliser of docs/terms.md).
FIXED_HASH = "0x28c48dba8e1a545632c41cb0a5135ee571a0e0de06aaf51318a5c219bf32050c"

JS_CANONICAL_HASH = r"""
const { keccak256 } = require(process.argv[1] + "/node_modules/js-sha3");
function canonicalize(v) {
  if (Array.isArray(v)) return "[" + v.map(canonicalize).join(",") + "]";
  if (v !== null && typeof v === "object")
    return "{" + Object.keys(v).sort().map((k) => JSON.stringify(k) + ":" + canonicalize(v[k])).join(",") + "}";
  return JSON.stringify(v);
}
const bytes = Buffer.from(canonicalize(JSON.parse(require("fs").readFileSync(0, "utf8"))), "utf8");
process.stdout.write(bytes.toString("hex") + " 0x" + keccak256(bytes));
"""


def doc_bytes(doc: object, **kw) -> bytes:
    """Serialise with the stdlib (sorted, compact unless told otherwise): independent of client.terms."""
    opts = dict(sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    opts.update(kw)
    return json.dumps(doc, **opts).encode("utf-8")


# ------------------------------------------------------------------ the fixed document


def test_fixed_document_canonical_bytes_are_the_hand_written_ones():
    assert canonical_bytes(FIXED_DOC) == FIXED_CANONICAL
    assert doc_bytes(FIXED_DOC) == FIXED_CANONICAL  # the stdlib recipe protocol.md gives, for BMP keys


def test_fixed_document_hash_matches_the_independent_one():
    assert "0x" + keccak(FIXED_CANONICAL).hex() == FIXED_HASH
    assert "0x" + terms_hash(FIXED_DOC).hex() == FIXED_HASH
    assert "0x" + terms_hash(FIXED_CANONICAL).hex() == FIXED_HASH
    terms = parse_terms(FIXED_CANONICAL)
    assert terms.terms_hash_hex == FIXED_HASH and terms.canonical == FIXED_CANONICAL
    assert terms == validate_terms(FIXED_DOC)
    assert terms.to_document() == FIXED_DOC


def test_fixed_document_hashes_the_same_in_javascript():
    node = shutil.which("node")
    if node is None or not (REPO / "node_modules" / "js-sha3").is_dir():
        pytest.fail("node and node_modules/js-sha3 are needed to check terms against a JavaScript canonicaliser: `make build`")
    pretty = json.dumps(FIXED_DOC, indent=2, ensure_ascii=False)  # key order as written, white space: JS must canonicalise
    out = subprocess.run([node, "-e", JS_CANONICAL_HASH, str(REPO)], input=pretty.encode(), capture_output=True,
                         check=True, timeout=60).stdout.decode().split()
    assert bytes.fromhex(out[0]) == FIXED_CANONICAL
    assert out[1] == FIXED_HASH


def test_docs_example_is_valid_and_hashes_to_the_hash_the_docs_state():
    text = (REPO / "docs" / "terms.md").read_text()
    block = re.search(r"```json\n(.*?)```", text, re.S)
    assert block, "docs/terms.md must show the example document in a ```json block"
    doc = json.loads(block[1])
    terms = validate_terms(doc)
    assert isinstance(doc["release"]["epsilon"], str) and "offerId" in doc and "buyer" in doc
    assert terms.terms_hash_hex in text, "docs/terms.md must state the example's termsHash"
    assert canonical_bytes(doc).decode() in text, "docs/terms.md must show the example's canonical bytes"


def test_fixed_document_properties():
    t = validate_terms(FIXED_DOC)
    assert t.epsilon == "0.25" and t.epsilon_milli == 250 and not t.is_exact
    assert t.mechanism == "ml-laplace-rr" and t.pricing_method == "network-newton"
    assert not t.is_fixed_price and t.fixed_price is None and t.is_eth
    assert t.dataset_id_bytes == bytes.fromhex(FIXED_DOC["datasetId"][2:])
    assert t.spec_hash_bytes == bytes.fromhex(FIXED_DOC["specHash"][2:])
    assert (t.max_price, t.quote_fee, t.price_tolerance, t.chain_id) == (10**18, 10**16, 1000, 31337)
    p = t.pricing
    p["method"] = "tampered"
    assert t.pricing_method == "network-newton"  # properties hand out copies; the terms cannot change
    with pytest.raises(AttributeError):
        t.max_price = 1  # type: ignore[misc]


def test_jcs_orders_keys_by_utf16_code_units_not_code_points():
    # U+1F600 is the surrogate pair D83D DE00, which sorts before U+FB01 in UTF-16 though after it by code point.
    doc = {"\ufb01": "a", "\U0001f600": "b", "b": "c"}
    assert canonical_bytes(doc) == '{"b":"c","\U0001f600":"b","\ufb01":"a"}'.encode()
    assert doc_bytes(doc) != canonical_bytes(doc)  # json.dumps(sort_keys=True) is JCS only for BMP keys


def test_pricing_reads_the_string_amounts_of_terms():
    """pricing/ reads the terms dict (it must not import client): its parsers accept what terms hold."""
    from pricing.curves import apply_curve, parse_max_price

    doc = validate_terms(FIXED_DOC).to_document()
    max_price = parse_max_price(doc["maxPrice"])
    assert max_price == 10**18
    assert apply_curve(doc["pricing"]["curve"], 0.5, max_price) == 500_000_000
    assert apply_curve(doc["pricing"]["curve"], 1e12, max_price) == 900_000_000_000_000_000  # the string cap
    assert apply_curve({"kind": "step", "price": "7000"}, 0.1, max_price) == 7000


# ------------------------------------------------------------------ epsilon


@pytest.mark.parametrize(("eps", "milli"), [
    ("1", 1000), ("0.25", 250), ("0.001", 1), ("0.0001", 1), ("0.0011", 2), ("1.0005", 1001), ("1.000", 1000),
    ("3", 3000), ("0.1", 100), ("0.3", 300), ("10.0000000000000000000001", 10001), ("4294967.294", 2**32 - 2),
    ("exact", EXACT),
])
def test_epsilon_milli_is_the_exact_ceiling(eps, milli):
    assert epsilon_milli(eps) == milli


@settings(max_examples=200, deadline=None)
@given(whole=st.integers(0, 4_000_000), frac=st.text("0123456789", max_size=30))
def test_epsilon_milli_equals_integer_ceiling(whole, frac):
    eps = str(whole) + ("." + frac if frac else "")
    num, den = int(str(whole) + frac), 10 ** len(frac)  # the decimal as an exact fraction, by hand
    want = -(-num * 1000 // den)
    if want == 0:
        with pytest.raises(InvalidTermsValue, match="is zero"):
            epsilon_milli(eps)
    else:
        assert epsilon_milli(eps) == want == int(-(-Fraction(eps) * 1000 // 1))


@pytest.mark.parametrize("eps", ["0", "0.0", "0.000", "00.5", "01", ".5", "1.", "+1", "-1", "1e3", "1E-3", " 1", "1 ",
                                 "NaN", "inf", "1,5", "\uff11", "\u0661", "", "Exact", "4294967.295", "99999999"])
def test_epsilon_refused_strings(eps):
    with pytest.raises(InvalidTermsValue) as e:
        epsilon_milli(eps)
    assert e.value.field == "release.epsilon" and repr(eps) in str(e.value)


@pytest.mark.parametrize("eps", [1, 0.25, 1.0, None, True, ["1"]])
def test_epsilon_refused_non_strings(eps):
    with pytest.raises(WrongTermsType, match="release.epsilon.*decimal string"):
        epsilon_milli(eps)


# ------------------------------------------------------------------ malformed documents


def _set(path: str, value: object):
    def f(doc: dict) -> dict:
        *parents, last = path.split(".")
        node = doc
        for p in parents:
            node = node[p]
        node[last] = value
        return doc
    return f


def _del(path: str):
    def f(doc: dict) -> dict:
        *parents, last = path.split(".")
        node = doc
        for p in parents:
            node = node[p]
        del node[last]
        return doc
    return f


def _fixed_price(price: str = "5000", spec: object = None):
    def f(doc: dict) -> dict:
        doc["pricing"] = {"method": "fixed", "price": price}
        doc["specHash"] = spec
        return doc
    return f


MALFORMED = [
    *[(f"missing-{k}", _del(k), MissingTermsField, k) for k in FIXED_DOC],
    ("missing-pricing.method", _del("pricing.method"), MissingTermsField, "pricing.method"),
    ("missing-pricing.curve", _del("pricing.curve"), MissingTermsField, "pricing.curve"),
    ("missing-fixed-price", lambda d: _del("pricing.price")(_fixed_price()(d)), MissingTermsField, "pricing.price"),
    ("missing-release.epsilon", _del("release.epsilon"), MissingTermsField, "release.epsilon"),
    ("missing-release.mechanism", _del("release.mechanism"), MissingTermsField, "release.mechanism"),
    ("missing-mechanism.name", _del("release.mechanism.name"), MissingTermsField, "release.mechanism.name"),
    ("extra-top", _set("price", "1"), UnexpectedTermsField, "price"),
    ("extra-pricing", _set("pricing.price", "1"), UnexpectedTermsField, "pricing.price"),
    ("extra-fixed", lambda d: _set("pricing.curve", {})(_fixed_price()(d)), UnexpectedTermsField, "pricing.curve"),
    ("extra-release", _set("release.rows", "100"), UnexpectedTermsField, "release.rows"),
    ("chainId-string", _set("chainId", "31337"), WrongTermsType, "chainId"),
    ("chainId-bool", _set("chainId", True), WrongTermsType, "chainId"),
    ("chainId-float", _set("chainId", 31337.0), WrongTermsType, "chainId"),
    ("chainId-zero", _set("chainId", 0), InvalidTermsValue, "chainId"),
    ("chainId-unsafe", _set("chainId", 2**53), InvalidTermsValue, "chainId"),
    ("maxPrice-int", _set("maxPrice", 10**18), WrongTermsType, "maxPrice"),
    ("quoteFee-float", _set("quoteFee", 1e16), WrongTermsType, "quoteFee"),
    ("priceTolerance-null", _set("priceTolerance", None), WrongTermsType, "priceTolerance"),
    ("epsilon-number", _set("release.epsilon", 0.25), WrongTermsType, "release.epsilon"),
    ("epsilon-int", _set("release.epsilon", 1), WrongTermsType, "release.epsilon"),
    ("epsilon-zero", _set("release.epsilon", "0.0"), InvalidTermsValue, "release.epsilon"),
    ("epsilon-exponent", _set("release.epsilon", "2.5e-1"), InvalidTermsValue, "release.epsilon"),
    ("mechanism-number", _set("release.mechanism.bounds", {"pixel": ["0", 255]}), WrongTermsType,
     "release.mechanism.bounds.pixel[1]"),
    ("mechanism-not-object", _set("release.mechanism", "ml-laplace-rr"), WrongTermsType, "release.mechanism"),
    ("mechanism-name-empty", _set("release.mechanism.name", ""), InvalidTermsValue, "release.mechanism.name"),
    ("curve-number", _set("pricing.curve.slope", 1000000000), WrongTermsType, "pricing.curve.slope"),
    ("curve-not-object", _set("pricing.curve", "linear"), WrongTermsType, "pricing.curve"),
    ("method-not-string", _set("pricing.method", None), WrongTermsType, "pricing.method"),
    ("method-empty", _set("pricing.method", ""), InvalidTermsValue, "pricing.method"),
    ("pricing-array", _set("pricing", []), WrongTermsType, "pricing"),
    ("release-null", _set("release", None), WrongTermsType, "release"),
    ("protocol-other", _set("protocol", "spartacus-v2"), InvalidTermsValue, "protocol"),
    ("contract-lower", _set("contract", FIXED_DOC["contract"].lower()), InvalidTermsValue, "contract"),
    ("seller-short", _set("seller", FIXED_DOC["seller"][:-2]), InvalidTermsValue, "seller"),
    ("buyer-zero", _set("buyer", ETH), InvalidTermsValue, "buyer"),
    ("buyer-bytes-array", _set("buyer", [1, 2]), WrongTermsType, "buyer"),
    ("token-upper", _set("token", "0x" + "AB" * 20), InvalidTermsValue, "token"),
    ("datasetId-upper", _set("datasetId", FIXED_DOC["datasetId"].upper().replace("0X", "0x")), InvalidTermsValue, "datasetId"),
    ("datasetId-short", _set("datasetId", "0x1234"), InvalidTermsValue, "datasetId"),
    ("specHash-no-prefix", _set("specHash", FIXED_DOC["specHash"][2:]), InvalidTermsValue, "specHash"),
    ("offerId-number", _set("offerId", 7), WrongTermsType, "offerId"),
    ("offerId-empty", _set("offerId", ""), InvalidTermsValue, "offerId"),
    ("nonce-number", _set("nonce", 7), WrongTermsType, "nonce"),
    ("nonce-null", _set("nonce", None), WrongTermsType, "nonce"),
    ("nonce-empty", _set("nonce", ""), InvalidTermsValue, "nonce"),
    ("amount-leading-zero", _set("maxPrice", "01"), InvalidTermsValue, "maxPrice"),
    ("amount-negative", _set("quoteFee", "-1"), InvalidTermsValue, "quoteFee"),
    ("amount-exponent", _set("maxPrice", "1e18"), InvalidTermsValue, "maxPrice"),
    ("amount-decimal", _set("priceTolerance", "1.5"), InvalidTermsValue, "priceTolerance"),
    ("amount-over-uint256", _set("maxPrice", str(2**256)), InvalidTermsValue, "maxPrice"),
    ("fixed-price-int", _fixed_price(price=5000), WrongTermsType, "pricing.price"),
]


#: well-formed documents no quote could satisfy: a hub answers 422 for these (after its 404 checks), not 400
UNQUOTABLE = [
    ("specHash-null-for-mde", _set("specHash", None), "specHash"),
    ("specHash-for-fixed", _fixed_price(spec=FIXED_DOC["specHash"]), "specHash"),
    ("maxPrice-zero", lambda d: _set("quoteFee", "0")(_set("maxPrice", "0")(d)), "maxPrice"),
    ("quoteFee-over-maxPrice", _set("quoteFee", "1000000000000000001"), "quoteFee"),
    ("fixed-price-over-maxPrice", _fixed_price(price="1000000000000000001"), "pricing.price"),
    ("fixed-price-zero", _fixed_price(price="0"), "pricing.price"),
]


@pytest.mark.parametrize(("mutate", "field"), [m[1:] for m in UNQUOTABLE], ids=[m[0] for m in UNQUOTABLE])
def test_unquotable_terms_parse_but_are_refused_by_check_quotable(mutate, field):
    doc = mutate(copy.deepcopy(FIXED_DOC))
    terms = parse_terms(doc_bytes(doc))  # well-formed: the parser takes them
    with pytest.raises(UnquotableTerms) as e:
        check_quotable(terms)
    assert e.value.field == field and repr(field) in str(e.value)
    assert not isinstance(e.value, TermsError) and isinstance(e.value, ValueError)


@pytest.mark.parametrize(("mutate", "error", "field"), [m[1:] for m in MALFORMED], ids=[m[0] for m in MALFORMED])
def test_malformed_document_names_the_field(mutate, error, field):
    doc = mutate(copy.deepcopy(FIXED_DOC))
    with pytest.raises(error) as e:
        validate_terms(doc)
    assert e.value.field == field and repr(field) in str(e.value)
    assert isinstance(e.value, TermsFieldError) and isinstance(e.value, TermsError)
    assert isinstance(e.value, ValueError) and isinstance(e.value, ClientError)
    assert e.value.code.startswith("terms-")
    # the same document as (sorted, compact) bytes is refused by the parser with the same error
    with pytest.raises(error) as e2:
        parse_terms(doc_bytes(doc))
    assert e2.value.field == field


def test_messages_say_the_fix():
    with pytest.raises(InvalidTermsValue, match="write 0x5FbDB2315678afecb367f032d93F642f64180aa3"):
        validate_terms(_set("contract", FIXED_DOC["contract"].lower())(copy.deepcopy(FIXED_DOC)))
    with pytest.raises(UnexpectedTermsField, match="remove it .*allowed: buyer, chainId"):
        validate_terms(_set("extra", "x")(copy.deepcopy(FIXED_DOC)))
    with pytest.raises(MissingTermsField, match="'offerId': is required"):
        validate_terms(_del("offerId")(copy.deepcopy(FIXED_DOC)))
    with pytest.raises(WrongTermsType, match="must be a decimal string .* got a number 0.25"):
        validate_terms(_set("release.epsilon", 0.25)(copy.deepcopy(FIXED_DOC)))


@pytest.mark.parametrize("doc", [[], "terms", 1, None])
def test_a_document_that_is_not_an_object(doc):
    with pytest.raises(WrongTermsType, match="a JSON object"):
        validate_terms(doc)  # type: ignore[arg-type]
    with pytest.raises(WrongTermsType):
        parse_terms(json.dumps(doc).encode())


@pytest.mark.parametrize(("data", "why"), [
    (FIXED_CANONICAL + b"\n", "differ from the canonical form at byte"),
    (b" " + FIXED_CANONICAL, "differ from the canonical form at byte 0"),
    (b"\xef\xbb\xbf" + FIXED_CANONICAL, "not JSON"),
    (FIXED_CANONICAL.replace("é".encode(), b"\xe9"), "not UTF-8"),
    (FIXED_CANONICAL[:-1], "not JSON"),
    (FIXED_CANONICAL.replace(b'{"buyer"', b'{"buyer":"0x0","buyer"', 1), "appears twice"),
    (FIXED_CANONICAL.replace(b'"chainId":31337', b'"chainId":NaN'), "NaN is not JSON"),
    (FIXED_CANONICAL.replace("é".encode(), b"\\u00e9"), "differ from the canonical form"),
    (FIXED_CANONICAL.replace(b'"chainId":31337', b'"chainId":3.1337e4'), "chainId"),
    (FIXED_CANONICAL.replace(b'"1000"', b'"1\\u0030\\u0030\\u0030"'), "differ from the canonical form"),
    (b"[" * 100_000 + b"]" * 100_000, "nested deeper than 32"),  # json.loads' C scanner would overflow the stack
    (b'{"a":"[[[[' + b"{" * 40 + b'"}', "'buyer': is required"),  # brackets inside strings are not nesting
])
def test_non_canonical_bytes_are_refused(data, why):
    with pytest.raises(TermsError, match=why):
        parse_terms(data)


def test_lone_surrogate_is_refused_not_hashed():
    bad = FIXED_CANONICAL.replace(b'"mnist-', b'"\\ud800mnist-')
    with pytest.raises(InvalidTermsValue, match="lone surrogate"):
        parse_terms(bad)


def test_parse_wants_bytes():
    with pytest.raises(TypeError, match="must be bytes"):
        parse_terms(FIXED_CANONICAL.decode())  # type: ignore[arg-type]


# ------------------------------------------------------------------ building from an offer


OFFER = {
    "offerId": FIXED_DOC["offerId"],
    "datasetId": FIXED_DOC["datasetId"],
    "release": FIXED_DOC["release"],
    "pricing": FIXED_DOC["pricing"],
    "tokens": [ETH],
    "minQuoteFee": "1000",
}


def _build(**kw) -> Terms:
    args = dict(chain_id=31337, contract=FIXED_DOC["contract"].lower(), seller=FIXED_DOC["seller"].upper().replace("0X", "0x"),
                buyer=FIXED_DOC["buyer"], token=ETH, max_price=10**18, quote_fee="10000000000000000", price_tolerance=1000,
                spec_hash=bytes.fromhex(FIXED_DOC["specHash"][2:]))
    args.update(kw)
    return build_terms(OFFER, **args)


def test_build_from_an_offer_gives_the_fixed_document():
    terms = _build()
    assert terms.canonical == FIXED_CANONICAL and terms.terms_hash_hex == FIXED_HASH
    assert terms.seller == FIXED_DOC["seller"] and terms.contract == FIXED_DOC["contract"]  # checksummed


def test_build_copies_the_offer_and_does_not_share_it():
    offer = copy.deepcopy(OFFER)
    offer["minQuoteFee"] = "0"
    terms = build_terms(offer, chain_id=1, contract=FIXED_DOC["contract"], seller=FIXED_DOC["seller"],
                        buyer=FIXED_DOC["buyer"], token=ETH, max_price=5, quote_fee=5, spec_hash=FIXED_DOC["specHash"])
    offer["release"]["epsilon"] = "9"
    assert terms.epsilon == "0.25" and terms.release == FIXED_DOC["release"] and terms.offer_id == OFFER["offerId"]


def test_build_a_fixed_price_offer_with_a_nonce():
    offer = dict(OFFER, pricing={"method": "fixed", "price": "4000"}, release={"epsilon": "exact", "mechanism": {"name": "exact"}})
    first = build_terms(offer, chain_id=31337, contract=FIXED_DOC["contract"], seller=FIXED_DOC["seller"], buyer=FIXED_DOC["buyer"],
                        token=ETH, max_price=5000, quote_fee=1000, nonce="1")
    again = build_terms(offer, chain_id=31337, contract=FIXED_DOC["contract"], seller=FIXED_DOC["seller"], buyer=FIXED_DOC["buyer"],
                        token=ETH, max_price=5000, quote_fee=1000, nonce="2")
    assert first.is_fixed_price and first.fixed_price == 4000 and first.spec_hash is None and first.spec_hash_bytes is None
    assert first.is_exact and first.epsilon_milli == EXACT
    assert first.terms_hash != again.terms_hash  # the nonce lets the buyer buy the same fixed-price offer again
    assert parse_terms(first.canonical) == first and b'"nonce":"1"' in first.canonical


def test_build_refuses_what_the_offer_does_not_allow():
    with pytest.raises(InvalidTermsValue, match="'token'.*not one the offer lists"):
        _build(token="0x" + "11" * 20)
    with pytest.raises(InvalidTermsValue, match="'quoteFee'.*under the offer's minQuoteFee 1000"):
        _build(quote_fee=999)
    with pytest.raises(MissingTermsField, match="offer.offerId"):
        build_terms({k: v for k, v in OFFER.items() if k != "offerId"}, chain_id=1, contract=FIXED_DOC["contract"],
                    seller=FIXED_DOC["seller"], buyer=FIXED_DOC["buyer"], token=ETH, max_price=1, quote_fee=1000)
    with pytest.raises(InvalidTermsValue, match="'buyer'.*not an address"):
        _build(buyer="alice")
    with pytest.raises(WrongTermsType, match="'maxPrice'"):
        _build(max_price=1.5e18)
    with pytest.raises(WrongTermsType, match="release.epsilon"):  # an offer written with a JSON number epsilon
        build_terms(dict(OFFER, release={"epsilon": 1.0, "mechanism": {"name": "ml-laplace-rr"}}), chain_id=1,
                    contract=FIXED_DOC["contract"], seller=FIXED_DOC["seller"], buyer=FIXED_DOC["buyer"], token=ETH,
                    max_price=10**18, quote_fee=1000, spec_hash=FIXED_DOC["specHash"])


# ------------------------------------------------------------------ round trips (Hypothesis)


ADDRESSES = st.binary(min_size=20, max_size=20).filter(any).map(lambda b: to_checksum_address(b))
HASHES = st.binary(min_size=32, max_size=32).map(lambda b: "0x" + b.hex())
TEXT = st.text(st.characters(blacklist_categories=("Cs",)), max_size=12)
UINT = st.integers(0, 2**256 - 1)
EPSILONS = st.one_of(
    st.just("exact"),
    st.builds(lambda w, f: str(w) + ("." + f if f else ""), st.integers(1, 4_000_000), st.text("0123456789", max_size=8)),
    st.builds(lambda f, d: "0." + f + d, st.text("0123456789", max_size=6), st.sampled_from("123456789")),
)
LEAVES = st.one_of(st.none(), st.booleans(), TEXT)
PARAMS = st.recursive(LEAVES, lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(TEXT, inner, max_size=3)),
                      max_leaves=8)


@st.composite
def documents(draw) -> dict:
    max_price = draw(st.integers(1, 2**256 - 1))
    fixed = draw(st.booleans())
    pricing = ({"method": "fixed", "price": str(draw(st.integers(1, max_price)))} if fixed else
               {"method": draw(TEXT.filter(lambda s: s not in ("", "fixed"))),
                "curve": draw(st.dictionaries(TEXT, PARAMS, max_size=4))})
    doc = {
        "protocol": "spartacus-v1",
        "chainId": draw(st.integers(1, 2**53 - 1)),
        "contract": draw(ADDRESSES), "seller": draw(ADDRESSES), "buyer": draw(ADDRESSES),
        "token": draw(st.one_of(st.just(ETH), ADDRESSES)),
        "datasetId": draw(HASHES),
        "offerId": draw(TEXT.filter(bool)),
        "specHash": None if fixed else draw(HASHES),
        "pricing": pricing,
        "release": {"epsilon": draw(EPSILONS),
                    "mechanism": {"name": draw(TEXT.filter(bool)), **draw(st.dictionaries(TEXT.filter(lambda s: s != "name"), PARAMS, max_size=4))}},
        "maxPrice": str(max_price),
        "quoteFee": str(draw(st.integers(0, max_price))),
        "priceTolerance": str(draw(UINT)),
    }
    if draw(st.booleans()):
        doc["nonce"] = draw(TEXT.filter(bool))
    return doc


@settings(max_examples=150, deadline=None)
@given(doc=documents())
def test_build_canonical_parse_is_the_identity(doc):
    terms = validate_terms(doc)
    data = terms.canonical
    assert data == canonical_bytes(doc)
    again = parse_terms(data)
    assert again == terms and again.canonical == data and again.to_document() == doc
    assert again.terms_hash == keccak(data)
    if all(ord(c) < 0x10000 for c in data.decode()):
        assert data == doc_bytes(doc)  # the stdlib recipe agrees wherever keys are in the BMP


def _reorder(doc: dict, where: str) -> dict:
    """``doc`` with the keys of one object (top, pricing or release) in reverse sorted order."""
    out = copy.deepcopy(doc)
    node = out if where == "top" else out[where]
    items = sorted(node.items(), reverse=True)
    node.clear()
    node.update(items)
    return out


@settings(max_examples=100, deadline=None)
@given(doc=documents(), where=st.sampled_from(["top", "pricing", "release"]))
def test_any_key_reorder_is_refused(doc, where):
    reordered = json.dumps(_reorder(doc, where), separators=(",", ":"), ensure_ascii=False).encode()
    assert json.loads(reordered) == doc
    with pytest.raises(NonCanonicalTerms, match="differ from the canonical form"):
        parse_terms(reordered)


WHITESPACE = [dict(separators=(", ", ":")), dict(separators=(",", ": ")), dict(indent=0), dict(indent=2),
              dict(separators=(",", ":"), indent="\t")]


@settings(max_examples=100, deadline=None)
@given(doc=documents(), style=st.sampled_from(WHITESPACE), at=st.integers(0, 10**6), ws=st.sampled_from([" ", "\n", "\t", "\r"]))
def test_any_white_space_is_refused(doc, style, at, ws):
    with pytest.raises(NonCanonicalTerms):
        parse_terms(doc_bytes(doc, **style))
    # one white-space character before any structural character
    canonical = validate_terms(doc).canonical.decode()
    spots = [i for i, _ in _structural(canonical)]
    i = spots[at % len(spots)]
    spaced = (canonical[:i] + ws + canonical[i:]).encode()
    with pytest.raises(NonCanonicalTerms):
        parse_terms(spaced)


def _structural(text: str):
    """(index, char) of every character outside strings: where JSON allows white space."""
    inside = escaped = False
    for i, c in enumerate(text):
        if inside:
            if escaped:
                escaped = False
            elif c == "\\":
                escaped = True
            elif c == '"':
                inside = False
            continue
        if c == '"':
            inside = True
        yield i, c
