"""The owner's commands with typer's CliRunner on the embedded chain (connect_chain monkeypatched
to the test's chain), and the `spartacus.commands` entry-point loader of client/cli.py."""

from __future__ import annotations

import json
from importlib.metadata import EntryPoint

import pytest
import typer
from eth_account import Account
from typer.testing import CliRunner

from client.chain import Exchange, connect
from client.chain.exchange import EXACT
from oracle import cli
from oracle.store import Store

runner = CliRunner()
SELLER_KEY = (2).to_bytes(32, "big")  # eth-tester's funded account 1


@pytest.fixture(scope="module")
def chain():
    w3 = connect("embedded")
    return w3, Exchange.deploy(w3, sender=w3.eth.accounts[0])


@pytest.fixture()
def env(chain, tmp_path, monkeypatch):
    w3, ex = chain
    snap = w3.provider.ethereum_tester.take_snapshot()
    monkeypatch.setattr(cli, "connect_chain", lambda settings: w3)
    for k in ("SPARTACUS_CONTRACT", "SPARTACUS_TOKENS", "SPARTACUS_CONFIRMATIONS"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("SPARTACUS_CONFIG_DIR", str(tmp_path / "cfg"))
    monkeypatch.setenv("SPARTACUS_PASSPHRASE", "owner passphrase 1")
    monkeypatch.setenv(cli.IMPORT_KEY_ENV, SELLER_KEY.hex())
    yield w3, ex, tmp_path
    w3.provider.ethereum_tester.revert_to_snapshot(snap)


class Ran:
    """A CliRunner result with rich's line wrapping undone (`output` on one line)."""

    def __init__(self, result) -> None:
        self.exit_code = result.exit_code
        self.output = " ".join(result.output.split())


def run(*args: str) -> Ran:
    return Ran(runner.invoke(cli.owner_app, list(args), catch_exceptions=False))


def _csv(tmp_path, rows=50):
    lines = ["x0,x1,y"] + [f"{(i % 10) / 10},{(i % 7) / 7},{'yes' if i % 3 else 'no'}" for i in range(rows)]
    (tmp_path / "d.csv").write_text("\n".join(lines) + "\n")
    (tmp_path / "s.json").write_text(json.dumps({
        "features": [{"name": "x0", "kind": "float", "bounds": [0, 1]}, {"name": "x1", "kind": "float", "bounds": [0, 1]}],
        "label": {"name": "y", "kind": "categorical", "categories": ["no", "yes"]}}))


def test_owner_sets_up_a_hub_adds_a_dataset_and_arbitrage_free_offers(env) -> None:
    w3, ex, tmp = env
    seller = Account.from_key(SELLER_KEY).address
    r = run("hub", "init", "--contract", ex.address)
    assert r.exit_code == 0, r.output
    assert "registered" in r.output and SELLER_KEY.hex() not in (tmp / "cfg" / "keystore.json").read_text()
    assert ex.contract.functions.oracleOf(seller).call() == seller if hasattr(ex.contract.functions, "oracleOf") \
        else [e for e in ex.events() if e[0] == "SellerRegistered"][0][1]["oracle"] == seller
    _csv(tmp)
    r = run("dataset", "add", "census", "--data", str(tmp / "d.csv"), "--schema", str(tmp / "s.json"), "--cap", "5")
    assert r.exit_code == 0, r.output
    store = Store(tmp / "cfg" / "data" / "hub.sqlite")
    (ds,) = store.list_datasets()
    assert (ds.name, ds.rows, ds.epsilon_cap_milli) == ("census", 50, 5000)
    (reg,) = [a for n, a, _, _ in ex.events() if n == "DatasetRegistered"]
    assert "0x" + reg["datasetId"].hex() == ds.dataset_id and reg["epsilonCapMilli"] == 5000
    assert run("offer", "set", "e1", "--dataset", "census", "--epsilon", "1", "--price", "100",
               "--quote-fee", "5").exit_code == 0
    assert run("offer", "set", "e2", "--dataset", "census", "--epsilon", "2", "--price", "150").exit_code == 0
    bad = run("offer", "set", "e3", "--dataset", "census", "--epsilon", "3", "--price", "120")
    assert bad.exit_code == 1 and "arbitrage" in bad.output and store.get_offer("e3") is None
    sub = run("offer", "set", "e4", "--dataset", "census", "--epsilon", "4", "--price", "900")
    assert sub.exit_code == 1 and "subadditive" in sub.output  # four epsilon-2 releases cost 600
    buyer = w3.eth.accounts[3]
    r = run("offer", "set", "mine", "--dataset", "census", "--buyer", buyer, "--epsilon", "0.5", "--mde-method",
            "group-influence", "--curve", '{"kind": "linear", "slope": "1000"}', "--bound", "x1=0:2")
    assert r.exit_code == 0, r.output
    assert store.get_offer("mine").release["mechanism"]["bounds"] == {"x1": ["0", "2"]}
    assert {o.offer_id for o in store.offers_for(buyer)} == {"e1", "e2", "mine"}
    assert {o.offer_id for o in store.offers_for(w3.eth.accounts[4])} == {"e1", "e2"}
    assert store.get_offer("e1").release["epsilon"] == "1" and store.get_offer("e1").min_quote_fee == 5
    listing = run("offer", "list", "--buyer", buyer)
    assert "mine" in listing.output and "e2" in listing.output
    status = run("hub", "status")
    assert status.exit_code == 0 and "census" in status.output and "credit to withdraw in ETH: 0" in status.output
    nothing = run("hub", "withdraw")
    assert nothing.exit_code == 1 and "no credit" in nothing.output
    old = run("withdraw")  # the old name stays for `python -m oracle withdraw`
    assert old.exit_code == 1 and "no credit" in old.output


@pytest.mark.parametrize("args,msg", [
    (["--epsilon", "0"], "positive decimal"), (["--epsilon", "1e3"], "positive decimal"),
    (["--epsilon", "exact"], "EXACT cap"), (["--epsilon", "1", "--price", "x"], "whole number"),
    (["--epsilon", "1", "--token", "0x" + "ab" * 20], "not on the hub's list"),
    (["--epsilon", "1", "--mde-method", "nope", "--curve", "{}"], "must be one of"),
    (["--epsilon", "1", "--mde-method", "influence", "--curve", '{"kind": "linear", "slope": -1}'], "valid linear"),
    (["--epsilon", "1", "--bound", "age=0:1"], "does not have"),
])
def test_bad_offers_are_refused_naming_the_problem(env, args, msg) -> None:
    w3, ex, tmp = env
    assert run("hub", "init", "--contract", ex.address).exit_code == 0
    _csv(tmp)
    assert run("dataset", "add", "census", "--data", str(tmp / "d.csv"), "--schema", str(tmp / "s.json"),
               "--cap", "5").exit_code == 0
    full = ["offer", "set", "o", "--dataset", "census", *args]
    if "--price" not in args and "--mde-method" not in args:
        full += ["--price", "10"]
    r = run(*full)
    assert r.exit_code == 1 and msg in r.output


def test_out_of_bounds_csv_is_refused_without_quoting_the_value(env) -> None:
    w3, ex, tmp = env
    assert run("hub", "init", "--contract", ex.address).exit_code == 0
    _csv(tmp)
    text = (tmp / "d.csv").read_text().replace("\n0.3,", "\n7.654321,", 1)
    (tmp / "d.csv").write_text(text)
    r = run("dataset", "add", "census", "--data", str(tmp / "d.csv"), "--schema", str(tmp / "s.json"), "--cap", "exact")
    assert r.exit_code == 1 and "x0" in r.output and "7.65" not in r.output


def test_init_without_passphrase_is_refused(env, monkeypatch) -> None:
    monkeypatch.delenv("SPARTACUS_PASSPHRASE")
    r = run("hub", "init", "--no-register")
    assert r.exit_code == 1 and "SPARTACUS_PASSPHRASE" in r.output


def test_exact_cap_dataset_takes_exact_offers(env) -> None:
    w3, ex, tmp = env
    assert run("hub", "init", "--contract", ex.address).exit_code == 0
    _csv(tmp)
    assert run("dataset", "add", "open", "--data", str(tmp / "d.csv"), "--schema", str(tmp / "s.json"),
               "--cap", "exact").exit_code == 0
    assert run("offer", "set", "x", "--dataset", "open", "--epsilon", "exact", "--price", "7").exit_code == 0
    store = Store(tmp / "cfg" / "data" / "hub.sqlite")
    assert store.list_datasets()[0].epsilon_cap_milli == EXACT
    assert store.get_offer("x").release == {"epsilon": "exact", "mechanism": {"name": "exact"}}


@pytest.mark.parametrize("method", ["influence"])
def test_offer_set_refuses_a_method_that_misprices_dp_releases_and_names_the_fix(env, method) -> None:
    w3, ex, tmp = env
    assert run("hub", "init", "--contract", ex.address).exit_code == 0
    _csv(tmp)
    for name, cap in (("census", "5"), ("open", "exact")):
        assert run("dataset", "add", name, "--data", str(tmp / "d.csv"), "--schema", str(tmp / "s.json"),
                   "--cap", cap).exit_code == 0
    curve = ["--curve", '{"kind": "linear", "slope": "1000"}']
    store = Store(tmp / "cfg" / "data" / "hub.sqlite")
    refused = run("offer", "set", "dp", "--dataset", "census", "--epsilon", "1", "--mde-method", method, *curve)
    assert refused.exit_code == 1 and store.get_offer("dp") is None
    assert f"pricing method '{method}' does not fit this release (ml-laplace-rr)" in refused.output, refused.output
    assert ("use feature-newton or group-influence or network-newton (its spec setting hyper.support > 0) or "
            "network-retrain for DP releases, or a fixed price") in " ".join(refused.output.split())
    assert f"{method} misprices ml-laplace-rr releases" in refused.output  # the measured reason
    table = run("offer", "set", "dp", "--dataset", "census", "--epsilon", "1", "--mechanism", "table",
                "--mde-method", method, *curve)
    said = " ".join(table.output.split())
    assert table.exit_code == 1 and "does not fit this release (table): use a fixed price" in said
    assert "holds a table's noisy columns, not features and a label, so no MDE method prices it" in said
    # the same method on an exact release, a fixed price on the DP one, and a fitting method are kept
    assert run("offer", "set", "ex", "--dataset", "open", "--epsilon", "exact", "--mde-method", method,
               *curve).exit_code == 0
    assert run("offer", "set", "dp", "--dataset", "census", "--epsilon", "1", "--price", "10").exit_code == 0
    assert run("offer", "set", "dp2", "--dataset", "census", "--epsilon", "2", "--mde-method", "feature-newton",
               *curve).exit_code == 0
    # network-newton fits a DP release when the buyer's spec filters by support: the offer is kept
    assert run("offer", "set", "dp3", "--dataset", "census", "--epsilon", "1", "--mde-method", "network-newton",
               *curve).exit_code == 0
    assert store.get_offer("ex").pricing["method"] == method and store.get_offer("dp").pricing["method"] == "fixed"


def test_dataset_add_reads_safetensors(env) -> None:
    import numpy as np

    from oracle.rawdata import decode_raw, encode_raw
    from privacy import Schema

    w3, ex, tmp = env
    assert run("hub", "init", "--contract", ex.address).exit_code == 0
    _csv(tmp)
    schema = Schema.from_json(json.loads((tmp / "s.json").read_text()))
    data = {"features": np.linspace(0, 1, 40).reshape(20, 2), "label": np.arange(20) % 2}
    (tmp / "d.safetensors").write_bytes(encode_raw(data, schema))
    r = run("dataset", "add", "tensors", "--data", str(tmp / "d.safetensors"), "--schema", str(tmp / "s.json"),
            "--cap", "2.5")
    assert r.exit_code == 0, r.output
    store = Store(tmp / "cfg" / "data" / "hub.sqlite")
    (ds,) = store.list_datasets()
    assert (ds.rows, ds.epsilon_cap_milli) == (20, 2500)
    back = decode_raw(store.raw_data(ds.dataset_id), schema)
    assert np.array_equal(back["features"], data["features"]) and np.array_equal(back["label"], data["label"])


def test_spartacus_loads_owner_commands_from_entry_points() -> None:
    from client.cli import COMMAND_GROUP, load_commands

    eps = [EntryPoint(name="hub", value="oracle.cli:hub_app", group=COMMAND_GROUP),
           EntryPoint(name="offer", value="oracle.cli:offer_app", group=COMMAND_GROUP),
           EntryPoint(name="broken", value="oracle.nowhere:app", group=COMMAND_GROUP)]
    app = typer.Typer()

    @app.command()
    def audit() -> None:  # a built-in command, as in client/cli.py
        """stand-in"""

    assert load_commands(app, eps) == ["hub", "offer"]
    out = runner.invoke(app, ["hub", "--help"])
    assert out.exit_code == 0 and "serve" in out.output and "init" in out.output and "withdraw" in out.output
    assert runner.invoke(app, ["offer", "--help"]).exit_code == 0


def test_spartacus_hub_withdraw_is_the_owners_and_spartacus_withdraw_the_buyers() -> None:
    """The owner's withdraw lives under `hub` (a top-level `withdraw` plugin would be hidden by the
    buyer's built-in): through the real `spartacus` app each name reaches its own command."""
    from client.cli import app as spartacus
    from typer.main import get_command

    root = get_command(spartacus)
    assert root.commands["hub"].commands["withdraw"].help.startswith("Pull the credit the contract holds for "
                                                                      "this hub's key")
    assert root.commands["withdraw"].help.startswith("Pull this account's whole credit")
    owner = runner.invoke(spartacus, ["hub", "withdraw", "--help"])
    assert owner.exit_code == 0 and "this hub's key" in " ".join(owner.output.split())
    assert "--account" not in owner.output and "--config-dir" in owner.output  # the hub's key, from its keystore
    buyer = runner.invoke(spartacus, ["withdraw", "--help"])
    assert buyer.exit_code == 0 and "--account" in buyer.output and "this hub's key" not in buyer.output


def test_no_owner_entry_point_is_named_like_a_builtin_command() -> None:
    """pyproject's `spartacus.commands` table (what a fresh install registers): a name a built-in
    already has would be left out at start-up, so the owner could never reach it."""
    import tomllib
    from pathlib import Path

    from client.cli import COMMAND_GROUP, _builtin_names, app as spartacus

    table = tomllib.loads(Path("pyproject.toml").read_text())["project"]["entry-points"][COMMAND_GROUP]
    assert set(table) == {"hub", "dataset", "offer"}
    builtin = {"buy", "deals", "withdraw", "survey", "accounts", "audit", "spec", "demo"}
    assert builtin <= _builtin_names(spartacus)  # the names checked are real built-ins
    assert not set(table) & builtin


def test_client_cli_does_not_import_oracle() -> None:
    import ast
    from pathlib import Path

    tree = ast.parse(Path("client/cli.py").read_text())
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [n.module or "" for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)]
    assert not [n for n in names if n.split(".")[0] == "oracle"]


