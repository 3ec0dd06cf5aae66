"""Telemetry consent: what each user agreed to, read and written in one place.

No row means the user never chose; ``usage_allowed`` then follows the operator's
``TELEMETRY_DEFAULT_CONSENT`` (off unless set). ``all_disabled`` overrides everything.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from peregrine.platform.ids import parse_user_id


@dataclass(frozen=True)
class Consent:
    all_disabled: bool = False
    usage_events_enabled: bool = False
    content_sharing_enabled: bool = False
    support_access_enabled: bool = False
    updated_at: datetime | None = None
    chosen: bool = False  # False when the user has no row yet

    def usage_allowed(self, *, default_consent: bool) -> bool:
        if self.all_disabled:
            return False
        if not self.chosen:
            return default_consent
        return self.usage_events_enabled

    def content_sharing_allowed(self) -> bool:
        return self.chosen and not self.all_disabled and self.content_sharing_enabled


_COLUMNS = (
    "all_disabled, usage_events_enabled, content_sharing_enabled, support_access_enabled, "
    "updated_at"
)


def _row_to_consent(row: tuple[Any, ...]) -> Consent:
    return Consent(
        all_disabled=bool(row[0]),
        usage_events_enabled=bool(row[1]),
        content_sharing_enabled=bool(row[2]),
        support_access_enabled=bool(row[3]),
        updated_at=row[4],
        chosen=True,
    )


def get_consent(conn: psycopg.Connection, *, user_id: str) -> Consent:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM telemetry_consent WHERE user_id = %s",
        (parse_user_id(user_id),),
    ).fetchone()
    return _row_to_consent(row) if row else Consent()


def get_many(conn: psycopg.Connection, *, user_ids: Iterable[str]) -> dict[str, Consent]:
    """Consent for several users in one query; users without a row get ``Consent()``."""
    ids = sorted(set(user_ids))
    found = {user_id: Consent() for user_id in ids}
    if not ids:
        return found
    rows = conn.execute(
        f"SELECT user_id, {_COLUMNS} FROM telemetry_consent WHERE user_id = ANY(%s)",
        ([parse_user_id(u) for u in ids],),
    ).fetchall()
    for row in rows:
        found[str(row[0])] = _row_to_consent(row[1:])
    return found


def put_consent(
    conn: psycopg.Connection,
    *,
    user_id: str,
    all_disabled: bool | None = None,
    usage_events_enabled: bool | None = None,
    content_sharing_enabled: bool | None = None,
    support_access_enabled: bool | None = None,
) -> Consent:
    """Change the given toggles (None leaves one as it is) in one statement; return the
    result. A first choice creates the row with every other toggle off."""
    row = conn.execute(
        "INSERT INTO telemetry_consent AS c (user_id, all_disabled, usage_events_enabled,"
        " content_sharing_enabled, support_access_enabled)"
        " VALUES (%(u)s, coalesce(%(a)s, false), coalesce(%(e)s, false),"
        "         coalesce(%(c)s, false), coalesce(%(s)s, false))"
        " ON CONFLICT (user_id) DO UPDATE SET"
        "  all_disabled = coalesce(%(a)s, c.all_disabled),"
        "  usage_events_enabled = coalesce(%(e)s, c.usage_events_enabled),"
        "  content_sharing_enabled = coalesce(%(c)s, c.content_sharing_enabled),"
        "  support_access_enabled = coalesce(%(s)s, c.support_access_enabled),"
        "  updated_at = now()"
        f" RETURNING {_COLUMNS}",
        {
            "u": parse_user_id(user_id),
            "a": all_disabled,
            "e": usage_events_enabled,
            "c": content_sharing_enabled,
            "s": support_access_enabled,
        },
    ).fetchone()
    assert row is not None
    return _row_to_consent(row)


class ConsentCache:
    """Remembers whether a user allows usage events for at most ``ttl`` seconds (≤ 30), so
    the request path never queries the database and a change still takes effect within
    the window. Thread-safe."""

    def __init__(self, *, ttl: float, default_consent: bool) -> None:
        self.ttl = ttl
        self.default_consent = default_consent
        self._lock = threading.Lock()
        self._answers: dict[str, tuple[bool, float]] = {}

    def known(self, user_id: str) -> bool | None:
        """The remembered answer, or None when unknown or too old."""
        with self._lock:
            entry = self._answers.get(user_id)
        if entry is None or time.monotonic() - entry[1] > self.ttl:
            return None
        return entry[0]

    def remember(self, answers: dict[str, Consent]) -> dict[str, bool]:
        now = time.monotonic()
        allowed = {
            user_id: consent.usage_allowed(default_consent=self.default_consent)
            for user_id, consent in answers.items()
        }
        with self._lock:
            for user_id, ok in allowed.items():
                self._answers[user_id] = (ok, now)
            if len(self._answers) > 100_000:
                # Bounded memory: forget the stale half rather than grow with every user.
                cutoff = now - self.ttl
                self._answers = {k: v for k, v in self._answers.items() if v[1] >= cutoff}
        return allowed

    def forget(self, user_id: str) -> None:
        with self._lock:
            self._answers.pop(user_id, None)
