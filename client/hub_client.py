"""An HTTP client for one hub's public API (protocol.md, "Hub HTTP API"), for buyers' wallets.

`HubClient(url)` reads `/v1/info`, `/v1/datasets`, `/v1/offers`, uploads a spec bundle and
canonical terms, reads a deal's phase, and downloads a deal's ciphertext and plain leaves to
files with the buyer's EIP-191 `Spartacus` authorization header, resuming a partial file
with a byte range. Every error answer becomes a :class:`HubError` subclass named after its
status, carrying the hub's ``error`` code and ``detail``; a hub that cannot be reached or
times out is :class:`HubUnreachable`. Never imports the hub's own code.
"""

from __future__ import annotations

import os
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

import httpx
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_account.signers.local import LocalAccount
from eth_utils import to_checksum_address

from client.errors import ClientError
from common.json_bounded import JsonTooDeep, loads_bounded

__all__ = [
    "AUTH_SCHEME", "HubClient", "HubInfo", "DealPhase",
    "auth_message", "auth_header",
    "HubError", "HubUnreachable", "HubProtocolError", "HubBadRequest", "HubUnauthorized", "HubForbidden",
    "HubNotFound", "HubConflict", "HubTooLarge", "HubRangeNotSatisfiable", "HubUnprocessable", "HubServerError",
]

AUTH_SCHEME = "Spartacus"
PROTOCOL = "spartacus-v1"
#: bytes read per step of a download (what a progress callback sees between calls)
DOWNLOAD_STEP = 256 * 1024
#: the largest JSON answer read from a hub (its offers and datasets are kilobytes), and its deepest nesting
MAX_JSON_BYTES = 16 * 2**20
MAX_JSON_DEPTH = 64
ProgressFn = Callable[[int, int], None]  # (bytes so far, total bytes)


# ---------------------------------------------------------------- errors


class HubError(ClientError, RuntimeError):
    """The hub answered with an error: ``status``, its ``error`` code and ``detail`` (how to fix it)."""

    def __init__(self, status: int, error: str, detail: str, *, url: str = "") -> None:
        self.status, self.error, self.detail, self.url = status, error, detail, url
        super().__init__(f"hub answered {status} {error} for {url}: {detail}")


class HubBadRequest(HubError):
    """400: a malformed request (terms not canonical, a bad field, a bad header)."""


class HubUnauthorized(HubError):
    """401: no usable `Spartacus` signature (missing, unrecoverable, or outside its time window: check the clock)."""


class HubForbidden(HubError):
    """403: the signature recovers to an address other than the deal's buyer."""


class HubNotFound(HubError):
    """404: no such deal, dataset or offer at this hub (a deal the hub has not seen yet is 404 too)."""


class HubConflict(HubError):
    """409: the deal's phase does not allow this, or the spec was already evaluated against the dataset."""


class HubTooLarge(HubError):
    """413: the body is over the hub's limit."""


class HubRangeNotSatisfiable(HubError):
    """416: the byte range asked for lies outside the file."""


class HubUnprocessable(HubError):
    """422: well-formed terms or spec the hub will not price; the detail names the rule."""


class HubServerError(HubError):
    """5xx or any status the protocol does not name."""


class HubUnreachable(ClientError, ConnectionError):
    """The hub could not be reached, or did not answer within the timeout."""

    def __init__(self, url: str, cause: BaseException) -> None:
        self.url = url
        super().__init__(f"hub at {url} did not answer ({type(cause).__name__}: {cause}); is it running and is the "
                         "URL right?")


class HubProtocolError(ClientError, ValueError):
    """The hub answered 2xx with something the protocol does not allow (wrong shape, wrong protocol, short body)."""


_BY_STATUS: dict[int, type[HubError]] = {400: HubBadRequest, 401: HubUnauthorized, 403: HubForbidden, 404: HubNotFound,
                                         409: HubConflict, 413: HubTooLarge, 416: HubRangeNotSatisfiable,
                                         422: HubUnprocessable}


