"""The owner's pages under /owner: login and logout, Datasets, Offers (edited in the page, checked
by `oracle.offers.build_offer` like `spartacus offer set`), Deals with earnings and withdraw.

Every page needs the owner's session cookie (a GET without one is sent to the login page with a
303, a POST answers 401); every form carries the session's CSRF token (403 without it). A buyer's
`Authorization: Spartacus` header is never looked at here."""

from __future__ import annotations

import hmac
import json
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from client.chain.errors import ContractRevert
from client.chain.exchange import ETH, EXACT

from oracle.budget import spent_milli
from oracle.context import HubContext
from oracle.offers import OfferDraft, OfferRejected, build_offer, save_offer
from oracle.store import OfferRecord

from . import svg, views
from .security import Session, Sessions, verify_secret

__all__ = ["router", "COOKIE", "LOGIN_COOKIE", "PREFIX", "sessions_of"]

PREFIX = "/owner"
COOKIE = "spartacus_owner"
LOGIN_COOKIE = "spartacus_login"
MAX_FORM_BYTES = 64 * 1024
_HERE = Path(__file__).parent
_env = Environment(loader=FileSystemLoader(_HERE / "templates"), autoescape=select_autoescape(default=True),
                   trim_blocks=True, lstrip_blocks=True)
_env.globals.update(token_name=views.token_name, when=views.when, amount=views.amount, EXACT=EXACT, prefix=PREFIX)
_HEADERS = {
    "Cache-Control": "no-store",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Content-Security-Policy": "default-src 'none'; style-src 'self'; img-src 'self' data:; form-action 'self'; "
                               "frame-ancestors 'none'; base-uri 'none'",
}

router = APIRouter(prefix=PREFIX, tags=["owner's page"], include_in_schema=False)


def sessions_of(request: Request) -> Sessions:
    """The app's owner sessions (made on first use with the context's session length and clock)."""
    state = request.app.state
    if getattr(state, "owner_sessions", None) is None:
        ctx: HubContext = state.hub
        state.owner_sessions = Sessions(ctx.owner_session_seconds, clock=ctx.clock)
        state.owner_flash = {}
    return state.owner_sessions


def _ctx(request: Request) -> HubContext:
    return request.app.state.hub


def _session(request: Request) -> Session | None:
    return sessions_of(request).get(request.cookies.get(COOKIE))


def _page(name: str, status: int = 200, **values: Any) -> HTMLResponse:
    return HTMLResponse(_env.get_template(name).render(**values), status_code=status, headers=_HEADERS)


def _to_login() -> RedirectResponse:
    return RedirectResponse(f"{PREFIX}/login", status_code=303, headers=_HEADERS)


def _unauthorized() -> HTMLResponse:
    return _page("message.html", 401, title="Log in first",
                 message="This form needs the owner's login; your session is missing or expired.", session=None)


async def _form(request: Request) -> dict[str, str]:
    """The urlencoded form body (at most MAX_FORM_BYTES read; a longer body is cut, and its CSRF
    token then no longer checks)."""
    body = bytearray()
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_FORM_BYTES:
            break
    parsed = parse_qs(bytes(body[:MAX_FORM_BYTES]).decode("utf-8", "replace"), keep_blank_values=True)
    return {k: v[-1] for k, v in parsed.items()}


async def _checked_form(request: Request) -> tuple[Session | None, dict[str, str] | None, Response | None]:
    """(session, form, None) for a logged-in POST carrying its CSRF token, else (.., .., the refusal)."""
    session = _session(request)
    if session is None:
        return None, None, _unauthorized()
    ctype = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    form = await _form(request) if ctype == "application/x-www-form-urlencoded" else {}
    if not hmac.compare_digest(form.get("csrf", "").encode(), session.csrf.encode()):
        return session, None, _page("message.html", 403, title="Refused", session=session,
                                    message="The form's CSRF token is missing or wrong: reload the page and "
                                            "send the form again.")
    return session, form, None


