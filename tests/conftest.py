"""Suite-wide settings: Hypothesis profiles (default for `make test`, nightly for long runs), and the
folders the commands default to under ~/.spartacus pointed at a temporary folder for the whole run."""

import os
from typing import Iterator

import pytest
from hypothesis import HealthCheck, settings

#: the environment variables that move the commands' ~/.spartacus folders (accounts, buyer state, hub)
HOME_FOLDERS = {"SPARTACUS_ACCOUNTS_DIR": "accounts", "SPARTACUS_BUYER_DIR": "buyer", "SPARTACUS_CONFIG_DIR": "hub"}

settings.register_profile("default", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile(
    "nightly", deadline=None, max_examples=10_000, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture(scope="session", autouse=True)
def no_writes_under_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """A test that forgets --state-dir or its config folder writes under the run's temporary folder,
    never the user's ~/.spartacus (tests that set these variables themselves still win). Session
    scope: a function-scoped autouse fixture would trip Hypothesis's fixture health check."""
    home = tmp_path_factory.mktemp("spartacus-home")
    saved = {k: os.environ.get(k) for k in HOME_FOLDERS}
    os.environ.update({k: str(home / sub) for k, sub in HOME_FOLDERS.items()})
    yield
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v
