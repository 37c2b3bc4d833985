"""The hub's one settings object (pydantic-settings): environment variables `SPARTACUS_<FIELD>`
over the config file `<config_dir>/hub.toml` (or `hub.json`) over the defaults. It refuses a
missing or default passphrase, a reveal margin under the protocol's (60 s and 5 blocks), and a
token list without a valid address."""

from __future__ import annotations

import json
import os
import tomllib
from pathlib import Path
from typing import Annotated, Any

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, PydanticBaseSettingsSource, SettingsConfigDict
from web3 import Web3

__all__ = ["HubSettings", "SettingsError", "default_config_dir", "load_settings", "write_config",
           "ETH", "MIN_MARGIN_SECONDS", "MIN_MARGIN_BLOCKS"]

ETH = "0x0000000000000000000000000000000000000000"
MIN_MARGIN_SECONDS = 60
MIN_MARGIN_BLOCKS = 5
_DEFAULT_SECRETS = {"", "changeme", "change-me", "password", "passphrase", "spartacus", "secret"}


class SettingsError(ValueError):
    """Raised when the hub's configuration is missing something or breaks a rule; names the field."""


def default_config_dir() -> Path:
    """`$SPARTACUS_CONFIG_DIR`, else `~/.spartacus/hub`."""
    return Path(os.environ.get("SPARTACUS_CONFIG_DIR") or Path.home() / ".spartacus" / "hub")


class _FileSource(PydanticBaseSettingsSource):
    """Values from `<config_dir>/hub.toml` or `hub.json` (the config dir from init kwargs or env)."""

    def __init__(self, settings_cls: type[BaseSettings], config_dir: Path) -> None:
        super().__init__(settings_cls)
        self.config_dir = config_dir

    def get_field_value(self, field: Any, field_name: str) -> tuple[Any, str, bool]:  # pragma: no cover - unused
        return None, field_name, False

    def __call__(self) -> dict[str, Any]:
        toml, js = self.config_dir / "hub.toml", self.config_dir / "hub.json"
        if toml.exists():
            return tomllib.loads(toml.read_text())
        if js.exists():
            return json.loads(js.read_text())
        return {}