def test_init_can_deploy_an_exchange_and_write_its_address(env) -> None:
    w3, ex, tmp = env
    r = run("hub", "init", "--deploy")
    assert r.exit_code == 0, r.output
    cfg = json.loads((tmp / "cfg" / "hub.json").read_text())
    assert cfg["contract"] != ex.address and w3.eth.get_code(cfg["contract"]) != b""
    seller = Account.from_key(SELLER_KEY).address
    deployed = Exchange(w3, cfg["contract"])
    (reg,) = [a for n, a, _, _ in deployed.events() if n == "SellerRegistered"]
    assert reg["seller"] == reg["oracle"] == seller
    again = run("hub", "init")  # a second init keeps the key
    assert again.exit_code == 0 and "keeping it" in again.output


def test_init_deploys_from_a_fresh_key_the_development_node_funds(env, monkeypatch) -> None:
    w3, ex, tmp = env
    monkeypatch.delenv(cli.IMPORT_KEY_ENV)  # a fresh key, holding nothing
    r = run("hub", "init", "--deploy")
    assert r.exit_code == 0, r.output
    address = cli.keystore_address(tmp / "cfg" / "keystore.json")
    assert f"funded {address} with 10 ETH from the development node's account {w3.eth.accounts[0]}" in r.output
    cfg = json.loads((tmp / "cfg" / "hub.json").read_text())
    (reg,) = [a for n, a, _, _ in Exchange(w3, cfg["contract"]).events() if n == "SellerRegistered"]
    assert reg["seller"] == address and 0 < w3.eth.get_balance(address) < cli.DEV_FUNDING_WEI


