"""`spartacus audit` on a chain history with every kind of ending writes a JSON and a self-contained
HTML report with its plots; on a doctored event list it names the broken rule; `audit reprice`
agrees with an honest quote and refuses one beyond priceTolerance."""

from __future__ import annotations

import base64
import io
import json
import re
import warnings
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from client.chain import advance_time
from client.cli import app
from client.delivery import build_complaint
from tests.contracts.conftest import _module_env  # noqa: F401 - the chain fixture
from tests.contracts.conftest import ACCEPT_WINDOW, QUOTE_WINDOW, REVEAL_WINDOW
from tests.contracts.helpers import MAX_PRICE, QUOTE_FEE, open_deal, quote, revealed_deal
from tests.contracts.test_complaints import cheating_encoding, deal_on

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def _history(_module_env):  # noqa: F811 - the module's chain, built once: the tests here only read it
    """Every ending on one chain: settled, declined, rejected, complained, lapsed in each phase, still open."""
    env = _module_env
    ex, who = env.ex, env.who
    settled, *_ = revealed_deal(env, label="settled")
    ex.confirm(settled, sender=who.buyer)
    declined = open_deal(env, label="declined")
    ex.decline(declined, sender=who.oracle)
    rejected = open_deal(env, label="rejected")
    quote(env, rejected, epsilon_milli=700)
    ex.reject(rejected, sender=who.buyer)
    ckey, _cipher, _leaves, commitment = cheating_encoding(3000, 1)
    cheated = deal_on(env, ckey, commitment, label="cheated")
    ex.complain(cheated, build_complaint(io.BytesIO(_cipher), io.BytesIO(_leaves), 1, commitment), sender=who.buyer)
    no_quote = open_deal(env, label="no-quote")
    not_accepted = open_deal(env, label="not-accepted")
    quote(env, not_accepted, epsilon_milli=500)
    no_key = open_deal(env, label="no-key")
    quote(env, no_key, epsilon_milli=300)
    ex.accept(no_key, sender=who.buyer)
    advance_time(env.w3, QUOTE_WINDOW + ACCEPT_WINDOW + REVEAL_WINDOW)
    for d in (no_quote, not_accepted, no_key):
        ex.refund(d, sender=who.stranger)
    live = open_deal(env, label="live")
    return env, {"settled": settled, "declined": declined, "rejected": rejected, "cheated": cheated,
                 "no_quote": no_quote, "not_accepted": not_accepted, "no_key": no_key, "live": live}


@pytest.fixture()
def history(_history, monkeypatch):
    """The history, with the commands' chain connection pointed at its chain."""
    monkeypatch.setattr("client.commands.connect_chain", lambda network: _history[0].w3)
    return _history


def test_audit_writes_json_and_html_with_plots_for_every_ending(history, tmp_path: Path) -> None:
    env, deals = history
    res = CliRunner().invoke(app, ["audit", "--contract", env.ex.address, "--out", str(tmp_path / "a")])
    assert res.exit_code == 0, res.output
    assert "audit ok" in res.output and "matches the chain" in res.output
    data = json.loads((tmp_path / "a" / "audit.json").read_text())
    outcome = {d["deal"]: d["outcome"] for d in data["deals"]}
    assert outcome == {deals["settled"]: "settled", deals["declined"]: "declined",
                       deals["rejected"]: "rejected (fee paid)", deals["cheated"]: "complained (refunded)",
                       deals["no_quote"]: "lapsed: no quote", deals["not_accepted"]: "lapsed: not accepted",
                       deals["no_key"]: "lapsed: no key", deals["live"]: "open"}
    assert data["checkedAgainstChain"] is True and data["verdict"] == "ok"
    # the ledger: settled 1 + rejected 0.7 + cheated 1 + not-accepted 0.5 + no-key 0.3, all quoted
    (ledger,) = data["ledgers"]
    assert ledger["spentMilli"] == env.ex.epsilon_spent(env.who.seller, bytes.fromhex(ledger["dataset"][2:])) == 3500
    assert data["quoteFeesPaid"] == str(QUOTE_FEE)
    assert data["lockedNow"]["ETH"] == str(MAX_PRICE)  # only the live deal
    eps = next(iter(data["series"]["epsilon"].values()))
    assert eps["cap"] == 5.0 and eps["points"][-1][1] == 3.5
    assert [p[1] for p in data["series"]["locked"]["ETH"]][-1] == MAX_PRICE
    assert len(data["series"]["priceEpsilon"]) == 5
    html = (tmp_path / "a" / "audit.html").read_text()
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', html)
    assert len(images) == 4 and all(base64.b64decode(i).startswith(PNG) for i in images)
    assert "http://" not in html and "https://" not in html  # self-contained
    assert "lapsed: no key" in html and env.ex.address in html