def _raise_for(resp: httpx.Response) -> None:
    if resp.status_code < 400:
        return
    try:
        body = loads_bounded(resp.content[:MAX_JSON_BYTES], max_depth=MAX_JSON_DEPTH)
        error, detail = str(body.get("error", "")), str(body.get("detail", ""))
    except Exception:  # noqa: BLE001 - a body that is not the protocol's JSON error
        error, detail = "http-error", resp.text[:300]
    raise _BY_STATUS.get(resp.status_code, HubServerError)(resp.status_code, error, detail, url=str(resp.request.url))


def _is_offer(o: Any) -> bool:
    """An offer of `GET /v1/offers` as the wallet reads one: the ids as strings, release and pricing objects."""
    return (isinstance(o, dict) and isinstance(o.get("offerId"), str) and isinstance(o.get("datasetId"), str)
            and isinstance(o.get("release"), dict) and isinstance(o.get("pricing"), dict)
            and isinstance(o["release"].get("mechanism"), dict) and isinstance(o.get("tokens", []), list))


# ---------------------------------------------------------------- authentication


def auth_message(chain_id: int, contract: str, deal_id: int, issued: int) -> str:
    """The five lines a buyer signs (protocol.md, "Buyer authentication at the hub"), no trailing newline."""
    return "\n".join(["spartacus delivery", f"chain: {int(chain_id)}", f"contract: {to_checksum_address(contract)}",
                      f"deal: {int(deal_id)}", f"issued: {int(issued)}"])


def auth_header(account: LocalAccount, chain_id: int, contract: str, deal_id: int, issued: int | None = None) -> str:
    """The `Authorization` value: `Spartacus issued=<s>, signature=0x<130 hex>` (EIP-191 personal message)."""
    issued = int(time.time()) if issued is None else int(issued)
    msg = auth_message(chain_id, contract, deal_id, issued).encode()
    sig = bytes(Account.sign_message(encode_defunct(primitive=msg), account.key).signature)
    return f"{AUTH_SCHEME} issued={issued}, signature=0x{sig.hex()}"


# ---------------------------------------------------------------- shapes


@dataclass(frozen=True)
class HubInfo:
    """`GET /v1/info`: which chain, contract, seller and oracle this hub serves."""

    protocol: str
    chain_id: int
    contract: str
    seller: str
    oracle: str


@dataclass(frozen=True)
class DealPhase:
    """`GET /v1/deals/<id>`: the hub's view of a deal's phase, and its reason when it declined."""

    deal_id: int
    phase: str
    reason: str | None


_CONTENT_RANGE = re.compile(r"bytes (\d+)-(\d+)/(\d+)\Z")


