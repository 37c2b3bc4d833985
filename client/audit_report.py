"""The auditor's report from a replay (client/audit.py): the data (JSON-able), its plots (PNG via
matplotlib's Agg backend) and one self-contained HTML page with the plots inline as base64.

Nothing here reads a chain: `build_report` takes the replay, the events and their blocks' times,
so the same events always give the same report."""

from __future__ import annotations

import base64
import html
import io
import json
from collections import Counter, defaultdict
from typing import Any, Iterable, Mapping

from client.audit import AuditReport
from client.chain.exchange import ETH, EXACT
from client.constants import epsilon_text, token_text

__all__ = ["OUTCOMES", "build_report", "deal_outcomes", "render_html", "render_plots", "report_json"]

Event = tuple[str, dict[str, Any], int, int]

# every way a deal can end (or stand), as the report names it
OUTCOMES = ("settled", "declined", "rejected (fee paid)", "complained (refunded)", "lapsed: no quote",
            "lapsed: not accepted", "lapsed: no key", "open", "quoted", "accepted", "revealed")
_LAPSED = {"open": "lapsed: no quote", "quoted": "lapsed: not accepted", "accepted": "lapsed: no key"}
_AFTER = {"Declined": "declined", "Rejected": "rejected (fee paid)", "Complained": "complained (refunded)"}
_PHASE = {"DealOpened": "open", "Quoted": "quoted", "Accepted": "accepted", "KeyRevealed": "revealed"}


def deal_outcomes(events: Iterable[Event]) -> dict[int, str]:
    """Each deal's outcome (one of OUTCOMES) from its events alone."""
    phase: dict[int, str] = {}
    ending: dict[int, str | None] = {}
    out: dict[int, str] = {}
    for name, args, _block, _index in events:
        deal = args.get("dealId")
        if deal is None:
            continue
        if name in _PHASE:
            phase[deal], out[deal] = _PHASE[name], _PHASE[name]
        elif name in _AFTER:
            ending[deal] = _AFTER[name]
        elif name == "Settled":
            out[deal] = "settled"
        elif name == "Refunded":
            out[deal] = ending.get(deal) or _LAPSED.get(phase.get(deal, "open"), "lapsed: no quote")
    return out


