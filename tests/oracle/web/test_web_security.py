"""The owner secret's hash and the session store (oracle.web.security), without HTTP."""

from __future__ import annotations

import pytest
from hypothesis import given, settings, strategies as st

from oracle.web.security import Sessions, WeakSecret, check_secret_strength, hash_secret, verify_secret


@settings(max_examples=15, deadline=None)
@given(secret=st.text(min_size=1, max_size=40), other=st.text(min_size=1, max_size=40))
def test_a_hash_verifies_its_secret_and_no_other(secret, other) -> None:
    stored = hash_secret(secret, n=2**4)
    assert verify_secret(secret, stored)
    assert verify_secret(other, stored) == (other == secret)
    assert secret not in stored.split("$")


def test_hashes_are_salted_and_malformed_ones_never_verify() -> None:
    a, b = hash_secret("same secret here", n=2**4), hash_secret("same secret here", n=2**4)
    assert a != b and verify_secret("same secret here", a) and verify_secret("same secret here", b)
    for bad in (None, "", "plain", "pbkdf2$1$1$1$00$00", a.replace("scrypt", "bcrypt"), a[:-2] + "zz"):
        assert not verify_secret("same secret here", bad)


@pytest.mark.parametrize("secret", ["short", "changeme", "Password", "           "[:9]])
def test_weak_secrets_are_refused(secret) -> None:
    with pytest.raises(WeakSecret, match="at least 10 characters"):
        check_secret_strength(secret)


def test_sessions_expire_and_end() -> None:
    now = [100.0]
    s = Sessions(60, clock=lambda: now[0])
    a, b = s.create(), s.create()
    assert a.token != b.token and a.csrf != b.csrf and s.get(a.token) == a
    s.end(b.token)
    assert s.get(b.token) is None and s.get(None) is None and s.get("unknown") is None
    now[0] = 159.9
    assert s.get(a.token) == a
    now[0] = 160.0
    assert s.get(a.token) is None


def test_the_login_csrf_token_is_bound_to_its_cookie() -> None:
    s = Sessions(60)
    token = s.login_csrf("cookie-1")
    assert s.check_login_csrf("cookie-1", token)
    assert not s.check_login_csrf("cookie-2", token) and not s.check_login_csrf(None, token)
    assert not s.check_login_csrf("cookie-1", "") and not Sessions(60).check_login_csrf("cookie-1", token)