class HubSettings(BaseSettings):
    """Everything `hub serve` needs: chain, contract, files, confirmations, reveal margin, tokens,
    where to listen, and the keystore's passphrase (required, never a default)."""

    model_config = SettingsConfigDict(env_prefix="SPARTACUS_", extra="ignore")

    config_dir: Path = Field(default_factory=default_config_dir)
    network: str = "embedded"
    rpc_url: str | None = None
    contract: str | None = None
    data_dir: Path | None = None
    confirmations: int = Field(default=0, ge=0, le=1000)
    reveal_margin_seconds: int = MIN_MARGIN_SECONDS * 2
    reveal_margin_blocks: int = MIN_MARGIN_BLOCKS
    block_time: float = Field(default=12.0, gt=0, description="seconds per block, to turn the block margin into time")
    tokens: Annotated[list[str], NoDecode] = Field(default_factory=lambda: [ETH])
    host: str = "127.0.0.1"
    port: int = Field(default=8600, ge=1, le=65535)
    poll_interval: float = Field(default=1.0, gt=0)
    passphrase: SecretStr | None = None
    owner_secret_hash: str | None = Field(default=None, description="the owner's page login, as "
                                          "oracle.web.security.hash_secret wrote it (never the secret)")
    owner_session_seconds: int = Field(default=3600, ge=60, le=7 * 86400)
    spec_retention_hours: float = Field(default=24.0, gt=0, le=24 * 365, description="hours a spec or terms no "
                                        "deal references is kept after its last upload (they need no login)")

    @classmethod
    def settings_customise_sources(cls, settings_cls: type[BaseSettings], init_settings: PydanticBaseSettingsSource,
                                   env_settings: PydanticBaseSettingsSource,
                                   dotenv_settings: PydanticBaseSettingsSource,
                                   file_secret_settings: PydanticBaseSettingsSource) -> tuple[PydanticBaseSettingsSource, ...]:
        cdir = init_settings.init_kwargs.get("config_dir") if hasattr(init_settings, "init_kwargs") else None
        return (init_settings, env_settings, _FileSource(settings_cls, Path(cdir) if cdir else default_config_dir()))

    @field_validator("reveal_margin_seconds")
    @classmethod
    def _margin_seconds(cls, v: int) -> int:
        if v < MIN_MARGIN_SECONDS:
            raise ValueError(f"reveal_margin_seconds ({v}) must be at least {MIN_MARGIN_SECONDS} (protocol rule 5)")
        return v

    @field_validator("reveal_margin_blocks")
    @classmethod
    def _margin_blocks(cls, v: int) -> int:
        if v < MIN_MARGIN_BLOCKS:
            raise ValueError(f"reveal_margin_blocks ({v}) must be at least {MIN_MARGIN_BLOCKS} (protocol rule 5)")
        return v

    @field_validator("tokens", mode="before")
    @classmethod
    def _tokens(cls, v: Any) -> list[str]:
        if isinstance(v, str):
            v = json.loads(v) if v.strip().startswith("[") else [t for t in v.split(",") if t.strip()]
        if not v:
            raise ValueError("tokens is empty: list at least one payment token (ETH is 0x000...0)")
        out = []
        for t in v:
            if not Web3.is_address(str(t).strip()):
                raise ValueError(f"token {t!r} is not an address: give 0x + 40 hex digits")
            out.append(Web3.to_checksum_address(str(t).strip()))
        return out

    @field_validator("owner_secret_hash")
    @classmethod
    def _owner_hash(cls, v: str | None) -> str | None:
        if v is not None and (not v.startswith("scrypt$") or v.count("$") != 5):
            raise ValueError("owner_secret_hash is not a scrypt$n$r$p$salt$hash string: set the secret with "
                             "`spartacus hub init` (SPARTACUS_OWNER_SECRET), never by hand")
        return v

    @field_validator("contract")
    @classmethod
    def _contract(cls, v: str | None) -> str | None:
        if v is None:
            return v
        if not Web3.is_address(v):
            raise ValueError(f"contract {v!r} is not an address: give the DataExchange's 0x address")
        return Web3.to_checksum_address(v)

    @model_validator(mode="after")
    def _defaults(self) -> "HubSettings":
        if self.data_dir is None:
            self.data_dir = self.config_dir / "data"
        return self

    @property
    def keystore_path(self) -> Path:
        """Where the oracle's encrypted keystore lives."""
        return self.config_dir / "keystore.json"

    @property
    def db_path(self) -> Path:
        """The store's SQLite file."""
        return Path(self.data_dir) / "hub.sqlite"

    @property
    def reveal_margin(self) -> float:
        """The margin in seconds: the larger of the seconds and the blocks times the block time."""
        return max(float(self.reveal_margin_seconds), self.reveal_margin_blocks * self.block_time)

    def require_passphrase(self) -> str:
        """The keystore passphrase; SettingsError when missing or a well-known default."""
        value = self.passphrase.get_secret_value() if self.passphrase is not None else ""
        if value.strip().lower() in _DEFAULT_SECRETS:
            raise SettingsError("no usable passphrase: set SPARTACUS_PASSPHRASE (not a default like 'changeme') "
                                "or answer the prompt")
        return value

    def require_contract(self) -> str:
        """The DataExchange address; SettingsError when it is not configured."""
        if self.contract is None:
            raise SettingsError("no contract address: set SPARTACUS_CONTRACT or `contract` in hub.toml "
                                "(`spartacus hub init --contract 0x...`)")
        return self.contract


def load_settings(**overrides: Any) -> HubSettings:
    """HubSettings from overrides, the environment and the config file; SettingsError naming a bad field."""
    from pydantic import ValidationError

    try:
        return HubSettings(**{k: v for k, v in overrides.items() if v is not None})
    except ValidationError as err:
        first = err.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise SettingsError(f"setting {where}: {first['msg']}") from None


def write_config(config_dir: Path, values: dict[str, Any]) -> Path:
    """Write (merge into) `<config_dir>/hub.json` with `values` (never the passphrase); its path."""
    config_dir.mkdir(parents=True, exist_ok=True)
    path = config_dir / "hub.json"
    current = json.loads(path.read_text()) if path.exists() else {}
    current.update({k: (str(v) if isinstance(v, Path) else v) for k, v in values.items() if k != "passphrase"})
    from .store import write_durable

    write_durable(path, json.dumps(current, indent=2, sort_keys=True).encode())
    return path
