"""A survey across many hubs: ask one question of many one-person hubs at once and combine the answers.

Each hub holds one person's record. `survey(buyer, urls, Question("trip_km"), limit=...)` asks every
hub, in a bounded pool of threads, for the most precise fixed-price release of that column it
offers this buyer within `limit` (the buyer's whole `Buyer.buy`: oracle check, escrow, verified
delivery, complaint, refund), estimates the person's value from each release with `privacy`'s
unbiased estimators, and combines the good answers into one estimate with its confidence interval,
beside how many hubs declined, lapsed (slow, dead after opening, silent) or cheated. A slow or dead
hub costs its own thread at most the buyer's `wait_timeout` and HTTP timeout; the rest go on.

Combination: ``weighting="equal"`` (default) estimates the mean over the people who answered: each
release's estimate is unbiased for its person's value, so their plain mean is unbiased for the
respondents' mean with variance ``sum(var_i) / k**2``, and the normal interval covers it at the stated
rate whatever precisions the hubs offered. ``weighting="inverse-variance"`` is `privacy.combine`
(minimum variance when every answer estimates one shared quantity; with mixed precisions it
weights people unequally, so it estimates their weighted mean).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

from client.buyer import Buyer, Outcome, OracleMismatch, HubMismatch, StillWaiting
from client.errors import ClientError
from client.hub_client import HubError, HubProtocolError, HubUnprocessable, HubUnreachable

__all__ = ["Question", "HubAnswer", "SurveyResult", "STATUSES", "survey", "estimate_of", "combine_answers",
           "SurveyError"]

#: Every way one hub's answer can end.
STATUSES = ("answered", "declined", "lapsed", "cheated", "unreachable", "error")


class SurveyError(ClientError, ValueError):
    """A survey asked wrongly (no hubs, an unknown kind of question, bad weighting)."""


@dataclass(frozen=True)
class Question:
    """What to ask: the mean of a numeric `column`, or the proportion of `category` (True for a
    boolean) in a boolean/categorical one (`kind="proportion"`)."""

    column: str
    kind: str = "mean"
    category: Any = None

    def __post_init__(self) -> None:
        if self.kind not in ("mean", "proportion"):
            raise SurveyError(f"kind ({self.kind!r}) must be 'mean' or 'proportion'")


@dataclass(frozen=True)
class HubAnswer:
    """One hub's part in a survey: its status (one of STATUSES), the estimate from its release, the
    precision and price it sold at, the deal, and a line saying what happened."""

    url: str
    status: str
    value: float | None = None
    variance: float | None = None
    epsilon: str | None = None
    price: int | None = None
    paid: int = 0
    deal_id: int | None = None
    detail: str = ""
    seconds: float = 0.0


@dataclass(frozen=True)
class SurveyResult:
    """The combined estimate (None if no hub answered), its CI at `1 - alpha`, every hub's answer and the counts."""

    value: float | None
    variance: float | None
    ci: tuple[float, float] | None
    alpha: float
    weighting: str
    answers: list[HubAnswer]
    counts: dict[str, int] = field(default_factory=dict)
    paid: int = 0
    seconds: float = 0.0

    @property
    def used(self) -> int:
        """How many answers the estimate combines."""
        return self.counts.get("answered", 0)


def estimate_of(release_bytes: bytes, question: Question) -> tuple[float, float]:
    """(value, variance) of `question` from one release, by `privacy`'s unbiased estimators (dataset target)."""
    from privacy.estimators import estimate_mean, estimate_proportion
    from privacy.release import Release

    release = Release.from_bytes(release_bytes)
    if question.kind == "mean":
        est = estimate_mean(release, question.column)
    else:
        est = estimate_proportion(release, question.column, category=question.category)
    return float(est.value), float(est.variance)


def combine_answers(pairs: Iterable[tuple[float, float]], *, alpha: float = 0.05, weighting: str = "equal"
                    ) -> tuple[float, float, tuple[float, float]]:
    """(value, variance, CI) combining (value, variance) pairs; see the module's note on weighting."""
    from privacy.estimators import Estimate, combine

    pairs = list(pairs)
    if not pairs:
        raise SurveyError("no answers to combine")
    if weighting == "equal":
        k = len(pairs)
        est = Estimate(sum(v for v, _ in pairs) / k, sum(var for _, var in pairs) / (k * k), k)
    elif weighting == "inverse-variance":
        est = combine(Estimate(v, var, 1) for v, var in pairs)
    else:
        raise SurveyError(f"weighting ({weighting!r}) must be 'equal' or 'inverse-variance'")
    return est.value, est.variance, est.ci(alpha)


def _has_column(schema: Any, column: str) -> bool:
    if not isinstance(schema, dict):
        return False
    cols = list(schema.get("columns") or []) + list(schema.get("features") or [])
    if isinstance(schema.get("label"), dict):
        cols.append(schema["label"])
    return any(isinstance(c, dict) and c.get("name") == column for c in cols)


def _precision(epsilon: str) -> Fraction:
    return Fraction(10**9) if epsilon == "exact" else Fraction(epsilon)


