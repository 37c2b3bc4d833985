"""`spartacus survey` over one-person hubs on one embedded chain (served by one uvicorn, watchers
stepped in a thread): honest hubs answer, a dead one and a silent one do not stall the rest, and the
printed and written estimate is the combination of exactly the good answers."""

from __future__ import annotations

import json
import threading
from pathlib import Path

import numpy as np
import pytest
from starlette.applications import Starlette
from starlette.routing import Mount
from typer.testing import CliRunner

from client.accounts import AccountStore
from client.cli import app
from client.survey import combine_answers
from tests.client.hubkit import account_of, served, stepping
from tests.client.test_survey import PRICE, _one_person_hub
from tests.oracle.conftest import _cheap_scrypt, _hub_chain, buyer_spec, hub  # noqa: F401 - fixtures
from tests.oracle.hubproc import free_port

KINDS = ["honest"] * 4 + ["silent"]


def test_survey_combines_every_good_answer_and_counts_the_rest(hub, tmp_path: Path, monkeypatch,
                                                               accounts_dir: Path) -> None:
    AccountStore(accounts_dir).import_key("me", account_of(hub, hub.buyer).key, "pw")
    monkeypatch.setenv("SPARTACUS_PASSPHRASE", "pw")
    monkeypatch.setattr("client.commands.connect_chain", lambda network: hub.w3)
    lock = threading.RLock()
    monkeypatch.setattr("client.commands.survey.CHAIN_LOCK", lock)
    rng = np.random.default_rng(11)
    hubs, mounts = [], []
    for i, kind in enumerate(KINDS):
        h, hub_app = _one_person_hub(hub, tmp_path / "hubs", i, kind, float(rng.uniform(0, 50)), "1", lock)
        hubs.append(h)
        mounts.append(Mount(h.path, app=hub_app))
    with served(Starlette(routes=mounts)) as base:
        urls = [base + h.path for h in hubs] + [f"http://127.0.0.1:{free_port()}"]  # the last one is down
        (tmp_path / "hubs.txt").write_text("# one person each\n" + "\n".join(urls) + "\n")
        with stepping(hubs, lock, 0.05):
            res = CliRunner().invoke(app, [
                "survey", "--hubs", str(tmp_path / "hubs.txt"), "--column", "trip_km", "--limit", str(2 * PRICE),
                "--workers", "3", "--alpha", "0.001", "--wait-timeout", "3", "--http-timeout", "3", "--poll", "0.05",
                "--out", str(tmp_path / "out"), "--state-dir", str(tmp_path / "state"), "--account", "me"])
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "out" / "survey.json").read_text())
    assert doc["counts"]["answered"] == 4 and doc["counts"]["lapsed"] == 1 and doc["counts"]["unreachable"] == 1
    good = [(a["value"], a["variance"]) for a in doc["answers"] if a["status"] == "answered"]
    value, _, ci = combine_answers(good, alpha=0.001)
    assert doc["value"] == pytest.approx(value) and doc["ci"] == pytest.approx(list(ci))
    truth = float(np.mean([h.value for h in hubs if h.name == "honest"]))
    assert ci[0] <= truth <= ci[1]
    assert f"from 4 of {len(urls)} hubs" in res.output and "1 lapsed" in res.output and "1 unreachable" in res.output