def test_a_key_without_gas_money_is_one_named_line_and_nothing_is_sent(env, monkeypatch) -> None:
    w3, ex, tmp = env
    monkeypatch.delenv(cli.IMPORT_KEY_ENV)
    r = run("hub", "init", "--contract", ex.address)  # registering needs gas; only --deploy funds a key
    address = cli.keystore_address(tmp / "cfg" / "keystore.json")
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert (f"error: registerSeller: account {address} holds 0 ETH, too little for the transaction's gas: send it "
            "ETH") in r.output and "nothing was sent" in r.output
    assert w3.eth.get_transaction_count(address) == 0
    assert not [a for n, a, _, _ in ex.events() if n == "SellerRegistered" and a["seller"] == address]


def test_the_mde_method_help_names_every_method_a_dp_offer_may_take() -> None:
    from pricing import METHODS
    from pricing.release_fit import method_fits_release

    fits = {m for m in METHODS if method_fits_release(m, "ml-laplace-rr")[0]}
    res = runner.invoke(cli.owner_app, ["offer", "set", "--help"], env={"COLUMNS": "300"})
    help_text = " ".join(res.output.split())
    named = help_text[help_text.index("a DP release takes only one validated on it"):].split(")")[0]
    assert {m for m in METHODS if m in named.replace(",", " ").split()} == fits