class HubClient:
    """One hub's public API over HTTP (httpx); `timeout` bounds every request, so a dead hub fails fast."""

    def __init__(self, url: str, *, timeout: float = 30.0, transport: httpx.BaseTransport | None = None) -> None:
        self.url = url.rstrip("/")
        self.timeout = timeout
        self._http = httpx.Client(base_url=self.url, timeout=timeout, transport=transport)
        self._info: HubInfo | None = None

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    def __enter__(self) -> "HubClient":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _request(self, method: str, path: str, **kw: Any) -> httpx.Response:
        """The whole answer, read within `timeout` seconds in all and at most MAX_JSON_BYTES: httpx's
        timeout bounds each read, so a hub sending a byte a second held the wallet for ever."""
        try:
            with self._http.stream(method, path, **kw) as resp:
                # counted from the answer's headers: a spec's upload (up to 16 MiB) is not part of it
                deadline = time.monotonic() + self.timeout
                body = bytearray()
                for piece in resp.iter_bytes():
                    body += piece
                    if len(body) > MAX_JSON_BYTES:
                        raise HubProtocolError(f"{self.url}{path} answered more than {MAX_JSON_BYTES:,} bytes; no "
                                               "answer of the protocol's is that large")
                    if time.monotonic() > deadline:
                        raise HubUnreachable(self.url + path, TimeoutError(
                            f"the answer took over {self.timeout:g} s ({len(body):,} bytes so far)"))
        except httpx.HTTPError as err:
            raise HubUnreachable(self.url + path, err) from err
        full = httpx.Response(resp.status_code, headers=resp.headers, content=bytes(body), request=resp.request)
        _raise_for(full)
        return full

    def _json(self, method: str, path: str, **kw: Any) -> Any:
        resp = self._request(method, path, **kw)
        try:
            return loads_bounded(resp.content, max_depth=MAX_JSON_DEPTH)
        except JsonTooDeep as err:
            raise HubProtocolError(f"{self.url}{path} answered JSON with {err}; no answer of the protocol's is "
                                   "that deep") from None
        except ValueError as err:
            raise HubProtocolError(f"{self.url}{path} answered {resp.status_code} with a body that is not JSON") from err

    # -- reads ---------------------------------------------------------------------

    def info(self, *, refresh: bool = False) -> HubInfo:
        """`GET /v1/info` (cached after the first call); raises HubProtocolError for another protocol."""
        if self._info is None or refresh:
            body = self._json("GET", "/v1/info")
            try:
                info = HubInfo(str(body["protocol"]), int(body["chainId"]), to_checksum_address(body["contract"]),
                               to_checksum_address(body["seller"]), to_checksum_address(body["oracle"]))
            except (KeyError, TypeError, ValueError) as err:
                raise HubProtocolError(f"{self.url}/v1/info is not the protocol's shape ({err!r}): {body!r}") from err
            if info.protocol != PROTOCOL:
                raise HubProtocolError(f"{self.url} speaks {info.protocol!r}, not {PROTOCOL!r}: use a wallet for that protocol")
            self._info = info
        return self._info

    def datasets(self) -> list[dict[str, Any]]:
        """`GET /v1/datasets`: each dataset's id, name, schema, rows and privacy budget (cap, spent)."""
        body = self._json("GET", "/v1/datasets")
        if not isinstance(body, list) or not all(isinstance(d, dict) and "datasetId" in d for d in body):
            raise HubProtocolError(f"{self.url}/v1/datasets is not the protocol's shape (a list of objects with "
                                   f"\"datasetId\"): {str(body)[:200]}")
        return body

    def offers(self, buyer: str) -> list[dict[str, Any]]:
        """`GET /v1/offers?buyer=`: the offers this hub makes to `buyer` (default ones and its own)."""
        body = self._json("GET", "/v1/offers", params={"buyer": to_checksum_address(buyer)})
        offers = body.get("offers") if isinstance(body, dict) else None
        if not isinstance(offers, list) or not all(_is_offer(o) for o in offers):
            raise HubProtocolError(f"{self.url}/v1/offers is not the protocol's shape ({{\"offers\": [{{\"offerId\", "
                                   f"\"datasetId\", \"release\", \"pricing\", ...}}]}}): {str(body)[:200]}")
        return list(offers)

    def deal(self, deal_id: int) -> DealPhase:
        """`GET /v1/deals/<id>`; HubNotFound while the hub has not yet seen the deal."""
        body = self._json("GET", f"/v1/deals/{int(deal_id)}")
        try:
            return DealPhase(int(body["dealId"]), str(body["phase"]), body.get("reason"))
        except (KeyError, TypeError, ValueError, AttributeError) as err:
            raise HubProtocolError(f"{self.url}/v1/deals/{int(deal_id)} is not the protocol's shape ({err!r}): "
                                   f"{str(body)[:200]}") from None

    # -- uploads ---------------------------------------------------------------------

    def put_spec(self, bundle: bytes) -> str:
        """`PUT /v1/specs` with the spec bundle; returns its specHash (0x-hex)."""
        body = self._json("PUT", "/v1/specs", content=bytes(bundle), headers={"Content-Type": "application/octet-stream"})
        return str(body["specHash"])

    def put_terms(self, canonical: bytes) -> str:
        """`PUT /v1/terms` with the canonical terms bytes; returns termsHash (0x-hex). 201 means the hub will price them."""
        body = self._json("PUT", "/v1/terms", content=bytes(canonical), headers={"Content-Type": "application/json"})
        return str(body["termsHash"])

    # -- downloads ---------------------------------------------------------------------

    def download(self, deal_id: int, which: str, dest: str | os.PathLike[str], account: LocalAccount, *,
                 expected_size: int | None = None, progress: ProgressFn | None = None) -> Path:
        """Download `which` ("ciphertext" or "leaves") of a deal to `dest`, authenticated as `account`.

        A partial `dest` left by an interrupted run is resumed with `Range: bytes=<len>-`; a
        file already `expected_size` long is not fetched again. Raises HubProtocolError if
        the hub sends a different length than it announced (or than `expected_size`)."""
        if which not in ("ciphertext", "leaves"):
            raise ValueError(f"which ({which!r}) must be 'ciphertext' or 'leaves'")
        dest = Path(dest)
        have = dest.stat().st_size if dest.exists() else 0
        if expected_size is not None:
            if have == expected_size:
                return dest
            if have > expected_size:  # not ours to keep: start over
                dest.unlink()
                have = 0
        info = self.info()
        headers = {"Authorization": auth_header(account, info.chain_id, info.contract, deal_id)}
        if have:
            headers["Range"] = f"bytes={have}-"
        path = f"/v1/deals/{int(deal_id)}/{which}"
        try:
            with self._http.stream("GET", path, headers=headers) as resp:
                if resp.status_code >= 400:
                    error = httpx.Response(resp.status_code, headers=resp.headers, request=resp.request,
                                           content=_read_at_most(resp, MAX_JSON_BYTES))
                    if resp.status_code == 416 and have:  # our partial file may already be the whole one
                        total = _total_of(resp.headers.get("content-range", ""))
                        if total is not None and total == have:
                            return dest
                    _raise_for(error)
                if resp.status_code == 206:
                    m = _CONTENT_RANGE.match(resp.headers.get("content-range", ""))
                    if not m or int(m[1]) != have:
                        raise HubProtocolError(f"{self.url}{path} answered Content-Range "
                                               f"{resp.headers.get('content-range')!r} to a request from byte {have}")
                    total = int(m[3])
                    mode = "ab"
                else:
                    total = int(resp.headers.get("content-length", "-1"))
                    have, mode = 0, "wb"
                if expected_size is not None and total >= 0 and total != expected_size:
                    raise HubProtocolError(f"{self.url}{path} is {total} bytes; the quote commits to {expected_size}")
                dest.parent.mkdir(parents=True, exist_ok=True)
                with open(dest, mode) as out:
                    got = have
                    window, window_start = 0, time.monotonic()
                    for piece in _steps(resp.iter_bytes(), DOWNLOAD_STEP):
                        window += len(piece)
                        if time.monotonic() - window_start > self.timeout:
                            if window < DOWNLOAD_STEP:  # a trickle keeps each read alive: judge the rate
                                raise HubUnreachable(self.url + path, TimeoutError(
                                    f"under {DOWNLOAD_STEP:,} bytes in {self.timeout:g} s"))
                            window, window_start = 0, time.monotonic()
                        if expected_size is not None and got + len(piece) > expected_size:
                            # no Content-Length (or a lie): never write past what the quote commits to
                            raise HubProtocolError(f"{self.url}{path} sent more than the {expected_size} bytes the "
                                                   "quote commits to")
                        out.write(piece)
                        got += len(piece)
                        if progress is not None:
                            progress(got, total)
                    out.flush()
                    os.fsync(out.fileno())
        except httpx.HTTPError as err:
            raise HubUnreachable(self.url + path, err) from err
        if total >= 0 and got != total:
            raise HubProtocolError(f"{self.url}{path} ended at byte {got} of {total}: download again to resume")
        return dest


def _steps(pieces: Iterable[bytes], step: int) -> Iterator[bytes]:
    """The bytes of `pieces` as they arrive, in parts of at most `step` (each written and reported
    alone); unlike `iter_bytes(step)`, nothing waits for a whole step to fill."""
    for piece in pieces:
        for at in range(0, len(piece), step):
            yield piece[at:at + step]


def _read_at_most(resp: httpx.Response, limit: int) -> bytes:
    """At most `limit` bytes of a streamed body (an error's JSON): a hub's error is never read whole."""
    out = bytearray()
    for piece in resp.iter_bytes():
        out += piece[:limit - len(out)]
        if len(out) >= limit:
            break
    return bytes(out)


def _total_of(content_range: str) -> int | None:
    m = re.match(r"bytes (?:\*|\d+-\d+)/(\d+)\Z", content_range)
    return int(m[1]) if m else None
