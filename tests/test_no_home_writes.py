"""No test writes under the user's ~/.spartacus: the commands' default folders point into the run's
temporary folder (tests/conftest.py), and the audit test passes --out."""

from __future__ import annotations

from pathlib import Path

import pytest

from client.accounts import default_accounts_dir
from client.commands.buyer import state_dir_for
from oracle.settings import load_settings


def test_the_default_folders_of_the_commands_lie_under_the_runs_temporary_folder(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    base = tmp_path_factory.getbasetemp().resolve()
    home = (Path.home() / ".spartacus").resolve()
    for folder in (default_accounts_dir(), state_dir_for("someone", None), load_settings().config_dir):
        folder = Path(folder).resolve()
        assert folder.is_relative_to(base) and not folder.is_relative_to(home), folder