@pytest.mark.parametrize("doctor, rule", [
    ("refund_before_deadline", "rule 7"),
    ("settled_price", "rule 7"),
    ("drop_quote", "transition"),
])
def test_audit_names_the_rule_a_doctored_event_list_breaks(history, tmp_path: Path, monkeypatch, doctor, rule) -> None:
    env, deals = history
    real = env.ex.events()

    def doctored(ex, from_block, to_block):
        events = [(n, dict(a), b, i) for n, a, b, i in real]
        if doctor == "refund_before_deadline":  # the lapsed quote's refund moved into the quote window
            j = next(k for k, e in enumerate(events) if e[0] == "Refunded" and e[1]["dealId"] == deals["no_quote"])
            opened = next(e for e in events if e[0] == "DealOpened" and e[1]["dealId"] == deals["no_quote"])
            ev = events.pop(j)
            events.insert(events.index(opened) + 1, (ev[0], ev[1], opened[2], opened[3] + 1))
        elif doctor == "settled_price":
            j = next(k for k, e in enumerate(events) if e[0] == "Settled")
            events[j][1]["price"] += 1
        else:
            events = [e for e in events if not (e[0] == "Quoted" and e[1]["dealId"] == deals["rejected"])]
        return events

    monkeypatch.setattr("client.commands.audit.fetch_events", doctored)
    res = CliRunner().invoke(app, ["audit", "--contract", env.ex.address, "--out", str(tmp_path / "b")])
    assert res.exit_code == 1, res.output
    assert f"audit failed on {rule}" in res.output and "Traceback" not in res.output
    written = json.loads((tmp_path / "b" / "audit.json").read_text())
    assert written["verdict"] == "broken" and written["rule"] == rule


def test_audit_refuses_a_wrong_address_in_one_line(history) -> None:
    env, _ = history
    res = CliRunner().invoke(app, ["audit", "--contract", "0x" + "12" * 20])
    assert res.exit_code == 1 and "there is no contract there" in res.output
    res = CliRunner().invoke(app, ["audit", "--contract", "nope"])
    assert res.exit_code == 1 and "is not an address" in res.output


# ---------------------------------------------------------------- reprice


def _priced_files(tmp_path: Path, tolerance: int) -> tuple[Path, Path, Path, int]:
    from sklearn.neural_network import MLPClassifier

    from client.terms import build_terms
    from pricing import parse_spec, price, write_release
    from pricing.builders import build_spec

    rng = np.random.default_rng(3)
    x = rng.uniform(0, 1, (160, 3))
    y = (x @ np.array([1.0, 0.0, -1.0]) > 0).astype(np.int64)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = MLPClassifier((4,), max_iter=200, random_state=0).fit(x[:80], y[:80])
    spec = build_spec("influence", model, x[:80], y[:80], x[80:120], y[80:120], classes=2,
                      feature_names=["a", "b", "c"], label_name="y", l2=1e-2)
    parsed = parse_spec(spec)
    release = write_release(x[120:], y[120:], parsed.manifest["schema"])
    offer = {"offerId": "o", "datasetId": "0x" + "11" * 32, "release": {"epsilon": "exact", "mechanism": {"name": "exact"}},
             "pricing": {"method": "influence", "curve": {"kind": "linear", "slope": str(10**19)}}}
    terms = build_terms(offer, chain_id=1, contract="0x" + "22" * 20, seller="0x" + "33" * 20, buyer="0x" + "44" * 20,
                        token="0x" + "00" * 20, max_price=10**18, quote_fee=0, price_tolerance=tolerance,
                        spec_hash=parsed.hash)
    honest = price(spec, release, terms.to_document()).price
    paths = tmp_path / "spec.bundle", tmp_path / "release.safetensors", tmp_path / "terms.json"
    for p, b in zip(paths, (spec, release, terms.canonical)):
        p.write_bytes(b)
    return *paths, honest


