"""`spartacus browse` against a real hub over HTTP: its datasets and the offers it makes to a buyer
(the buyer's own ones only when the buyer is named), as tables or as the API's JSON; an unknown
alias or a hub that does not answer is one line."""

from __future__ import annotations

import json

from hypothesis import given, strategies as st
from typer.testing import CliRunner

from client.accounts import AccountStore
from client.cli import app
from client.commands.browse import _label, _names
from tests.client.hubkit import account_of, live_hub
from tests.oracle.conftest import _cheap_scrypt, _hub_chain, buyer_spec, hub  # noqa: F401 - fixtures
from tests.oracle.hubproc import free_port


def _run(*args: str):
    return CliRunner().invoke(app, ["browse", *args], env={"COLUMNS": "250"})


def test_browse_lists_the_datasets_and_the_offers_made_to_the_buyer(hub, accounts_dir) -> None:
    AccountStore(accounts_dir).import_key("me", account_of(hub, hub.buyer).key, "pw")
    with live_hub(hub) as live:
        everyone = _run("--hub", live.url)
        mine = _run("--hub", live.url, "--account", "me")
        as_json = _run("--hub", live.url, "--buyer", hub.buyer, "--json")
        unknown = _run("--hub", live.url, "--account", "nobody")
    assert everyone.exit_code == mine.exit_code == as_json.exit_code == 0, everyone.output
    for name in ("census", "census-exact"):
        assert name in everyone.output
    assert "x0, x1, x2" in everyone.output and "y: 0, 1" in everyone.output  # columns and label classes
    # the fixture's exact offers are made to the buyer alone: listed only when the buyer is named
    assert "fixed-dp" in everyone.output and "mde-exact" not in everyone.output
    assert "mde-exact" in mine.output and f"offers to {hub.buyer}" in mine.output
    assert "MDE group-influence (linear: slope" in mine.output and "ml-laplace-rr" in mine.output
    doc = json.loads(as_json.output)
    assert {o["offerId"] for o in doc["offers"]} == set(hub.offers)
    assert doc["info"]["seller"] == hub.seller and {d["name"] for d in doc["datasets"]} == {"census", "census-exact"}
    assert unknown.exit_code == 1 and "no account 'nobody'" in unknown.output and "Traceback" not in unknown.output


def test_a_hub_that_does_not_answer_is_one_line() -> None:
    res = _run("--hub", f"http://127.0.0.1:{free_port()}")
    assert res.exit_code == 1 and "did not answer" in res.output and "Traceback" not in res.output


JSON = st.recursive(st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
                    lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=8), kids, max_size=4),
                    max_leaves=12)


@given(JSON)
def test_any_schema_a_hub_sends_is_shown_not_raised(schema) -> None:
    """protocol.md pins no schema layout: another hub's features as bare strings or a label as a word
    crashed browse with AttributeError; every JSON value now shows as text."""
    for part in (schema, {"features": schema, "label": schema}):
        assert isinstance(_names(part), str) and isinstance(_label(part), str)


def test_bare_string_columns_and_a_label_word_read_as_names() -> None:
    assert _names(["x1", "x2"]) == "x1, x2" and _names([{"name": "a"}]) == "a" and _names(None) == "—"
    assert _label("y") == "y" and _label({"name": "y", "kind": "categorical", "classes": 2}) == "y: 0, 1"
    assert _label({"name": "y", "kind": "categorical", "classes": [0, 1]}) == "y: 0, 1"


def test_an_offer_the_budget_left_cannot_pay_for_is_marked_not_sellable() -> None:
    from client.commands.browse import _affordable

    d = {"epsilonCapMilli": 5000, "epsilonSpentMilli": 4500}
    assert _affordable(d, "0.5") and not _affordable(d, "1") and not _affordable(d, "exact")
    assert _affordable({"epsilonCapMilli": 2**32 - 1, "epsilonSpentMilli": 2**32 - 1}, "exact")
    assert _affordable(d, "not-a-number")  # the hub's terms check names that, not browse
