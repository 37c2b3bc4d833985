"""Hub settings: env over file over defaults; refuses missing/default passphrases and thin margins."""

from __future__ import annotations

import pytest

from oracle.settings import ETH, SettingsError, load_settings, write_config


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch, tmp_path):
    for k in ("SPARTACUS_PASSPHRASE", "SPARTACUS_CONTRACT", "SPARTACUS_CONFIRMATIONS", "SPARTACUS_TOKENS",
              "SPARTACUS_PORT", "SPARTACUS_NETWORK"):
        monkeypatch.delenv(k, raising=False)
    monkeypatch.setenv("SPARTACUS_CONFIG_DIR", str(tmp_path / "cfg"))


def test_defaults_bind_loopback_accept_eth_only_and_zero_confirmations(tmp_path) -> None:
    s = load_settings()
    assert (s.host, s.tokens, s.confirmations, s.network) == ("127.0.0.1", [ETH], 0, "embedded")
    assert s.config_dir == tmp_path / "cfg" and s.data_dir == tmp_path / "cfg" / "data"
    assert s.reveal_margin >= 60 and s.reveal_margin_blocks >= 5


def test_missing_or_default_passphrase_is_refused(monkeypatch) -> None:
    with pytest.raises(SettingsError, match="SPARTACUS_PASSPHRASE"):
        load_settings().require_passphrase()
    monkeypatch.setenv("SPARTACUS_PASSPHRASE", "changeme")
    with pytest.raises(SettingsError, match="default"):
        load_settings().require_passphrase()
    monkeypatch.setenv("SPARTACUS_PASSPHRASE", "a real one 42")
    s = load_settings()
    assert s.require_passphrase() == "a real one 42" and "a real one" not in repr(s)


@pytest.mark.parametrize("field,value,msg", [
    ("reveal_margin_seconds", 59, "at least 60"), ("reveal_margin_blocks", 4, "at least 5"),
    ("tokens", ["0x12"], "not an address"), ("tokens", [], "empty"), ("contract", "nope", "not an address"),
])
def test_rule_breaking_values_are_named(field, value, msg) -> None:
    with pytest.raises(SettingsError, match=msg) as info:
        load_settings(**{field: value})
    assert field in str(info.value)


def test_environment_overrides_the_config_file(tmp_path, monkeypatch) -> None:
    token = "0x" + "ab" * 20
    write_config(tmp_path / "cfg", {"confirmations": 3, "port": 9000, "tokens": [ETH, token], "passphrase": "x" * 9})
    assert "passphrase" not in (tmp_path / "cfg" / "hub.json").read_text()
    s = load_settings()
    assert (s.confirmations, s.port, len(s.tokens)) == (3, 9000, 2)
    monkeypatch.setenv("SPARTACUS_CONFIRMATIONS", "2")
    monkeypatch.setenv("SPARTACUS_TOKENS", ETH)
    s = load_settings()
    assert (s.confirmations, s.tokens, s.port) == (2, [ETH], 9000)


def test_toml_file_is_read(tmp_path) -> None:
    (tmp_path / "cfg").mkdir()
    (tmp_path / "cfg" / "hub.toml").write_text('network = "anvil"\nconfirmations = 5\n')
    s = load_settings()
    assert (s.network, s.confirmations) == ("anvil", 5)


def test_missing_contract_is_named() -> None:
    with pytest.raises(SettingsError, match="SPARTACUS_CONTRACT"):
        load_settings().require_contract()


def test_a_malformed_owner_secret_hash_is_refused_naming_the_fix(tmp_path) -> None:
    from oracle.settings import SettingsError, load_settings
    from oracle.web import hash_secret

    with pytest.raises(SettingsError, match="owner_secret_hash.*hub init"):
        load_settings(config_dir=tmp_path, owner_secret_hash="my plain secret")
    good = hash_secret("a long owner secret", n=2**4)
    assert load_settings(config_dir=tmp_path, owner_secret_hash=good).owner_secret_hash == good