def choose_offer(offers: Sequence[dict[str, Any]], datasets: set[str], limit: int) -> dict[str, Any] | None:
    """The most precise fixed-price ETH offer on one of `datasets` whose price is within `limit`
    (ties: the cheaper); None if there is none."""
    best = None
    for o in offers:
        pricing = o.get("pricing", {})
        if o.get("datasetId") not in datasets or pricing.get("method") != "fixed":
            continue
        if "0x" + "0" * 40 not in [str(t).lower() for t in o.get("tokens", [])]:
            continue
        price = int(pricing["price"])
        if price > limit:
            continue
        key = (_precision(o["release"]["epsilon"]), -price)
        if best is None or key > best[0]:
            best = (key, o)
    return None if best is None else best[1]


def _ask(buyer: Buyer, url: str, question: Question, limit: int, release_dir: Path | None) -> HubAnswer:
    t0 = time.monotonic()

    def answer(status: str, **kw: Any) -> HubAnswer:
        return HubAnswer(url, status, seconds=time.monotonic() - t0, **kw)

    try:
        buyer.check_hub(url)
        hub = buyer.hub(url)
        datasets = {d["datasetId"] for d in hub.datasets() if _has_column(d.get("schema"), question.column)}
        offer = choose_offer(hub.offers(buyer.address), datasets, limit)
    except (OracleMismatch, HubMismatch) as err:
        return answer("cheated", detail=str(err))
    except (HubUnreachable, HubError, HubProtocolError) as err:
        return answer("unreachable", detail=str(err))
    if offer is None:
        return answer("declined", detail=f"no fixed-price offer of {question.column!r} within {limit}")
    price = int(offer["pricing"]["price"])
    eps = offer["release"]["epsilon"]
    path = None if release_dir is None else release_dir / f"{hashlib.sha256(url.encode()).hexdigest()[:16]}.safetensors"
    try:
        res = buyer.buy(url, offer["offerId"], max_price=price, limit=price, release_path=path)
    except StillWaiting as err:
        return answer("lapsed", epsilon=eps, price=price, deal_id=err.deal_id, detail=str(err))
    except HubUnprocessable as err:  # the hub will not sell these terms (e.g. its budget is spent): nothing was paid
        return answer("declined", epsilon=eps, price=price, detail=err.detail)
    except (HubUnreachable, HubError, HubProtocolError) as err:
        return answer("unreachable", epsilon=eps, price=price, detail=str(err))
    paid = res.to_seller or 0
    common = {"epsilon": eps, "price": price, "deal_id": res.deal_id, "paid": paid}
    if res.outcome is Outcome.SETTLED:
        if res.mispriced:
            return answer("cheated", detail=f"mispriced: quoted {res.price}, re-priced {res.repriced}", **common)
        value, variance = estimate_of(res.release_path.read_bytes(), question)
        return answer("answered", value=value, variance=variance, detail=f"bought at epsilon {eps}", **common)
    if res.outcome is Outcome.DECLINED:
        return answer("declined", detail=res.reason or "the hub declined", **common)
    if res.outcome in (Outcome.COMPLAINED, Outcome.REJECTED):
        return answer("cheated", detail=res.reason or res.outcome.value, **common)
    return answer("lapsed", detail=res.reason or res.outcome.value if res.outcome else "open", **common)


def survey(buyer: Buyer, urls: Sequence[str], question: Question, *, limit: int, workers: int = 4,
           alpha: float = 0.05, weighting: str = "equal", release_dir: str | Path | None = None,
           on_answer: Callable[[HubAnswer], None] | None = None) -> SurveyResult:
    """Ask `question` of every hub in `urls` through `buyer` (at most `workers` at once), buying each
    answer at the most precise fixed price within `limit`; combine the good ones (see the module)."""
    if not urls:
        raise SurveyError("no hubs to ask: give at least one URL")
    if workers < 1:
        raise SurveyError(f"workers ({workers}) must be at least 1")
    rdir = None if release_dir is None else Path(release_dir)
    if rdir is not None:
        rdir.mkdir(parents=True, exist_ok=True)
    t0 = time.monotonic()
    lock = threading.Lock()
    answers: list[HubAnswer] = []

    def task(url: str) -> HubAnswer:
        try:
            a = _ask(buyer, url, question, limit, rdir)
        except Exception as err:  # noqa: BLE001 - one hub's failure must never stop the survey
            a = HubAnswer(url, "error", detail=f"{type(err).__name__}: {err}")
        with lock:
            answers.append(a)
        if on_answer is not None:
            on_answer(a)
        return a

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="survey") as pool:
        ordered = list(pool.map(task, urls))
    counts = Counter(a.status for a in ordered)
    good = [(a.value, a.variance) for a in ordered if a.status == "answered"]
    value = variance = ci = None
    if good:
        value, variance, ci = combine_answers(good, alpha=alpha, weighting=weighting)
    return SurveyResult(value, variance, ci, alpha, weighting, ordered, {s: counts.get(s, 0) for s in STATUSES},
                        sum(a.paid for a in ordered), time.monotonic() - t0)
