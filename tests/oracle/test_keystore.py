"""The oracle keystore: encrypted at rest, the right passphrase opens it, a wrong one is named."""

from __future__ import annotations

import logging
import os
import stat

import pytest
from eth_account import Account

from oracle.keystore import (KeystoreExists, KeystoreMissing, WrongPassphrase, create_keystore, keystore_address,
                             load_keystore, read_passphrase)

PASS = "correct horse battery"


def test_keystore_round_trip_and_never_holds_the_key_in_plain_text(tmp_path, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    key = bytes(range(1, 33))
    path = tmp_path / "keystore.json"
    address = create_keystore(path, PASS, private_key=key)
    text = path.read_bytes()
    assert key.hex().encode() not in text.lower() and key not in text
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    acct = load_keystore(path, PASS)
    assert acct.address == address == Account.from_key(key).address == keystore_address(path)
    assert key.hex() not in caplog.text


def test_wrong_passphrase_is_a_named_error_without_the_key(tmp_path) -> None:
    path = tmp_path / "k.json"
    create_keystore(path, PASS)
    with pytest.raises(WrongPassphrase, match="does not open") as info:
        load_keystore(path, PASS + "x")
    assert "SPARTACUS_PASSPHRASE" in str(info.value)


def test_missing_and_existing_keystores_are_named(tmp_path) -> None:
    with pytest.raises(KeystoreMissing, match="hub init"):
        load_keystore(tmp_path / "none.json", PASS)
    path = tmp_path / "k.json"
    first = create_keystore(path, PASS)
    with pytest.raises(KeystoreExists):
        create_keystore(path, PASS)
    assert load_keystore(path, PASS).address == first


def test_short_passphrase_refused(tmp_path) -> None:
    from oracle.keystore import KeystoreError

    with pytest.raises(KeystoreError, match="at least 8"):
        create_keystore(tmp_path / "k.json", "short")


def test_passphrase_comes_from_the_environment_first(monkeypatch) -> None:
    monkeypatch.setenv("SPARTACUS_PASSPHRASE", "from-env-123")
    assert read_passphrase(prompt=False) == "from-env-123"
    monkeypatch.delenv("SPARTACUS_PASSPHRASE")
    from oracle.keystore import KeystoreError

    with pytest.raises(KeystoreError, match="SPARTACUS_PASSPHRASE"):
        read_passphrase(prompt=False)
    monkeypatch.setattr("getpass.getpass", lambda prompt="": "typed-pass-1")
    assert read_passphrase() == "typed-pass-1"


def test_production_keystores_use_eth_accounts_scrypt_cost(tmp_path, monkeypatch) -> None:
    import json

    import oracle.keystore as ks

    monkeypatch.undo()
    assert ks.SCRYPT_N == 2**18
    monkeypatch.setattr(ks, "SCRYPT_N", 2**10)
    create_keystore(tmp_path / "k.json", PASS)
    assert json.loads((tmp_path / "k.json").read_text())["crypto"]["kdfparams"]["n"] == 2**10
