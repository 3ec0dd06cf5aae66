"""The session layer on its own: cookie parsing and token checks."""

from __future__ import annotations

import secrets
import time

import jwt
import pytest

from peregrine.tenancy.session import (
    MAX_TOKEN_BYTES,
    SessionError,
    TokenVerifier,
    cookie_header,
    parse_cookies,
    session_token,
)

SECRET = secrets.token_hex(32)
ALICE = "0b4e7a52-9c1d-4f8e-a3b2-1c2d3e4f5a6b"


def _token(**overrides: object) -> str:
    now = int(time.time())
    claims = {
        "id": ALICE,
        "role": "r",
        "app_access": True,
        "admin_access": False,
        "iat": now,
        "exp": now + 60,
        "iss": "directus",
        **overrides,
    }
    return jwt.encode(claims, SECRET, algorithm="HS256")


def test_it_keeps_parsing_after_a_malformed_cookie() -> None:
    pairs = parse_cookies('a"b; =x; lonely; c=1=2; d="quoted"; e=')
    assert pairs == [("c", "1=2"), ("d", "quoted"), ("e", "")]


def test_it_finds_exactly_one_session_cookie() -> None:
    assert session_token("x=1; s=tok; y=2", "s") == "tok"
    with pytest.raises(SessionError, match="more than one"):
        session_token("s=a; s=b", "s")
    with pytest.raises(SessionError, match="no session"):
        session_token("S=a; ss=b", "s")
    with pytest.raises(SessionError, match="empty"):
        session_token("s=", "s")


def test_it_prefers_the_caddy_copy_and_joins_repeated_headers() -> None:
    assert cookie_header({"x-cf-session": "a=1", "cookie": "b=2"}) == "a=1"
    assert cookie_header({"cookie": "b=2"}) == "b=2"
    assert cookie_header({}) == ""


def test_it_refuses_an_oversized_token_before_decoding() -> None:
    verifier = TokenVerifier(SECRET.encode())
    big = _token(padding="A" * MAX_TOKEN_BYTES)
    with pytest.raises(SessionError, match="too large"):
        verifier.verify(big)


def test_it_refuses_an_audience_claim() -> None:
    with pytest.raises(SessionError):
        TokenVerifier(SECRET.encode()).verify(_token(aud="peregrine"))


def test_it_refuses_a_leeway_over_thirty_seconds() -> None:
    with pytest.raises(ValueError, match="30"):
        TokenVerifier(SECRET.encode(), leeway=31)


def test_it_returns_the_user_id_and_a_digest_not_the_token() -> None:
    token = _token()
    session = TokenVerifier(SECRET.encode()).verify(token)
    assert session.user_id == ALICE
    assert token not in repr(session)
