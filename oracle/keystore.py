"""The oracle's signing key, kept only in an encrypted keystore file (eth-account's
`Account.encrypt`, scrypt + AES-128-CTR, the Web3 Secret Storage format) and unlocked with a
passphrase from `SPARTACUS_PASSPHRASE` or a hidden prompt. The key is never written in plain
text, never put in an exception message, never logged."""

from __future__ import annotations

import getpass
import json
import os
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount

from .store import write_durable

__all__ = ["KeystoreError", "WrongPassphrase", "KeystoreMissing", "KeystoreExists", "create_keystore",
           "load_keystore", "keystore_address", "read_passphrase", "PASSPHRASE_ENV"]

PASSPHRASE_ENV = "SPARTACUS_PASSPHRASE"
MIN_PASSPHRASE = 8
#: scrypt's cost parameter n for new keystores (eth-account's default, 2**18); tests lower it for speed.
SCRYPT_N = 2**18


class KeystoreError(Exception):
    """Raised when the oracle's keystore cannot be created, read or unlocked."""


class WrongPassphrase(KeystoreError, ValueError):
    """Raised when the passphrase does not decrypt the keystore (the MAC does not match)."""


class KeystoreMissing(KeystoreError, FileNotFoundError):
    """Raised when no keystore file exists where the hub looks: run `spartacus hub init`."""


class KeystoreExists(KeystoreError, FileExistsError):
    """Raised when `hub init` would overwrite an existing keystore (and so lose the oracle key)."""


def create_keystore(path: Path, passphrase: str, *, private_key: bytes | None = None,
                    overwrite: bool = False) -> str:
    """Encrypt a fresh (or the given) key under `passphrase` into `path` (mode 0600); its address."""
    path = Path(path)
    if path.exists() and not overwrite:
        raise KeystoreExists(f"a keystore already exists at {path}: keep it, or move it away to make a new key")
    if len(passphrase) < MIN_PASSPHRASE:
        raise KeystoreError(f"the passphrase has {len(passphrase)} characters; use at least {MIN_PASSPHRASE}")
    acct = Account.from_key(private_key) if private_key is not None else Account.create()
    blob = json.dumps(Account.encrypt(acct.key, passphrase, kdf="scrypt", iterations=SCRYPT_N)).encode()
    write_durable(path, blob)
    os.chmod(path, 0o600)
    return acct.address


def keystore_address(path: Path) -> str:
    """The checksummed address a keystore holds, read without the passphrase."""
    try:
        doc = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise KeystoreMissing(f"no keystore at {path}: run `spartacus hub init` first") from None
    from web3 import Web3

    return Web3.to_checksum_address("0x" + doc["address"].removeprefix("0x"))


def load_keystore(path: Path, passphrase: str) -> LocalAccount:
    """Decrypt the keystore at `path` into a signing account; WrongPassphrase if it does not open."""
    try:
        doc = json.loads(Path(path).read_text())
    except FileNotFoundError:
        raise KeystoreMissing(f"no keystore at {path}: run `spartacus hub init` first") from None
    except ValueError:
        raise KeystoreError(f"the keystore at {path} is not JSON: restore it from your backup") from None
    try:
        key = Account.decrypt(doc, passphrase)
    except ValueError as err:
        if "MAC mismatch" in str(err):
            raise WrongPassphrase(f"the passphrase does not open the keystore at {path}: check "
                                  f"{PASSPHRASE_ENV} or retype it") from None
        raise KeystoreError(f"the keystore at {path} is malformed: restore it from your backup") from None
    return Account.from_key(key)


def read_passphrase(*, prompt: bool = True, confirm: bool = False) -> str:
    """The passphrase from `SPARTACUS_PASSPHRASE`, else a hidden prompt (twice when `confirm`)."""
    value = os.environ.get(PASSPHRASE_ENV)
    if value:
        return value
    if not prompt:
        raise KeystoreError(f"no passphrase: set {PASSPHRASE_ENV} or run interactively")
    first = getpass.getpass("keystore passphrase: ")
    if confirm and getpass.getpass("again: ") != first:
        raise KeystoreError("the two passphrases differ: run again")
    return first