def _flash(request: Request, session: Session, message: str | None = None) -> str | None:
    store: dict[str, str] = request.app.state.owner_flash
    if message is not None:
        store[session.token] = message
        return None
    return store.pop(session.token, None)


# ---------------------------------------------------------------- login


@router.get("", include_in_schema=False)
@router.get("/", include_in_schema=False)
def read_home(request: Request) -> Response:
    """The owner's page starts at Datasets."""
    return RedirectResponse(f"{PREFIX}/datasets", status_code=303, headers=_HEADERS)


@router.get("/static/style.css")
def read_style() -> Response:
    """The one stylesheet (served by the hub: no CDN, no external fonts)."""
    return Response((_HERE / "static" / "style.css").read_bytes(), media_type="text/css",
                    headers={"Cache-Control": "max-age=300", "X-Content-Type-Options": "nosniff"})


def _login_page(request: Request, status: int = 200, error: str | None = None) -> HTMLResponse:
    cookie = secrets.token_urlsafe(24)
    locked = _ctx(request).owner_secret_hash is None
    resp = _page("login.html", status, csrf=sessions_of(request).login_csrf(cookie), error=error, locked=locked,
                 session=None)
    resp.set_cookie(LOGIN_COOKIE, cookie, httponly=True, samesite="strict", path=f"{PREFIX}/login", max_age=900)
    return resp


@router.get("/login")
def read_login(request: Request) -> Response:
    """The login form (with a CSRF token bound to a short-lived login cookie)."""
    if _session(request) is not None:
        return RedirectResponse(f"{PREFIX}/datasets", status_code=303, headers=_HEADERS)
    return _login_page(request)


@router.post("/login")
async def create_session(request: Request) -> Response:
    """Check the owner's secret; on success set the session cookie and go to Datasets."""
    sessions = sessions_of(request)
    form = await _form(request)
    if not sessions.check_login_csrf(request.cookies.get(LOGIN_COOKIE), form.get("csrf")):
        return _page("message.html", 403, title="Refused", session=None,
                     message="The login form's CSRF token is missing or wrong: open the login page again.")
    ctx = _ctx(request)
    if ctx.owner_secret_hash is None:
        return _login_page(request, 401, "No owner secret is set: run `spartacus hub init` with "
                                         "SPARTACUS_OWNER_SECRET set (or answer its prompt), then restart the hub.")
    if sessions.throttled():
        return _login_page(request, 429, "Too many wrong secrets in the last minute: wait and try again.")
    if not verify_secret(form.get("secret", ""), ctx.owner_secret_hash):
        sessions.failed()
        return _login_page(request, 401, "Wrong secret.")
    session = sessions.create()
    resp = RedirectResponse(f"{PREFIX}/datasets", status_code=303, headers=_HEADERS)
    resp.set_cookie(COOKIE, session.token, httponly=True, samesite="strict", path=PREFIX,
                    max_age=int(sessions.ttl), secure=request.url.scheme == "https")
    resp.delete_cookie(LOGIN_COOKIE, path=f"{PREFIX}/login")
    return resp


@router.post("/logout")
async def delete_session(request: Request) -> Response:
    """End the session."""
    session, _, refusal = await _checked_form(request)
    if refusal is not None:
        return refusal
    sessions_of(request).end(session.token)
    resp = _to_login()
    resp.delete_cookie(COOKIE, path=PREFIX)
    return resp


# ---------------------------------------------------------------- datasets


