"""Buyer authentication at the hub (protocol.md "Buyer authentication at the hub"): an EIP-191
personal-message signature over five fixed lines, sent as `Authorization: Spartacus issued=<unix>,
signature=0x<130 hex>`. Pure functions of the header, the clock and the chain binding."""

from __future__ import annotations

import re
from dataclasses import dataclass

from eth_account import Account
from eth_account.messages import encode_defunct

from oracle.errors import BadRequest, Unauthorized

__all__ = ["SCHEME", "SignedHeader", "parse_authorization", "delivery_message", "recover_buyer", "authenticate"]

SCHEME = "Spartacus"
_PARAMS = re.compile(r"issued=(?P<issued>0|[1-9][0-9]{0,18}), signature=(?P<sig>0x[0-9a-fA-F]{130})\Z")


@dataclass(frozen=True)
class SignedHeader:
    """The two parameters of a `Spartacus` authorization header, as sent."""

    issued: int
    signature: bytes


def parse_authorization(header: str | None) -> SignedHeader:
    """Read a `Spartacus` header. Raises `Unauthorized` when it is absent or of another scheme,
    `BadRequest` when it is a `Spartacus` header that breaks the grammar."""
    if header is None or not header.strip():
        raise Unauthorized("no Authorization header: sign the delivery message and send "
                           "'Authorization: Spartacus issued=<unix seconds>, signature=0x<130 hex>'")
    scheme, _, params = header.partition(" ")
    if scheme.lower() != SCHEME.lower():  # RFC 9110 11.1: auth schemes are case-insensitive
        raise Unauthorized(f"the Authorization scheme must be {SCHEME!r}; other schemes are not accepted here")
    m = _PARAMS.match(params)
    if m is None:
        raise BadRequest("the Spartacus Authorization header breaks its grammar: write exactly "
                         "'Spartacus issued=<unix seconds>, signature=0x<130 hex digits>' (that order, "
                         "a comma and one space between, no other parameters)")
    return SignedHeader(int(m["issued"]), bytes.fromhex(m["sig"][2:]))


def delivery_message(chain_id: int, contract: str, deal_id: int, issued: int) -> bytes:
    """The exact bytes a buyer signs: five lines joined by a line feed, no trailing newline."""
    return "\n".join((
        "spartacus delivery", f"chain: {chain_id}", f"contract: {contract}", f"deal: {deal_id}", f"issued: {issued}",
    )).encode("utf-8")


def recover_buyer(message: bytes, signature: bytes) -> str:
    """The checksummed address that signed `message` as an EIP-191 personal message.
    Raises `Unauthorized` when no address can be recovered from the signature."""
    try:
        return Account.recover_message(encode_defunct(primitive=message), signature=signature)
    except Exception:  # noqa: BLE001 - eth-account raises several types for a bad v, r or s
        raise Unauthorized("no address can be recovered from the signature: sign the delivery message "
                           "with the deal's buyer key (EIP-191 personal_sign) and send its 65 bytes r, s, v") from None


def authenticate(header: str | None, *, chain_id: int, contract: str, deal_id: int, now: float,
                 past: int, future: int) -> str:
    """The address that signed this deal's delivery message in `header`, checked against the time
    window [now - past, now + future]. Raises `BadRequest` or `Unauthorized` per the protocol's table."""
    signed = parse_authorization(header)
    if signed.issued < now - past:
        raise Unauthorized(f"the signature was issued at {signed.issued}, more than {past} s before the hub's clock "
                           f"({int(now)}): sign again with a fresh 'issued'")
    if signed.issued > now + future:
        raise Unauthorized(f"the signature is issued at {signed.issued}, more than {future} s after the hub's clock "
                           f"({int(now)}): check your clock and sign again")
    return recover_buyer(delivery_message(chain_id, contract, deal_id, signed.issued), signed.signature)