def test_reprice_agrees_within_tolerance_and_names_a_mispriced_quote(tmp_path: Path) -> None:
    spec, release, terms, honest = _priced_files(tmp_path, tolerance=1000)
    assert honest > 0
    base = ["audit", "reprice", "--spec", str(spec), "--release", str(release), "--terms", str(terms)]
    res = CliRunner().invoke(app, base + ["--price", str(honest - 1000)])
    assert res.exit_code == 0, res.output
    assert "within tolerance" in res.output and f"recomputed {honest}" in res.output
    res = CliRunner().invoke(app, base + ["--price", str(honest + 1001)])
    assert res.exit_code == 1 and "beyond tolerance" in res.output and "difference 1001" in res.output
    res = CliRunner().invoke(app, base)
    assert res.exit_code == 1 and "--price" in res.output


def test_audit_of_a_block_range_reports_only_the_deals_it_touches(history, tmp_path: Path) -> None:
    env, deals = history
    live_block = next(b for n, a, b, _ in env.ex.events() if n == "DealOpened" and a["dealId"] == deals["live"])
    res = CliRunner().invoke(app, ["audit", "--contract", env.ex.address, "--from-block", str(live_block),
                                   "--out", str(tmp_path / "r")])
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "r" / "audit.json").read_text())
    assert [d["deal"] for d in data["deals"]] == [deals["live"]] and data["events"] == 1
    res = CliRunner().invoke(app, ["audit", "--contract", env.ex.address, "--to-block", str(live_block - 1),
                                   "--out", str(tmp_path / "s")])
    assert res.exit_code == 0, res.output
    data = json.loads((tmp_path / "s" / "audit.json").read_text())
    assert deals["live"] not in [d["deal"] for d in data["deals"]] and data["checkedAgainstChain"] is False


def test_reprice_reads_the_quoted_price_of_a_deal_on_chain(history, tmp_path: Path) -> None:
    env, deals = history
    spec, release, terms, honest = _priced_files(tmp_path, tolerance=0)
    quoted = next(a["price"] for n, a, _, _ in env.ex.events() if n == "Quoted" and a["dealId"] == deals["settled"])
    base = ["audit", "reprice", "--spec", str(spec), "--release", str(release), "--terms", str(terms),
            "--contract", env.ex.address]
    res = CliRunner().invoke(app, base + ["--deal", str(deals["settled"])])
    assert res.exit_code == (0 if quoted == honest else 1), res.output
    assert f"quoted {quoted}, recomputed {honest}" in res.output
    res = CliRunner().invoke(app, base + ["--deal", str(deals["declined"])])
    assert res.exit_code == 1 and "has no Quoted event" in res.output


def test_audit_without_out_writes_under_spartacus_audit_dir(history, tmp_path: Path, monkeypatch) -> None:
    """The report's default folder follows $SPARTACUS_AUDIT_DIR, as the buyer's and accounts' folders
    follow theirs (it could only be ~/.spartacus/audit before, or --out every time)."""
    env, _ = history
    monkeypatch.setenv("SPARTACUS_AUDIT_DIR", str(tmp_path / "audits"))
    res = CliRunner().invoke(app, ["audit", "--contract", env.ex.address])
    assert res.exit_code == 0, res.output
    assert (tmp_path / "audits" / env.ex.address / "audit.json").exists()