@router.get("/datasets")
def read_datasets(request: Request) -> Response:
    """Datasets: schema, rows, budget gauge and plot, and what the budget left still buys."""
    session = _session(request)
    if session is None:
        return _to_login()
    ctx = _ctx(request)
    chain = views.read_chain(ctx)
    datasets = views.dataset_views(ctx, chain)
    now = ctx.clock()
    charts = {d.record.dataset_id: (svg.gauge(d.spent_milli, d.cap_milli) if not d.exact else None,
                                    svg.budget_plot(d.series, d.cap_milli, d.start, now) if not d.exact else None)
              for d in datasets}
    return _page("datasets.html", session=session, datasets=datasets, charts=charts, active="datasets",
                 flash=_flash(request, session))


# ---------------------------------------------------------------- offers


def _offer_fields(o: OfferRecord) -> dict[str, str]:
    mech = o.release.get("mechanism", {})
    bounds = ", ".join(f"{k}={v[0]}:{v[1]}" for k, v in (mech.get("bounds") or {}).items())
    fixed = o.pricing.get("method") == "fixed"
    return {"offer_id": o.offer_id, "dataset": o.dataset_id, "buyer": o.buyer or "",
            "epsilon": str(o.release.get("epsilon")),
            "mechanism": mech.get("name", "ml-laplace-rr") if mech.get("name") != "exact" else "ml-laplace-rr",
            "bounds": bounds, "clamp": "on" if mech.get("clamp") else "", "rule": "fixed" if fixed else "mde",
            "price": o.pricing.get("price", "") if fixed else "", "mde_method": "" if fixed else o.pricing["method"],
            "curve": "" if fixed else json.dumps(o.pricing.get("curve"), sort_keys=True),
            "tokens": ", ".join(views.token_name(t) for t in o.tokens), "quote_fee": str(o.min_quote_fee),
            "private": str(mech.get("private", "")), "alpha": str(mech.get("alpha", "")),
            "variant": str(mech.get("variant", "deterministic"))}


# a sanitized offer is mechanism "sanitizer" with its private column, alpha and variant (OfferDraft)
_BLANK = {"offer_id": "", "dataset": "", "buyer": "", "epsilon": "", "mechanism": "ml-laplace-rr", "bounds": "",
          "clamp": "", "rule": "fixed", "price": "", "mde_method": "feature-newton", "curve": "", "tokens": "",
          "quote_fee": "0", "private": "", "alpha": "", "variant": "deterministic"}


def _offers_page(request: Request, session: Session, status: int = 200, row: str | None = None,
                 values: dict[str, str] | None = None, errors: dict[str, str] | None = None) -> HTMLResponse:
    from pricing import METHODS
    from privacy.mechanisms.sanitizer import VARIANTS
    from privacy.offers import MECHANISMS

    ctx = _ctx(request)
    datasets = ctx.store.list_datasets()
    offers = ctx.store.list_offers()
    rows = []
    for o in offers:
        fields = _offer_fields(o)
        rows.append((o.offer_id, values if row == o.offer_id and values else fields,
                     errors if row == o.offer_id else {}))
    new_values = values if row == "new" and values else {**_BLANK, "dataset": datasets[0].dataset_id if datasets else ""}
    return _page("offers.html", status, session=session, rows=rows, new=(new_values, errors if row == "new" else {}),
                 datasets=datasets, names={d.dataset_id: d.name for d in datasets}, active="offers",
                 mechanisms=[*(m for m in MECHANISMS if m != "exact"), "sanitizer"], methods=sorted(METHODS),
                 variants=VARIANTS,
                 flash=_flash(request, session))


@router.get("/offers")
def read_offers(request: Request) -> Response:
    """Offers: the per-buyer menu as an editable table, and a row to add one."""
    session = _session(request)
    if session is None:
        return _to_login()
    return _offers_page(request, session)


