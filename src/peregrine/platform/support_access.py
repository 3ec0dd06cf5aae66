"""Temporary support access: a user lets support look at their account for 4–72 hours,
for one ticket, and can take it back at any time."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

from peregrine.platform.ids import parse_user_id

MIN_HOURS = 4
MAX_HOURS = 72
# A ticket reference is an identifier, not a message: it must not carry personal data.
_TICKET = re.compile(r"[A-Za-z0-9][A-Za-z0-9._#-]{2,63}")


class SupportAccessError(ValueError):
    """A grant request a person can correct (the message says how)."""


@dataclass(frozen=True)
class Grant:
    id: int
    ticket_ref: str
    granted_at: datetime
    expires_at: datetime
    revoked_at: datetime | None
    active: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "ticket_ref": self.ticket_ref,
            "granted_at": self.granted_at.isoformat(),
            "expires_at": self.expires_at.isoformat(),
            "revoked_at": self.revoked_at.isoformat() if self.revoked_at else None,
            "active": self.active,
        }


def check_request(*, hours: int, ticket_ref: str) -> tuple[int, str]:
    if type(hours) is not int or not MIN_HOURS <= hours <= MAX_HOURS:
        raise SupportAccessError(
            f"support access lasts between {MIN_HOURS} and {MAX_HOURS} hours; got {hours!r}"
        )
    ticket_ref = ticket_ref.strip() if isinstance(ticket_ref, str) else ""
    if not _TICKET.fullmatch(ticket_ref):
        raise SupportAccessError(
            "the ticket reference is the code support gave you (3–64 letters, digits, "
            "'.', '_', '#' or '-'), e.g. SUP-1234"
        )
    return hours, ticket_ref


_COLUMNS = (
    "id, ticket_ref, granted_at, expires_at, revoked_at,"
    " (revoked_at IS NULL AND expires_at > now())"
)


def _grant(row: tuple[Any, ...]) -> Grant:
    return Grant(int(row[0]), str(row[1]), row[2], row[3], row[4], bool(row[5]))


def grant(conn: psycopg.Connection, *, user_id: str, hours: int, ticket_ref: str) -> Grant:
    hours, ticket_ref = check_request(hours=hours, ticket_ref=ticket_ref)
    row = conn.execute(
        "INSERT INTO support_access_grants (user_id, ticket_ref, expires_at)"
        " VALUES (%s, %s, now() + make_interval(hours => %s))"
        f" RETURNING {_COLUMNS}",
        (parse_user_id(user_id), ticket_ref, hours),
    ).fetchone()
    assert row is not None
    return _grant(row)


def list_grants(conn: psycopg.Connection, *, user_id: str, limit: int = 20) -> list[Grant]:
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM support_access_grants WHERE user_id = %s"
        " ORDER BY granted_at DESC, id DESC LIMIT %s",
        (parse_user_id(user_id), limit),
    ).fetchall()
    return [_grant(row) for row in rows]


def revoke(conn: psycopg.Connection, *, user_id: str, grant_id: int) -> bool:
    """End a grant early. False when there is no such active grant *of this user* (an
    outsider's grant id looks exactly like a missing one)."""
    cur = conn.execute(
        "UPDATE support_access_grants SET revoked_at = now()"
        " WHERE id = %s AND user_id = %s AND revoked_at IS NULL AND expires_at > now()",
        (grant_id, parse_user_id(user_id)),
    )
    return cur.rowcount == 1


def has_active_grant(conn: psycopg.Connection, *, user_id: str) -> bool:
    row = conn.execute(
        "SELECT EXISTS (SELECT 1 FROM support_access_grants WHERE user_id = %s"
        " AND revoked_at IS NULL AND expires_at > now())",
        (parse_user_id(user_id),),
    ).fetchone()
    return bool(row and row[0])