def test_offer_set_refuses_an_epsilon_over_the_budget_left_like_the_page(env) -> None:
    w3, ex, tmp = env
    assert run("hub", "init", "--contract", ex.address).exit_code == 0
    _csv(tmp)
    assert run("dataset", "add", "census", "--data", str(tmp / "d.csv"), "--schema", str(tmp / "s.json"),
               "--cap", "5").exit_code == 0
    r = run("offer", "set", "big", "--dataset", "census", "--epsilon", "5.5", "--price", "10")
    assert r.exit_code == 1 and "more than the 5 left" in r.output
    assert run("offer", "set", "fits", "--dataset", "census", "--epsilon", "5", "--price", "10").exit_code == 0


def test_init_stores_the_owner_secret_hashed_from_the_environment(env, monkeypatch) -> None:
    from oracle.web import verify_secret

    w3, ex, tmp = env
    monkeypatch.setenv(cli.OWNER_SECRET_ENV, "a long owner secret")
    assert run("hub", "init", "--contract", ex.address).exit_code == 0
    text = (tmp / "cfg" / "hub.json").read_text()
    stored = json.loads(text)["owner_secret_hash"]
    assert "a long owner secret" not in text and stored.startswith("scrypt$")
    assert verify_secret("a long owner secret", stored) and not verify_secret("a long owner secreT", stored)
    monkeypatch.setenv(cli.OWNER_SECRET_ENV, "short")
    r = run("hub", "init", "--contract", ex.address)
    assert r.exit_code == 1 and "at least 10 characters" in r.output