def build_report(report: AuditReport, events: list[Event], timestamps: Mapping[int, int], *,
                 contract: str, chain_id: int, from_block: int, to_block: int,
                 checked_against_chain: bool, only_deals: set[int] | None = None) -> dict[str, Any]:
    """The report's data: every deal with its outcome (or only those in `only_deals`: the deals a block
    range touches), the series the plots draw (the whole history up to the range's end), and totals."""
    outcomes = deal_outcomes(events)
    spent: dict[tuple[str, bytes], int] = defaultdict(int)
    caps: dict[tuple[str, bytes], int] = {}
    eps_series: dict[str, list[tuple[int, float]]] = defaultdict(list)
    cap_of: dict[str, float | None] = {}
    locked: dict[str, int] = defaultdict(int)
    locked_series: dict[str, list[tuple[int, int]]] = defaultdict(list)
    deals_max = {d.deal_id: d.max_price for d in report.deals.values()}
    deal_of = {d.deal_id: d for d in report.deals.values()}
    for name, args, block, _index in events:
        t = int(timestamps.get(block, block))
        if name == "DatasetRegistered":
            key = (args["seller"], args["datasetId"])
            caps[key] = args["epsilonCapMilli"]
            label = f"{args['datasetId'].hex()[:10]}… of {args['seller'][:8]}…"
            cap_of[label] = None if caps[key] == EXACT else caps[key] / 1000
            eps_series[label].append((t, spent[key] / 1000 if spent[key] != EXACT else 0.0))
        elif name == "Quoted":
            d = deal_of[args["dealId"]]
            key = (d.seller, d.dataset_id)
            e = args["epsilonMilli"]
            spent[key] = EXACT if e == EXACT or spent[key] == EXACT else min(spent[key] + e, EXACT - 1)
            label = f"{d.dataset_id.hex()[:10]}… of {d.seller[:8]}…"
            if spent[key] != EXACT:
                eps_series[label].append((t, spent[key] / 1000))
        elif name == "DealOpened":
            locked[args["token"]] += args["maxPrice"]
            locked_series[token_text(args["token"])].append((t, locked[args["token"]]))
        elif name in ("Settled", "Refunded"):
            token = deal_of[args["dealId"]].token
            locked[token] -= deals_max[args["dealId"]]
            locked_series[token_text(token)].append((t, locked[token]))
    t_end = max((int(timestamps.get(e[2], e[2])) for e in events), default=0)
    for series in (*eps_series.values(), *locked_series.values()):
        if series and series[-1][0] < t_end:  # each line carries its last value on to the history's end
            series.append((t_end, series[-1][1]))
    deals = []
    for d in sorted(report.deals.values(), key=lambda d: d.deal_id):
        if only_deals is not None and d.deal_id not in only_deals:
            continue
        deals.append({
            "deal": d.deal_id, "buyer": d.buyer, "seller": d.seller, "dataset": "0x" + d.dataset_id.hex(),
            "token": token_text(d.token), "maxPrice": str(d.max_price), "quoteFee": str(d.quote_fee),
            "price": None if d.price is None else str(d.price), "epsilon": epsilon_text(d.epsilon_milli),
            "epsilonMilli": d.epsilon_milli, "state": d.state.name, "outcome": outcomes.get(d.deal_id, "open"),
            "complaintIndex": d.complaint_index,
        })
    ledgers = [{"seller": s, "dataset": "0x" + ds.hex(), "capMilli": cap, "spentMilli": report.spent.get((s, ds), 0),
                "cap": "exact" if cap == EXACT else f"{cap / 1000:g}",
                "spent": epsilon_text(report.spent.get((s, ds), 0)) or "0"}
               for (s, ds), cap in sorted(report.caps.items(), key=lambda kv: (kv[0][0], kv[0][1]))]
    fees = sum(int(d["quoteFee"]) for d in deals if d["outcome"] == "rejected (fee paid)")
    return {
        "contract": contract, "chainId": chain_id, "fromBlock": from_block, "toBlock": to_block,
        "events": sum(1 for e in events if e[2] >= from_block), "checkedAgainstChain": checked_against_chain, "verdict": "ok",
        "windows": report.windows._asdict() if report.windows is not None else None,
        "outcomes": dict(Counter(d["outcome"] for d in deals)), "deals": deals, "ledgers": ledgers,
        "lockedNow": {token_text(t): str(v) for t, v in report.locked.items()},
        "credits": [{"account": a, "token": token_text(t), "amount": str(v)}
                    for (a, t), v in sorted(report.credits.items()) if v],
        "quoteFeesPaid": str(fees),
        "series": {
            "epsilon": {k: {"points": v, "cap": cap_of.get(k)} for k, v in eps_series.items()},
            "priceEpsilon": [{"deal": d["deal"], "epsilon": d["epsilon"], "price": int(d["price"]),
                              "outcome": d["outcome"]} for d in deals if d["price"] is not None],
            "locked": dict(locked_series),
        },
    }


def report_json(data: Mapping[str, Any]) -> str:
    """The report as indented JSON (amounts in the tables are decimal strings; the plot series keep numbers)."""
    return json.dumps(data, indent=2, sort_keys=False)


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    return buf.getvalue()


