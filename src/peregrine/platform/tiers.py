"""Subscription tiers and the one table of which feature needs which tier.

The tier comes from ``subscriptions`` and is remembered briefly; a missing row, an
expired or cancelled subscription, or an unreachable database all mean ``free``. Local
mode is not gated (``Ungated``).
"""

from __future__ import annotations

import threading
import time
from datetime import datetime

import psycopg

from peregrine.platform.ids import parse_user_id
from peregrine.platform.pool import PlatformDB, PlatformUnavailable

TIERS: tuple[str, ...] = ("free", "paid", "premium", "ultra")
_RANK = {tier: rank for rank, tier in enumerate(TIERS)}

# feature → minimum tier. Gate routes with web.platform_deps.require_feature(name).
FEATURES: dict[str, str] = {
    "job_tracking": "free",
    "discovery": "free",
    "backup_export": "free",
    "scheduled_discovery": "paid",
    "llm_scoring": "paid",
    "cover_letter": "paid",
    "company_research": "paid",
    "interview_prep": "premium",
    "email_sync": "premium",
}

_PAYING = ("active", "trialing", "past_due")
# When the platform database does not answer, remember "free" only briefly so a short
# outage does not cost paying users their features for the whole cache period.
_UNREACHABLE_TTL = 5.0
# Tier lookups sit on the request path: wait for a pooled connection only this long.
_LOOKUP_WAIT = 0.5


class UnknownTier(ValueError):
    pass


class UnknownFeature(KeyError):
    pass


def check_tier(tier: str) -> str:
    if tier not in _RANK:
        raise UnknownTier(f"unknown tier {tier!r}; choose one of {', '.join(TIERS)}")
    return tier


def tier_allows(tier: str, feature: str) -> bool:
    needed = FEATURES.get(feature)
    if needed is None:
        raise UnknownFeature(feature)
    return _RANK.get(tier, 0) >= _RANK[needed]


def read_tier(conn: psycopg.Connection, *, user_id: str, product: str) -> str:
    row = conn.execute(
        "SELECT tier FROM subscriptions"
        " WHERE user_id = %s AND product = %s AND status = ANY(%s)"
        " AND (period_end IS NULL OR period_end > now())",
        (parse_user_id(user_id), product, list(_PAYING)),
    ).fetchone()
    tier = str(row[0]) if row else "free"
    return tier if tier in _RANK else "free"


def set_tier(
    conn: psycopg.Connection,
    *,
    user_id: str,
    product: str,
    tier: str,
    period_end: datetime | None = None,
) -> None:
    """Set a user's tier (an operator action): active from now, until ``period_end``."""
    check_tier(tier)
    conn.execute(
        "INSERT INTO subscriptions (user_id, product, tier, status, period_end)"
        " VALUES (%s, %s, %s, 'active', %s)"
        " ON CONFLICT (user_id, product) DO UPDATE SET tier = excluded.tier,"
        " status = 'active', period_end = excluded.period_end, updated_at = now()",
        (parse_user_id(user_id), product, tier, period_end),
    )


class Ungated:
    """Local and demo mode: every feature is available."""

    gated = False

    def tier_of(self, user_id: str | None) -> str:
        return TIERS[-1]

    def allows(self, user_id: str | None, feature: str) -> bool:
        if feature not in FEATURES:
            raise UnknownFeature(feature)
        return True

    def forget(self, user_id: str) -> None:
        return None


class TierResolver:
    """Cloud mode: tiers from the platform database, cached for ``ttl`` seconds."""

    gated = True

    def __init__(self, db: PlatformDB | None, *, product: str, ttl: float) -> None:
        self._db = db
        self._product = product
        self._ttl = ttl
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[str, float]] = {}

    def tier_of(self, user_id: str | None) -> str:
        if user_id is None or self._db is None:
            return "free"
        now = time.monotonic()
        with self._lock:
            hit = self._cache.get(user_id)
        if hit is not None and hit[1] > now:
            return hit[0]
        try:
            with self._db.connection(timeout=_LOOKUP_WAIT) as conn:
                tier = read_tier(conn, user_id=user_id, product=self._product)
            expires = now + self._ttl
        except (PlatformUnavailable, ValueError):
            tier, expires = "free", now + min(self._ttl, _UNREACHABLE_TTL)
        with self._lock:
            if len(self._cache) > 100_000:
                self._cache.clear()
            self._cache[user_id] = (tier, expires)
        return tier

    def allows(self, user_id: str | None, feature: str) -> bool:
        return tier_allows(self.tier_of(user_id), feature)

    def forget(self, user_id: str) -> None:
        with self._lock:
            self._cache.pop(user_id, None)
