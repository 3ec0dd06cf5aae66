"""Timestamps as Peregrine stores them: ISO-8601 in UTC, to the second."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


def now_iso() -> str:
    return utcnow().isoformat().replace("+00:00", "Z")


def parse_iso(value: str) -> datetime:
    """Parse a stored timestamp; naive values are taken as UTC."""
    parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)
