"""Server-rendered SVG for the Datasets page: the budget gauge and the plot of epsilon spent by
quote over time against the cap. Plain strings (no JS, no fonts to fetch); every text escaped."""

from __future__ import annotations

import math
from datetime import datetime, timezone

from markupsafe import Markup, escape

__all__ = ["gauge", "budget_plot"]


def gauge(spent_milli: int, cap_milli: int) -> Markup:
    """A half-circle gauge of the share of the cap spent, with the numbers under it."""
    frac = 0.0 if cap_milli <= 0 else min(1.0, max(0.0, spent_milli / cap_milli))
    r, cx, cy = 60, 80, 75
    ang = math.pi * (1 - frac)
    x, y = cx + r * math.cos(ang), cy - r * math.sin(ang)
    colour = "#2e7d32" if frac < 0.6 else "#ef6c00" if frac < 0.9 else "#c62828"
    arc = "" if frac == 0 else (f'<path d="M {cx - r} {cy} A {r} {r} 0 0 1 {x:.2f} {y:.2f}" stroke="{colour}" '
                                'stroke-width="14" fill="none"/>')
    label = escape(f"{spent_milli / 1000:g} of {cap_milli / 1000:g} ε spent")
    return Markup(
        f'<svg class="gauge" viewBox="0 0 160 100" width="200" height="125" role="img" aria-label="{label}">'
        f'<path d="M {cx - r} {cy} A {r} {r} 0 0 1 {cx + r} {cy}" stroke="#ddd" stroke-width="14" fill="none"/>'
        f'{arc}<text x="{cx}" y="{cy - 8}" text-anchor="middle" font-size="18">{frac * 100:.0f}%</text>'
        f'<text x="{cx}" y="{cy + 20}" text-anchor="middle" font-size="11">{label}</text></svg>')


def _fmt_time(t: float) -> str:
    return datetime.fromtimestamp(t, tz=timezone.utc).strftime("%m-%d %H:%M")


def budget_plot(series: list[tuple[float, int, int]], cap_milli: int, start: float, now: float) -> Markup:
    """A step plot of cumulative epsilon spent (one step per quote, labelled by deal) from `start` to
    `now`, with the cap as a dashed line."""
    w, h, left, right, top, bottom = 520, 220, 48, 12, 14, 30
    end = max(now, start + 1, *(t for t, _, _ in series)) if series else max(now, start + 1)
    ymax = max(cap_milli, *(v for _, v, _ in series)) if series else cap_milli
    ymax = max(ymax, 1)

    def px(t: float) -> float:
        return left + (w - left - right) * (t - start) / (end - start)

    def py(v: float) -> float:
        return top + (h - top - bottom) * (1 - v / ymax)

    pts = [(px(start), py(0))]
    prev = 0
    marks = []
    for t, v, deal in series:
        pts += [(px(t), py(prev)), (px(t), py(v))]
        marks.append(f'<circle cx="{px(t):.1f}" cy="{py(v):.1f}" r="3" fill="#1565c0">'
                     f'<title>deal {int(deal)}: {v / 1000:g} ε spent</title></circle>')
        prev = v
    pts.append((px(end), py(prev)))
    path = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
    ticks = "".join(
        f'<line x1="{left - 4}" x2="{left}" y1="{py(v):.1f}" y2="{py(v):.1f}" stroke="#555"/>'
        f'<text x="{left - 6}" y="{py(v) + 4:.1f}" text-anchor="end" font-size="10">{v / 1000:g}</text>'
        for v in (0, ymax / 2, ymax))
    xlab = (f'<text x="{left}" y="{h - 10}" font-size="10">{escape(_fmt_time(start))}</text>'
            f'<text x="{w - right}" y="{h - 10}" font-size="10" text-anchor="end">{escape(_fmt_time(end))} UTC</text>')
    return Markup(
        f'<svg class="plot" viewBox="0 0 {w} {h}" width="{w}" height="{h}" role="img" '
        f'aria-label="epsilon spent by quote over time against the cap">'
        f'<rect x="{left}" y="{top}" width="{w - left - right}" height="{h - top - bottom}" fill="#fafafa" '
        f'stroke="#bbb"/>{ticks}{xlab}'
        f'<line x1="{left}" x2="{w - right}" y1="{py(cap_milli):.1f}" y2="{py(cap_milli):.1f}" stroke="#c62828" '
        f'stroke-dasharray="6 4"/><text x="{w - right - 4}" y="{py(cap_milli) - 4:.1f}" text-anchor="end" '
        f'font-size="10" fill="#c62828">cap {cap_milli / 1000:g} ε</text>'
        f'<polyline points="{path}" fill="none" stroke="#1565c0" stroke-width="2"/>{"".join(marks)}'
        f'<text x="{left + 4}" y="{top + 12}" font-size="10">ε spent</text></svg>')
