"""The verifier's memory of tokens it has checked: expiry still holds to the second, and
a cached answer never names another user."""

from __future__ import annotations

import secrets
import time

import jwt
import pytest

from peregrine.tenancy.session import JWT_LEEWAY_SECONDS, SessionError, TokenVerifier

SECRET = secrets.token_hex(32)
ALICE = "0b4e7a52-9c1d-4f8e-a3b2-1c2d3e4f5a6b"
BOB = "6f1c2d3e-4a5b-4c6d-8e7f-9a0b1c2d3e4f"
MALLORY = "d00dfeed-0bad-4bad-8bad-c0ffee000000"


class Clock:
    def __init__(self) -> None:
        self.now = time.time()

    def __call__(self) -> float:
        return self.now


def _token(user_id: str, *, exp: int, secret: str = SECRET) -> str:
    claims = {
        "id": user_id,
        "role": "r",
        "app_access": True,
        "admin_access": False,
        "iat": int(time.time()),
        "exp": exp,
        "iss": "directus",
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def test_it_honours_expiry_to_the_second_on_a_cached_token() -> None:
    clock = Clock()
    verifier = TokenVerifier(SECRET.encode(), clock=clock)
    exp = int(time.time()) + 120
    token = _token(ALICE, exp=exp)
    assert verifier.verify(token).user_id == ALICE  # checked in full, then remembered
    # PyJWT's rule: expired once exp <= now - leeway.
    clock.now = exp + JWT_LEEWAY_SECONDS - 1
    assert verifier.verify(token).user_id == ALICE
    clock.now = exp + JWT_LEEWAY_SECONDS
    with pytest.raises(SessionError, match="Expired"):
        verifier.verify(token)
    # Forgotten once expired: a clock going back does not revive it from the cache.
    clock.now = exp - 60
    assert verifier.verify(token).user_id == ALICE


def test_a_token_for_mallory_never_returns_alice() -> None:
    verifier = TokenVerifier(SECRET.encode())
    exp = int(time.time()) + 600
    alice = _token(ALICE, exp=exp)
    mallory = _token(MALLORY, exp=exp)
    for _ in range(3):
        assert verifier.verify(alice).user_id == ALICE
        assert verifier.verify(mallory).user_id == MALLORY


def test_it_never_remembers_a_refused_token() -> None:
    verifier = TokenVerifier(SECRET.encode())
    exp = int(time.time()) + 600
    good = _token(ALICE, exp=exp)
    assert verifier.verify(good).user_id == ALICE
    # Same claims signed with another key, and the good token with a flipped signature
    # byte: different strings, each checked in full and refused every time.
    forged = _token(ALICE, exp=exp, secret=secrets.token_hex(32))
    head, body, sig = good.split(".")
    tampered = f"{head}.{body}.{sig[:-2]}{'A' if sig[-2] != 'A' else 'B'}{sig[-1]}"
    for bad in (forged, tampered, forged):
        with pytest.raises(SessionError):
            verifier.verify(bad)


def test_the_cache_is_bounded_and_keeps_no_token() -> None:
    verifier = TokenVerifier(SECRET.encode(), cache_size=2)
    exp = int(time.time()) + 600
    tokens = [_token(user, exp=exp) for user in (ALICE, BOB, MALLORY)]
    for token in tokens:
        verifier.verify(token)
    assert len(verifier._cache) == 2
    stored = repr(verifier._cache)
    assert not any(token in stored or token.split(".")[2] in stored for token in tokens)
    # The evicted token is simply verified again.
    assert verifier.verify(tokens[0]).user_id == ALICE
