"""The owner's page access control: the login secret stored as a salted scrypt hash, server-side
sessions that expire, and CSRF tokens bound to a session (or, before login, to a login cookie).
No I/O: the sessions live in memory, so a restart logs the owner out."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Callable

__all__ = ["hash_secret", "verify_secret", "check_secret_strength", "WeakSecret", "Session", "Sessions",
           "SCRYPT_N", "MIN_SECRET_LENGTH"]

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2**14, 8, 1
MIN_SECRET_LENGTH = 10
_WELL_KNOWN = {"changeme", "change-me", "password", "passphrase", "spartacus", "secret", "letmein", "admin"}


class WeakSecret(ValueError):
    """Raised when an owner secret is too short or a well-known default."""


def check_secret_strength(secret: str) -> None:
    """Refuse a secret shorter than MIN_SECRET_LENGTH characters or a well-known default."""
    if secret.strip().lower() in _WELL_KNOWN or len(secret) < MIN_SECRET_LENGTH:
        raise WeakSecret(f"the owner secret must be at least {MIN_SECRET_LENGTH} characters and not a default "
                         "like 'changeme': choose a longer one")


def hash_secret(secret: str, *, n: int = SCRYPT_N, salt: bytes | None = None) -> str:
    """`scrypt$n$r$p$<salt hex>$<hash hex>`: what the config keeps instead of the secret."""
    salt = secrets.token_bytes(16) if salt is None else salt
    digest = hashlib.scrypt(secret.encode("utf-8"), salt=salt, n=n, r=SCRYPT_R, p=SCRYPT_P, dklen=32)
    return f"scrypt${n}${SCRYPT_R}${SCRYPT_P}${salt.hex()}${digest.hex()}"


def verify_secret(secret: str, stored: str | None) -> bool:
    """True when `secret` hashes to `stored` (constant-time compare); False for anything malformed."""
    if not stored:
        return False
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt":
            return False
        got = hashlib.scrypt(secret.encode("utf-8"), salt=bytes.fromhex(salt), n=int(n), r=int(r), p=int(p),
                             dklen=len(bytes.fromhex(digest)))
    except (ValueError, MemoryError):
        return False
    return hmac.compare_digest(got, bytes.fromhex(digest))


@dataclass(frozen=True)
class Session:
    """A logged-in owner: the cookie's value, its CSRF token and when it stops being valid (unix s)."""

    token: str
    csrf: str
    expires: float


class Sessions:
    """Server-side sessions, each valid for `ttl` seconds from login; plus the login form's CSRF token,
    an HMAC of a pre-login cookie under a per-process key."""

    def __init__(self, ttl: float, clock: Callable[[], float] = time.time) -> None:
        self.ttl = float(ttl)
        self.clock = clock
        self._key = secrets.token_bytes(32)
        self._by_token: dict[str, Session] = {}
        self._lock = threading.Lock()
        self._failures: list[float] = []

    def create(self) -> Session:
        """A new session (after a good login); forgets the expired ones."""
        now = self.clock()
        s = Session(secrets.token_urlsafe(32), secrets.token_urlsafe(32), now + self.ttl)
        with self._lock:
            self._by_token = {k: v for k, v in self._by_token.items() if v.expires > now}
            self._by_token[s.token] = s
        return s

    def get(self, token: str | None) -> Session | None:
        """The live session of a cookie value, or None (absent, unknown or expired)."""
        if not token:
            return None
        with self._lock:
            s = self._by_token.get(token)
            if s is not None and s.expires <= self.clock():
                del self._by_token[token]
                return None
            return s

    def end(self, token: str | None) -> None:
        """Log out: the cookie value stops opening pages."""
        with self._lock:
            self._by_token.pop(token or "", None)

    def login_csrf(self, login_cookie: str) -> str:
        """The CSRF token the login form must carry for this pre-login cookie."""
        return hmac.new(self._key, login_cookie.encode(), hashlib.sha256).hexdigest()

    def check_login_csrf(self, login_cookie: str | None, token: str | None) -> bool:
        """True when `token` is the login CSRF token of `login_cookie`."""
        return bool(login_cookie and token) and hmac.compare_digest(self.login_csrf(login_cookie), token)

    def throttled(self, *, limit: int = 10, window: float = 60.0) -> bool:
        """True when `limit` wrong secrets were tried in the last `window` seconds (then refuse logins)."""
        now = self.clock()
        with self._lock:
            self._failures = [t for t in self._failures if t > now - window]
            return len(self._failures) >= limit

    def failed(self) -> None:
        """Count one wrong secret."""
        with self._lock:
            self._failures.append(self.clock())
