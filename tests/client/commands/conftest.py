"""Fixtures of the command tests: an account folder of their own, cheap scrypt, a CLI runner."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner


@pytest.fixture(autouse=True)
def accounts_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh account folder, keyfiles at scrypt n = 2**10 (ms, not s), no inherited passphrase."""
    folder = tmp_path / "accounts"
    monkeypatch.setenv("SPARTACUS_ACCOUNTS_DIR", str(folder))
    monkeypatch.delenv("SPARTACUS_PASSPHRASE", raising=False)
    monkeypatch.setattr("client.accounts.SCRYPT_N", 2**10)
    return folder


@pytest.fixture()
def runner() -> CliRunner:
    """typer's runner (stdin is not a terminal under it: passphrases come from the environment)."""
    return CliRunner()


@pytest.fixture(autouse=True)
def wide_console(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tables printed 250 columns wide (a runner's output is not a terminal: rich would squeeze them to 80)."""
    from client.commands import console

    monkeypatch.setattr(console, "width", 250)
