"""The session layer: cookies → exactly one Directus session token → a verified user id.

Directus signs several kinds of token with the same secret (sessions, password resets,
invites, shares, OAuth state), so a valid signature alone proves little: the claims must
also have the shape of a *session* token. Tokens and cookies never reach logs.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from peregrine.tenancy.identity import IdentityError, canonical_user_id

log = logging.getLogger("peregrine.session")

# The algorithm is pinned here, next to the key it is used with: a token's own header
# never chooses how it is checked (no "none", no RS256-with-the-secret-as-public-key).
JWT_ALGORITHMS = ["HS256"]
JWT_ISSUER = "directus"
JWT_LEEWAY_SECONDS = 30
# Directus session tokens are a few hundred bytes; anything far larger is refused before
# any base64 or JSON work is done on it.
MAX_TOKEN_BYTES = 4096
MAX_COOKIE_HEADER_BYTES = 16384
REQUIRED_CLAIMS = ("id", "role", "app_access", "admin_access")
# Present on password-reset/invite tokens (scope) and share tokens (share).
FORBIDDEN_CLAIMS = ("scope", "share", "aud")
REVOCATION_TTL_SECONDS = 60.0
_REVOCATION_CACHE_MAX = 10_000
# Verified tokens remembered per process (see TokenVerifier): a few hundred bytes each.
VERIFIED_CACHE_MAX = 10_000


class SessionError(Exception):
    """No usable session: the person must sign in. The message is safe to log."""


class SessionCheckUnavailable(Exception):
    """The identity provider could not be asked whether a session is still valid."""


def parse_cookies(header: str) -> list[tuple[str, str]]:
    """Every ``name=value`` pair in a Cookie header, in order, duplicates kept.

    Tolerant on purpose: the standard library parser stops at the first malformed cookie,
    which would let an unrelated bad cookie hide the session cookie.
    """
    pairs: list[tuple[str, str]] = []
    for part in header.split(";"):
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or not name:
            continue
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] == '"':
            value = value[1:-1]
        pairs.append((name, value))
    return pairs


def cookie_header(headers: Mapping[str, str] | Any) -> str:
    """The cookies Caddy copied into ``X-CF-Session``, else the request's own ``Cookie``."""
    getlist = getattr(headers, "getlist", None)
    for name in ("x-cf-session", "cookie"):
        values: Iterable[str] = (
            getlist(name) if getlist else ([headers[name]] if name in headers else [])
        )
        values = list(values)
        if values:
            return "; ".join(values)
    return ""


def session_token(header: str, cookie_name: str) -> str:
    """The one session token in ``header``; none or several is a ``SessionError``."""
    if len(header) > MAX_COOKIE_HEADER_BYTES:
        raise SessionError("cookie header too large")
    tokens = [value for name, value in parse_cookies(header) if name == cookie_name]
    if not tokens:
        raise SessionError("no session cookie")
    if len(tokens) > 1:
        # Never pick one: a second cookie can be planted by a sibling subdomain.
        raise SessionError("more than one session cookie")
    if not tokens[0]:
        raise SessionError("empty session cookie")
    return tokens[0]


@dataclass(frozen=True)
class Session:
    user_id: str
    expires_at: int
    token_digest: str  # sha256 of the token, for caches; the token itself is not kept


