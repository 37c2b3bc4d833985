"""Connect to a named network from brownie-config.yaml; move time on test chains."""

from __future__ import annotations

import os
import re
from pathlib import Path

import yaml
from web3 import EthereumTesterProvider, HTTPProvider, Web3

from client.errors import ClientError

__all__ = ["NetworkError", "advance_time", "chain_time", "connect", "network_config"]

RPC_SCHEMES = ("http://", "https://")

_CONFIG = Path(__file__).resolve().parents[2] / "brownie-config.yaml"


class NetworkError(ClientError, ValueError):
    """Raised when a network is unknown, misconfigured or unreachable."""


def network_config(name: str | None = None, config_path: Path = _CONFIG) -> tuple[str, dict]:
    """Return (name, settings) of network `name` (default: the config's `default`), env vars expanded."""
    networks = yaml.safe_load(config_path.read_text())["networks"]
    name = name or networks.get("default", "embedded")
    if name not in networks or name == "default":
        known = ", ".join(k for k in networks if k != "default")
        raise NetworkError(f"unknown network {name!r}: choose one of {known} (brownie-config.yaml), or give a node's RPC URL (http://…)")
    settings = dict(networks[name])
    for key, value in settings.items():
        if isinstance(value, str):
            missing = [v for v in re.findall(r"\$\{(\w+)\}", value) if v not in os.environ]
            if missing:
                raise NetworkError(f"network {name!r} needs the environment variable(s) {', '.join(missing)} set")
            settings[key] = os.path.expandvars(value)
    return name, settings


def connect(name: str | None = None, *, url: str | None = None) -> Web3:
    """A Web3 for network `name`: the embedded eth-tester chain by default, or an RPC URL (given as
    `url`, or as `name` itself when it starts with http:// or https://, so every `--network` takes one)."""
    if url is None and name is not None and name.startswith(RPC_SCHEMES):
        name, url = None, name
    if url is not None:
        w3 = Web3(HTTPProvider(url, request_kwargs={"timeout": 60}))
    else:
        name, settings = network_config(name)
        if settings.get("provider") == "eth-tester":
            w3 = Web3(EthereumTesterProvider())
        else:
            w3 = Web3(HTTPProvider(settings["host"], request_kwargs={"timeout": 60}))
    if not w3.is_connected():
        raise NetworkError(f"cannot reach the chain at {url or name}: is the node running?")
    return w3


def chain_time(w3: Web3) -> int:
    """The latest block's timestamp."""
    return int(w3.eth.get_block("latest")["timestamp"])


def advance_time(w3: Web3, seconds: int) -> int:
    """Move a test chain's clock so the next transaction is at least `seconds` later than it
    would have been; return the latest block's time. `seconds` = 0 changes nothing."""
    if seconds < 0:
        raise NetworkError(f"seconds ({seconds}) must be >= 0: a chain's clock cannot go back")
    if seconds == 0:
        return chain_time(w3)
    provider = w3.provider
    if isinstance(provider, EthereumTesterProvider):
        tester = provider.ethereum_tester
        pending = int(w3.eth.get_block("pending")["timestamp"])
        tester.time_travel(pending + int(seconds))  # mines a block; the next one is at pending + seconds
        return chain_time(w3)
    w3.provider.make_request("evm_increaseTime", [int(seconds)])
    w3.provider.make_request("evm_mine", [])
    return chain_time(w3)