def test_offer_set_sells_a_sanitized_precision_and_fits_its_sanitizer_once(env, monkeypatch) -> None:
    import numpy as np

    from oracle import sanitizers
    from oracle.rawdata import encode_raw
    from privacy import Schema
    from privacy.mechanisms.sanitizer import SanitizerConfig

    monkeypatch.setattr(sanitizers, "FIT_CONFIG", SanitizerConfig(epochs=4, utility_epochs=3, hidden=8))
    w3, ex, tmp = env
    assert run("hub", "init", "--contract", ex.address).exit_code == 0
    _csv(tmp)
    doc = json.loads((tmp / "s.json").read_text())
    doc["columns"] = [{"name": "sex", "kind": "boolean"}]
    (tmp / "s.json").write_text(json.dumps(doc))
    x = np.random.default_rng(0).uniform(size=(60, 2))
    data = {"features": x, "label": (x[:, 0] > 0.5).astype(np.int64), "sex": (x[:, 1] > 0.5).astype(np.int64)}
    (tmp / "d.safetensors").write_bytes(encode_raw(data, Schema.from_json(doc)))
    for name, cap in (("people", "exact"), ("capped", "3")):
        assert run("dataset", "add", name, "--data", str(tmp / "d.safetensors"), "--schema", str(tmp / "s.json"),
                   "--cap", cap).exit_code == 0
    args = ["offer", "set", "san", "--dataset", "people", "--epsilon", "exact", "--mechanism", "sanitizer",
            "--private", "sex", "--alpha", "0.9", "--variant", "stochastic"]
    r = run(*args, "--price", "7")
    assert r.exit_code == 0 and "sanitizer fitted" in r.output, r.output
    store = Store(tmp / "cfg" / "data" / "hub.sqlite")
    mech = store.get_offer("san").release["mechanism"]
    assert (mech["name"], mech["private"], mech["alpha"], mech["variant"]) == ("sanitizer", "sex", "0.9", "stochastic")
    kept = store.get_sanitizer("san")
    again = run(*args, "--price", "8")  # a new price: same precision, same sanitizer
    assert again.exit_code == 0 and "sanitizer fitted" not in again.output
    assert store.get_sanitizer("san").weights == kept.weights and store.get_offer("san").pricing["price"] == "8"
    capped = run("offer", "set", "c", "--dataset", "capped", "--epsilon", "exact", "--mechanism", "sanitizer",
                 "--private", "sex", "--alpha", "0.9", "--price", "7")
    assert capped.exit_code == 1 and "no epsilon guarantee" in capped.output and store.get_offer("c") is None
    dp = run("offer", "set", "c", "--dataset", "capped", "--epsilon", "0.5", "--mechanism", "sanitizer",
             "--private", "sex", "--alpha", "0.9", "--price", "7")
    assert dp.exit_code == 0, dp.output
    assert store.get_offer("c").release["mechanism"]["then"] == "ml-laplace-rr"