def _axes() -> tuple[Any, Any]:
    """A figure and its axes without pyplot: no global state, no GUI backend, safe in any thread."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(7, 3.5))
    return fig, fig.subplots()


def render_plots(data: Mapping[str, Any]) -> dict[str, bytes]:
    """Four PNGs: ε spent per dataset over time against its cap, price against ε, deal outcomes,
    money locked over time (matplotlib's object API: no pyplot, so no backend is chosen for the caller)."""
    series = data["series"]
    plots: dict[str, bytes] = {}

    fig, ax = _axes()
    for i, (label, s) in enumerate(sorted(series["epsilon"].items())):
        pts = s["points"]
        if pts:
            t0 = pts[0][0]
            xs, ys = [(p[0] - t0) / 3600 for p in pts], [p[1] for p in pts]
            line = ax.step(xs, ys, where="post", label=f"{label} spent")[0]
            if s["cap"] is not None:
                ax.axhline(s["cap"], color=line.get_color(), linestyle="--", linewidth=1, label=f"{label} cap")
    ax.set_xlabel("hours since the dataset's registration")
    ax.set_ylabel("ε spent")
    ax.set_title("ε spent per dataset against its cap")
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7)
    plots["epsilon"] = _png(fig)

    fig, ax = _axes()
    pe = series["priceEpsilon"]
    numeric = [p for p in pe if p["epsilon"] != "exact"]
    exact = [p for p in pe if p["epsilon"] == "exact"]
    top = max([float(p["epsilon"]) for p in numeric] or [1.0]) * 1.15 or 1.0
    if numeric:
        ax.scatter([float(p["epsilon"]) for p in numeric], [p["price"] for p in numeric], label="ε release")
    if exact:
        ax.scatter([top] * len(exact), [p["price"] for p in exact], marker="*", s=120, label=f"exact (drawn at {top:g})")
    ax.set_xlabel("ε of the release")
    ax.set_ylabel("quoted price (smallest unit)")
    ax.set_title("price against ε")
    if pe:
        ax.legend(fontsize=7)
    plots["price_epsilon"] = _png(fig)

    fig, ax = _axes()
    counts = data["outcomes"]
    names = [o for o in OUTCOMES if counts.get(o)]
    ax.barh(names, [counts[o] for o in names])
    ax.set_xlabel("deals")
    ax.set_title("deal outcomes")
    plots["outcomes"] = _png(fig)

    fig, ax = _axes()
    all_t = [p[0] for pts in series["locked"].values() for p in pts]
    t0 = min(all_t) if all_t else 0
    for token, pts in sorted(series["locked"].items()):
        ax.step([(p[0] - t0) / 3600 for p in pts], [p[1] for p in pts], where="post", label=token)
    ax.set_xlabel("hours since the first deal")
    ax.set_ylabel("locked in escrow (smallest unit)")
    ax.set_title("money locked over time")
    if series["locked"]:
        ax.legend(fontsize=7)
    plots["locked"] = _png(fig)
    return plots


def _table(rows: list[Mapping[str, Any]], cols: list[str]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in cols)
    body = "".join("<tr>" + "".join(f"<td>{html.escape('' if r.get(c) is None else str(r.get(c)))}</td>"
                                    for c in cols) + "</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(data: Mapping[str, Any], plots: Mapping[str, bytes]) -> str:
    """One self-contained page: summary, deals, ledgers, credits, the plots inline (base64 PNG)."""
    e = html.escape
    imgs = "".join(f'<figure><img alt="{e(name)}" src="data:image/png;base64,{base64.b64encode(png).decode()}">'
                   f"<figcaption>{e(name.replace('_', ' '))}</figcaption></figure>" for name, png in plots.items())
    summary = (f"<p>Contract <code>{e(data['contract'])}</code> on chain {data['chainId']}, blocks "
               f"{data['fromBlock']}–{data['toBlock']}: {data['events']} events, {len(data['deals'])} deals. "
               f"Verdict: <b>{e(data['verdict'])}</b>"
               f"{' (and the contract’s views agree)' if data['checkedAgainstChain'] else ''}. "
               f"Quote fees paid on rejected quotes: {e(data['quoteFeesPaid'])}.</p>")
    outcomes = _table([{"outcome": k, "deals": v} for k, v in data["outcomes"].items()], ["outcome", "deals"])
    deals = _table(data["deals"], ["deal", "outcome", "state", "buyer", "dataset", "token", "maxPrice", "quoteFee",
                                   "price", "epsilon", "complaintIndex"])
    ledgers = _table(data["ledgers"], ["seller", "dataset", "cap", "spent"])
    credits = _table(data["credits"], ["account", "token", "amount"])
    style = ("body{font-family:sans-serif;margin:2em;max-width:1100px}table{border-collapse:collapse;margin:1em 0;"
             "font-size:12px}td,th{border:1px solid #ccc;padding:3px 6px}figure{display:inline-block;margin:.5em}")
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>Spartacus audit of {e(data['contract'])}"
            f"</title><style>{style}</style></head><body><h1>Spartacus audit</h1>{summary}<h2>Outcomes</h2>"
            f"{outcomes}<h2>Plots</h2>{imgs}<h2>Deals</h2>{deals}<h2>Privacy ledgers</h2>{ledgers}"
            f"<h2>Credits (withdrawable)</h2>{credits}</body></html>")
