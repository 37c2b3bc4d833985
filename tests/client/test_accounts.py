"""client/accounts.py and `spartacus accounts`: keyfiles are encrypted, a wrong passphrase is a named
error, the key is never written in the clear nor taken from argv."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

import pytest
from eth_account import Account
from hypothesis import given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from client.accounts import (AccountStore, AliasExists, BadAlias, BadPrivateKey, UnknownAlias,
                             WrongPassphrase)
from client.cli import app
from tests.client.commands.conftest import accounts_dir, runner  # noqa: F401 - the fixtures

SECP256K1_N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141


def test_store_lifecycle_and_named_errors(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr("client.accounts.SCRYPT_N", 2**10)
    st = AccountStore(tmp_path)
    key = secrets.token_bytes(32)
    info = st.import_key("alice", "0x" + key.hex(), "pw1")
    assert info.address == Account.from_key(key).address
    text = info.path.read_text()
    assert key.hex() not in text.lower() and json.loads(text)["crypto"]["kdf"] == "scrypt"
    assert info.path.stat().st_mode & 0o077 == 0  # nobody but the owner reads it
    assert st.load("alice", "pw1").key == key
    with pytest.raises(WrongPassphrase, match="does not unlock account 'alice'"):
        st.load("alice", "pw2")
    with pytest.raises(AliasExists):
        st.new("alice", "x")
    with pytest.raises(UnknownAlias, match="known: alice"):
        st.load("bob", "pw1")
    with pytest.raises(BadAlias):
        st.new("../evil", "x")
    with pytest.raises(BadPrivateKey):
        st.import_key("carol", "12ab", "x")
    st.change_password("alice", "pw1", "pw2")
    with pytest.raises(WrongPassphrase):
        st.load("alice", "pw1")
    assert st.load("alice", "pw2").key == key
    fresh = st.new("bob", "pw")
    assert [a.alias for a in st.list()] == ["alice", "bob"] and fresh.address != info.address
    with pytest.raises(WrongPassphrase):
        st.delete("bob", "nope")
    st.delete("bob", "pw")
    assert [a.alias for a in st.list()] == ["alice"]


def test_cli_lifecycle_key_from_stdin_never_argv(runner: CliRunner, accounts_dir: Path, monkeypatch) -> None:
    key = secrets.token_bytes(32)
    address = Account.from_key(key).address
    monkeypatch.setenv("SPARTACUS_PASSPHRASE", "correct horse")
    argv = ["accounts", "import", "buyer"]
    res = runner.invoke(app, argv, input=key.hex() + "\n")
    assert res.exit_code == 0, res.output
    assert address in res.output and key.hex() not in res.output and all(key.hex() not in a for a in argv)
    for path in accounts_dir.iterdir():
        assert key.hex() not in path.read_text().lower()
    res = runner.invoke(app, ["accounts", "new", "other"])
    assert res.exit_code == 0, res.output
    res = runner.invoke(app, ["accounts", "list"])
    assert res.exit_code == 0 and address in res.output and "other" in res.output
    # the import command has no option or argument that could carry a key
    res = runner.invoke(app, ["accounts", "import", "x", "--private-key", key.hex()])
    assert res.exit_code != 0 and not (accounts_dir / "x.json").exists()
    # a wrong passphrase: one named line, exit 1, no traceback
    monkeypatch.setenv("SPARTACUS_PASSPHRASE", "wrong")
    res = runner.invoke(app, ["accounts", "delete", "buyer", "--yes"])
    assert res.exit_code == 1 and "does not unlock account 'buyer'" in res.output
    assert "Traceback" not in res.output and res.exception is None or isinstance(res.exception, SystemExit)
    assert (accounts_dir / "buyer.json").exists()
    monkeypatch.setenv("SPARTACUS_PASSPHRASE", "correct horse")
    monkeypatch.setenv("SPARTACUS_PASSPHRASE_NEW", "battery staple")
    res = runner.invoke(app, ["accounts", "change-password", "buyer"])
    assert res.exit_code == 0, res.output
    assert AccountStore(accounts_dir).load("buyer", "battery staple").address == address
    monkeypatch.setenv("SPARTACUS_PASSPHRASE", "battery staple")
    res = runner.invoke(app, ["accounts", "delete", "buyer", "--yes"])
    assert res.exit_code == 0, res.output
    assert not (accounts_dir / "buyer.json").exists()
    # a duplicate alias and a bad key are one line each
    res = runner.invoke(app, ["accounts", "new", "other"])
    assert res.exit_code == 1 and "already exists" in res.output
    res = runner.invoke(app, ["accounts", "import", "short"], input="abcd\n")
    assert res.exit_code == 1 and "64 hex digits" in res.output


@settings(max_examples=15, deadline=None)
@given(key=st.binary(min_size=32, max_size=32).filter(lambda k: 0 < int.from_bytes(k, "big") < SECP256K1_N),
       passphrase=st.text(min_size=1, max_size=20))
def test_any_key_round_trips_and_is_never_stored_in_the_clear(tmp_path_factory, key: bytes, passphrase: str) -> None:
    import client.accounts as accounts

    old, accounts.SCRYPT_N = accounts.SCRYPT_N, 2**10
    try:
        st_ = AccountStore(tmp_path_factory.mktemp("acc"))
        info = st_.import_key("k", key, passphrase)
        assert st_.load("k", passphrase).key == key
        assert key.hex() not in info.path.read_text().lower()
        with pytest.raises(WrongPassphrase):
            st_.load("k", passphrase + "x")
    finally:
        accounts.SCRYPT_N = old