def test_a_chain_that_does_not_answer_is_one_line_naming_the_setting(tmp_path, monkeypatch, capsys) -> None:
    """Every owner command that reads the chain went through a NetworkError traceback when the node was down."""
    from oracle.settings import load_settings

    monkeypatch.setenv("SPARTACUS_CONFIG_DIR", str(tmp_path))
    settings = load_settings(rpc_url="http://127.0.0.1:9")  # nothing listens on the discard port
    with pytest.raises(typer.Exit) as ended:
        cli.connect_chain(settings)
    assert ended.value.exit_code == 1
    said = " ".join(capsys.readouterr().out.split())
    assert said.startswith("error: cannot reach the chain at http://127.0.0.1:9: is the node running?")
    assert f"`network` or `rpc_url` in {tmp_path}" in said and "Traceback" not in said


def test_adding_a_dataset_of_a_name_already_there_needs_replace_and_may_only_lower_its_cap(env) -> None:
    """The same name silently overwrote the data before (the store replaces a same-id dataset)."""
    w3, ex, tmp = env
    assert run("hub", "init", "--contract", ex.address).exit_code == 0
    _csv(tmp)
    add = ["dataset", "add", "census", "--data", str(tmp / "d.csv"), "--schema", str(tmp / "s.json")]
    assert run(*add, "--cap", "5").exit_code == 0
    store = Store(tmp / "cfg" / "data" / "hub.sqlite")
    _csv(tmp, rows=30)
    again = run(*add, "--cap", "5")
    assert again.exit_code == 1 and store.list_datasets()[0].rows == 50
    assert "dataset census is already at this hub (50 rows, cap 5): pass --replace" in again.output
    lower = run(*add, "--cap", "4", "--replace")
    assert lower.exit_code == 0 and "replaced as" in lower.output
    (ds,) = store.list_datasets()
    assert (ds.rows, ds.epsilon_cap_milli) == (30, 4000)
    caps = [a["epsilonCapMilli"] for n, a, _, _ in ex.events() if n == "DatasetRegistered"]
    assert caps[-2:] == [5000, 4000]
    higher = run(*add, "--cap", "6", "--replace")
    assert higher.exit_code == 1 and store.list_datasets()[0].rows == 30
    assert "a cap may only be lowered" in higher.output and "--cap 4 or lower" in higher.output
    assert "Traceback" not in higher.output and "CapRaised(" not in higher.output  # checked before the chain


def test_a_dataset_holding_the_same_rows_as_another_is_added_with_a_warning(env) -> None:
    """The ledger is per dataset id: the same rows under a second name get a second budget. The owner
    may mean it (one name exact for trusted buyers), so it is a warning naming the twin, not a refusal."""
    w3, ex, tmp = env
    assert run("hub", "init", "--contract", ex.address).exit_code == 0
    _csv(tmp)
    add = ["--data", str(tmp / "d.csv"), "--schema", str(tmp / "s.json"), "--cap", "5"]
    first = run("dataset", "add", "census", *add)
    assert first.exit_code == 0 and "warning" not in first.output
    lines = (tmp / "d.csv").read_text().splitlines()
    (tmp / "d.csv").write_text("\n".join([lines[0], *reversed(lines[1:])]) + "\n")  # the same rows, reordered
    twin = run("dataset", "add", "census-copy", *add)
    assert twin.exit_code == 0 and "same rows as census (cap 5)" in twin.output and "add up" in twin.output
    _csv(tmp, rows=30)
    other = run("dataset", "add", "census-30", *add)
    assert other.exit_code == 0 and "warning" not in other.output