class TokenVerifier:
    """Checks a Directus session JWT and returns its canonical user id."""

    def __init__(
        self,
        secret: bytes,
        *,
        leeway: int = JWT_LEEWAY_SECONDS,
        cache_size: int = VERIFIED_CACHE_MAX,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if leeway > JWT_LEEWAY_SECONDS:
            raise ValueError(f"leeway must be at most {JWT_LEEWAY_SECONDS} seconds")
        self._secret = secret
        self._leeway = leeway
        self._clock = clock
        # Verified sessions by a keyed hash of the exact token string. Verifying a token
        # again (base64, JSON, HMAC, claim checks) was the largest tenancy cost of a cached
        # page; a token's signature and claims cannot change, only time can, so a hit
        # re-checks expiry against the clock on every use. The key is random per process,
        # so the cache's keys say nothing about the tokens, and the tokens are not kept.
        self._cache_key = secrets.token_bytes(32)
        self._cache_size = cache_size
        self._cache: OrderedDict[bytes, Session] = OrderedDict()
        self._lock = threading.Lock()

    def verify(self, token: str) -> Session:
        if len(token) > MAX_TOKEN_BYTES:
            raise SessionError("session token too large")
        key = hmac.new(self._cache_key, token.encode(), hashlib.sha256).digest()
        cached = self._remembered(key)
        if cached is not None:
            return cached
        session = self._verify(token)
        if self._cache_size > 0:
            with self._lock:
                self._cache[key] = session
                while len(self._cache) > self._cache_size:
                    self._cache.popitem(last=False)
        return session

    def remembered(self, token: str) -> Session | None:
        """The session of a token verified before and not expired since, else None (the
        caller then calls ``verify``, which gives the reason)."""
        if len(token) > MAX_TOKEN_BYTES:
            return None
        try:
            return self._remembered(
                hmac.new(self._cache_key, token.encode(), hashlib.sha256).digest()
            )
        except SessionError:
            return None

    def _remembered(self, key: bytes) -> Session | None:
        with self._lock:
            cached = self._cache.get(key)
            if cached is not None:
                self._cache.move_to_end(key)
        if cached is None:
            return None
        # The same test PyJWT applies: expired once exp <= now - leeway.
        if cached.expires_at <= self._clock() - self._leeway:
            with self._lock:
                self._cache.pop(key, None)
            raise SessionError("session token refused (ExpiredSignatureError)")
        return cached

    def _verify(self, token: str) -> Session:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._secret,
                algorithms=JWT_ALGORITHMS,
                issuer=JWT_ISSUER,
                leeway=self._leeway,
                options={
                    "require": ["exp", "iat", "iss"],
                    "verify_signature": True,
                    "verify_exp": True,
                    "verify_iat": True,
                    "verify_iss": True,
                    # With no expected audience, PyJWT refuses any token that carries one.
                    "verify_aud": True,
                },
            )
        except jwt.PyJWTError as exc:
            raise SessionError(f"session token refused ({type(exc).__name__})") from None
        # PyJWT checks iat for type only in some versions; a token issued in the future is
        # a forgery or a badly skewed clock either way.
        iat = claims.get("iat")
        if not isinstance(iat, int | float) or iat > time.time() + self._leeway:
            raise SessionError("session token issued in the future")
        for claim in FORBIDDEN_CLAIMS:
            if claim in claims:
                raise SessionError(f"not a session token ({claim} claim)")
        for claim in REQUIRED_CLAIMS:
            if claim not in claims:
                raise SessionError(f"not a session token (no {claim} claim)")
        try:
            user_id = canonical_user_id(claims["id"])
        except IdentityError:
            raise SessionError("session token does not name a valid user") from None
        digest = hashlib.sha256(token.encode()).hexdigest()
        return Session(user_id=user_id, expires_at=int(claims["exp"]), token_digest=digest)


class RevocationCheck:
    """Confirms a session with Directus ``/users/me``, cached per session for ≤ 60 s.

    Without it, a session stays usable until its JWT expires even after logout or
    suspension (Directus' default session lifetime); see docs/cloud-mode.md.
    """

    def __init__(
        self,
        base_url: str,
        cookie_name: str,
        *,
        ttl: float = REVOCATION_TTL_SECONDS,
        timeout: float = 3.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = base_url.rstrip("/") + "/users/me"
        self._cookie_name = cookie_name
        self._ttl = min(ttl, REVOCATION_TTL_SECONDS)
        # trust_env=False: proxy variables must not reroute (or read) session cookies, and
        # settings.py stays the only reader of the environment.
        self._client = httpx.Client(timeout=timeout, follow_redirects=False, trust_env=False)
        self._clock = clock
        self._cache: OrderedDict[str, tuple[float, bool]] = OrderedDict()
        self._lock = threading.Lock()

    def confirm(self, session: Session, token: str) -> None:
        now = self._clock()
        with self._lock:
            cached = self._cache.get(session.token_digest)
        if cached is not None and cached[0] > now:
            if not cached[1]:
                raise SessionError("session revoked")
            return
        valid = self._ask(session, token)
        with self._lock:
            self._cache[session.token_digest] = (now + self._ttl, valid)
            self._cache.move_to_end(session.token_digest)
            while len(self._cache) > _REVOCATION_CACHE_MAX:
                self._cache.popitem(last=False)
        if not valid:
            raise SessionError("session revoked")

    def confirmed(self, session: Session) -> bool:
        """Whether Directus confirmed the session within the cache window (no request)."""
        with self._lock:
            cached = self._cache.get(session.token_digest)
        return cached is not None and cached[1] and cached[0] > self._clock()

    def _ask(self, session: Session, token: str) -> bool:
        try:
            response = self._client.get(
                self._url,
                params={"fields": "id"},
                headers={"Cookie": f"{self._cookie_name}={token}"},
            )
        except httpx.HTTPError as exc:
            log.warning("cannot confirm a session with Directus: %s", type(exc).__name__)
            raise SessionCheckUnavailable("the sign-in service cannot be reached") from None
        if response.status_code in (401, 403):
            return False
        if response.status_code != 200:
            log.warning("Directus answered %s to a session check", response.status_code)
            raise SessionCheckUnavailable("the sign-in service answered unexpectedly")
        try:
            data = response.json().get("data") or {}
        except ValueError:
            raise SessionCheckUnavailable("the sign-in service answered unexpectedly") from None
        # The session must belong to the user the token names.
        return isinstance(data, dict) and data.get("id") == session.user_id

    def close(self) -> None:
        self._client.close()