@router.post("/offers")
async def update_offer(request: Request) -> Response:
    """Create or replace an offer; a refusal is shown beside the field at fault (400)."""
    session, form, refusal = await _checked_form(request)
    if refusal is not None:
        return refusal
    ctx = _ctx(request)
    row = form.get("row", "new")
    values = {k: form.get(k, "") for k in _BLANK}
    values["offer_id"] = values["offer_id"].strip()
    ds = ctx.store.get_dataset(values["dataset"]) if values["dataset"].startswith("0x") else None
    if ds is None:
        return _offers_page(request, session, 400, row, values, {"dataset": "choose one of the hub's datasets"})
    fixed = values["rule"] != "mde"
    draft = OfferDraft(
        values["offer_id"], ds, values["epsilon"].strip(), buyer=values["buyer"].strip() or None,
        mechanism=values["mechanism"], bounds=tuple(b.strip() for b in values["bounds"].split(",") if b.strip()),
        clamp=bool(values["clamp"]), price=values["price"].strip() if fixed else None,
        mde_method=None if fixed else values["mde_method"], curve=None if fixed else values["curve"],
        tokens=tuple(ETH if t.strip().upper() == "ETH" else t.strip() for t in values["tokens"].split(",") if t.strip()),
        quote_fee=values["quote_fee"].strip(), private=values["private"].strip() or None,
        alpha=values["alpha"].strip() or None, variant=values["variant"].strip() or "deterministic")
    left = None
    if ds.epsilon_cap_milli != EXACT:
        left = ds.epsilon_cap_milli - spent_milli(ctx.store, ctx.exchange, ctx.seller, ds.dataset_id)
    try:
        offer = build_offer(draft, existing=ctx.store.list_offers(), hub_tokens=ctx.tokens, budget_left_milli=left)
        save_offer(ctx.store, offer, ds)
    except OfferRejected as err:
        return _offers_page(request, session, 400, row, values, {err.field: err.reason})
    _flash(request, session, f"Offer {offer.offer_id} saved for {offer.buyer or 'every buyer'}.")
    return RedirectResponse(f"{PREFIX}/offers", status_code=303, headers=_HEADERS)


@router.post("/offers/{offer_id}/delete")
async def delete_offer(request: Request, offer_id: str) -> Response:
    """Withdraw an offer (terms already accepted under it stay valid)."""
    session, form, refusal = await _checked_form(request)
    if refusal is not None:
        return refusal
    removed = _ctx(request).store.delete_offer(offer_id)
    _flash(request, session, f"Offer {offer_id} removed." if removed else f"No offer {offer_id} to remove.")
    return RedirectResponse(f"{PREFIX}/offers", status_code=303, headers=_HEADERS)


# ---------------------------------------------------------------- deals


@router.get("/deals")
def read_deals(request: Request) -> Response:
    """Deals: phase, buyer, price, epsilon, deadline and decline reason; earnings and withdraw per token."""
    session = _session(request)
    if session is None:
        return _to_login()
    ctx = _ctx(request)
    chain = views.read_chain(ctx)
    return _page("deals.html", session=session, deals=views.deal_rows(ctx), earnings=views.earnings(ctx, chain),
                 active="deals", flash=_flash(request, session))


@router.post("/withdraw")
async def create_withdrawal(request: Request) -> Response:
    """Send the seller's withdraw for one token's credit."""
    session, form, refusal = await _checked_form(request)
    if refusal is not None:
        return refusal
    ctx = _ctx(request)
    token = form.get("token", "")
    known = {e.token.lower(): e for e in views.earnings(ctx, views.read_chain(ctx))}
    earning = known.get(token.lower())
    if earning is None:
        _flash(request, session, f"{token!r} is not a token of this hub.")
    elif earning.credit == 0:
        _flash(request, session, f"No credit to withdraw in {earning.name}.")
    else:
        try:
            ctx.exchange.withdraw(earning.token, sender=ctx.signer or ctx.seller)
            _flash(request, session, f"Withdrew {earning.credit} of {earning.name} to {ctx.seller}.")
        except ContractRevert as err:
            _flash(request, session, f"The withdraw reverted on chain: {err}")
    return RedirectResponse(f"{PREFIX}/deals", status_code=303, headers=_HEADERS)
