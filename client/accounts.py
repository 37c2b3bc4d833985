"""The buyer's and auditor's accounts: encrypted keyfiles (eth-account's `Account.encrypt`, web3
secret storage v3) with aliases, one `<alias>.json` each under a data folder, as `ape accounts`
keeps them. A private key is only ever in memory or in a keyfile encrypted by a passphrase.

Default folder: $SPARTACUS_ACCOUNTS_DIR, else ~/.spartacus/accounts.
"""

from __future__ import annotations

import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path

from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from client.errors import ClientError

__all__ = ["ACCOUNTS_DIR_ENV", "PASSPHRASE_ENV", "SCRYPT_N", "AccountError", "AliasExists", "AccountInfo",
           "AccountStore", "BadAlias", "BadPrivateKey", "UnknownAlias", "WrongPassphrase", "default_accounts_dir"]

ACCOUNTS_DIR_ENV = "SPARTACUS_ACCOUNTS_DIR"
PASSPHRASE_ENV = "SPARTACUS_PASSPHRASE"
SCRYPT_N = 2**18  # the keyfile's scrypt cost (eth-account's default); tests lower it
_ALIAS = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


class AccountError(ClientError, ValueError):
    """Base of the account errors: a keyfile that cannot be made, found or unlocked."""


class BadAlias(AccountError):
    """An alias that is not a safe file name."""


class AliasExists(AccountError):
    """An alias already in use (delete it first, or choose another)."""


class UnknownAlias(AccountError, KeyError):
    """No keyfile has this alias."""

    def __str__(self) -> str:  # KeyError would quote the message
        return str(self.args[0])


class WrongPassphrase(AccountError):
    """The passphrase does not decrypt the keyfile."""


class BadPrivateKey(AccountError):
    """An imported private key that is not 32 bytes of hex in the curve's range."""


@dataclass(frozen=True)
class AccountInfo:
    """An alias, its address and its keyfile (no secret: listing never unlocks)."""

    alias: str
    address: str
    path: Path


def default_accounts_dir() -> Path:
    """$SPARTACUS_ACCOUNTS_DIR, else ~/.spartacus/accounts."""
    return Path(os.environ.get(ACCOUNTS_DIR_ENV) or Path.home() / ".spartacus" / "accounts")


class AccountStore:
    """Keyfiles under one folder, addressed by alias."""

    def __init__(self, folder: Path | None = None) -> None:
        self.folder = Path(folder) if folder is not None else default_accounts_dir()

    def path(self, alias: str) -> Path:
        """The keyfile of `alias` (which must be a plain name: letters, digits, `_`, `.`, `-`)."""
        if not _ALIAS.fullmatch(alias or ""):
            raise BadAlias(f"alias {alias!r} is not a plain name: use letters, digits, '_', '.', '-' "
                           "(at most 64, starting with a letter or digit)")
        return self.folder / f"{alias}.json"

    def _write(self, alias: str, keyfile: dict, *, replace: bool = False) -> Path:
        path = self.path(alias)
        if path.exists() and not replace:
            raise AliasExists(f"alias {alias!r} already names {self._address(path)}: choose another alias "
                              "or `spartacus accounts delete` it first")
        self.folder.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(keyfile, f)
        os.replace(tmp, path)
        return path

    @staticmethod
    def _address(path: Path) -> str:
        return Web3.to_checksum_address("0x" + json.loads(path.read_text())["address"].removeprefix("0x"))

    def _encrypt(self, key: bytes, passphrase: str) -> dict:
        if not passphrase:
            raise AccountError("an empty passphrase would leave the key unprotected: choose one")
        return Account.encrypt(key, passphrase, kdf="scrypt", iterations=SCRYPT_N)

    def new(self, alias: str, passphrase: str) -> AccountInfo:
        """Make a fresh key and store it encrypted under `alias`."""
        self.path(alias)
        key = secrets.token_bytes(32)
        return self._store(alias, key, passphrase)

    def import_key(self, alias: str, private_key: str | bytes, passphrase: str) -> AccountInfo:
        """Store an existing private key (hex or bytes, never from argv) encrypted under `alias`."""
        self.path(alias)
        if isinstance(private_key, str):
            text = private_key.strip().removeprefix("0x")
            if not re.fullmatch(r"[0-9a-fA-F]{64}", text):
                raise BadPrivateKey(f"the private key must be 64 hex digits (32 bytes), got {len(text)} characters")
            private_key = bytes.fromhex(text)
        try:
            Account.from_key(private_key)
        except (ValueError, TypeError) as err:
            raise BadPrivateKey(f"not a valid secp256k1 private key: {err}") from None
        return self._store(alias, private_key, passphrase)

    def _store(self, alias: str, key: bytes, passphrase: str) -> AccountInfo:
        path = self._write(alias, self._encrypt(key, passphrase))
        return AccountInfo(alias, Account.from_key(key).address, path)

    def list(self) -> list[AccountInfo]:
        """Every alias with its address, sorted by alias."""
        if not self.folder.is_dir():
            return []
        out = []
        for path in sorted(self.folder.glob("*.json")):
            try:
                out.append(AccountInfo(path.stem, self._address(path), path))
            except (ValueError, KeyError):
                continue  # not a keyfile
        return out

    def info(self, alias: str) -> AccountInfo:
        """The alias's address and keyfile, without unlocking it."""
        path = self.path(alias)
        if not path.exists():
            known = ", ".join(a.alias for a in self.list()) or "none yet"
            raise UnknownAlias(f"no account {alias!r} in {self.folder} (known: {known}); "
                               "make one with `spartacus accounts new` or `import`")
        return AccountInfo(alias, self._address(path), path)

    def _decrypt(self, alias: str, passphrase: str) -> bytes:
        info = self.info(alias)
        try:
            return bytes(Account.decrypt(json.loads(info.path.read_text()), passphrase))
        except ValueError:
            raise WrongPassphrase(f"the passphrase does not unlock account {alias!r} ({info.address}): "
                                  "try again") from None

    def load(self, alias: str, passphrase: str) -> LocalAccount:
        """The unlocked account of `alias`."""
        return Account.from_key(self._decrypt(alias, passphrase))

    def change_password(self, alias: str, old: str, new: str) -> AccountInfo:
        """Re-encrypt `alias`'s keyfile under a new passphrase."""
        key = self._decrypt(alias, old)
        self._write(alias, self._encrypt(key, new), replace=True)
        return self.info(alias)

    def delete(self, alias: str, passphrase: str) -> AccountInfo:
        """Remove `alias`'s keyfile, after proving the passphrase (a typo must not destroy a key)."""
        self._decrypt(alias, passphrase)
        info = self.info(alias)
        info.path.unlink()
        return info
