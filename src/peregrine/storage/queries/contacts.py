"""People at a company and the log of messages exchanged about a job."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

CHANNELS = ("email", "phone", "video", "message", "in_person", "other")
DIRECTIONS = ("in", "out")


@dataclass(frozen=True, slots=True)
class Contact:
    id: int
    job_id: int
    name: str
    role: str
    email: str
    phone: str
    notes: str
    created_at: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Message:
    id: int
    job_id: int
    contact_id: int | None
    direction: str
    channel: str
    subject: str
    body: str
    at: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_CONTACT = "id, job_id, name, role, email, phone, notes, created_at"
_MESSAGE = "id, job_id, contact_id, direction, channel, subject, body, at"


def list_contacts(conn: Any, *, job_id: int) -> list[Contact]:
    rows = conn.execute(f"SELECT {_CONTACT} FROM contacts WHERE job_id = ? ORDER BY id", (job_id,))
    return [Contact(*r) for r in rows]


def get_contact(conn: Any, *, job_id: int, contact_id: int) -> Contact | None:
    row = conn.execute(
        f"SELECT {_CONTACT} FROM contacts WHERE id = ? AND job_id = ?", (contact_id, job_id)
    ).fetchone()
    return Contact(*row) if row else None


def add_contact(conn: Any, *, job_id: int, values: dict[str, str], now: str) -> int:
    cur = conn.execute(
        "INSERT INTO contacts (job_id, name, role, email, phone, notes, created_at) "
        "VALUES (:job_id, :name, :role, :email, :phone, :notes, :now)",
        {**_contact_values(values), "job_id": job_id, "now": now},
    )
    return int(cur.lastrowid)


def update_contact(conn: Any, *, job_id: int, contact_id: int, values: dict[str, str]) -> bool:
    cur = conn.execute(
        "UPDATE contacts SET name = :name, role = :role, email = :email, phone = :phone, "
        "notes = :notes WHERE id = :id AND job_id = :job_id",
        {**_contact_values(values), "id": contact_id, "job_id": job_id},
    )
    return bool(cur.rowcount == 1)


def delete_contact(conn: Any, *, job_id: int, contact_id: int) -> bool:
    cur = conn.execute("DELETE FROM contacts WHERE id = ? AND job_id = ?", (contact_id, job_id))
    return bool(cur.rowcount == 1)


def _contact_values(values: dict[str, str]) -> dict[str, str]:
    return {k: values.get(k, "") for k in ("name", "role", "email", "phone", "notes")}


def list_messages(conn: Any, *, job_id: int) -> list[Message]:
    """Newest first."""
    rows = conn.execute(
        f"SELECT {_MESSAGE} FROM messages WHERE job_id = ? ORDER BY at DESC, id DESC", (job_id,)
    )
    return [Message(*r) for r in rows]


def add_message(conn: Any, *, job_id: int, values: dict[str, Any]) -> int:
    cur = conn.execute(
        "INSERT INTO messages (job_id, contact_id, direction, channel, subject, body, at) "
        "VALUES (:job_id, :contact_id, :direction, :channel, :subject, :body, :at)",
        {**_message_values(values), "job_id": job_id},
    )
    return int(cur.lastrowid)


def update_message(conn: Any, *, job_id: int, message_id: int, values: dict[str, Any]) -> bool:
    cur = conn.execute(
        "UPDATE messages SET contact_id = :contact_id, direction = :direction, "
        "channel = :channel, subject = :subject, body = :body, at = :at "
        "WHERE id = :id AND job_id = :job_id",
        {**_message_values(values), "id": message_id, "job_id": job_id},
    )
    return bool(cur.rowcount == 1)


def delete_message(conn: Any, *, job_id: int, message_id: int) -> bool:
    cur = conn.execute("DELETE FROM messages WHERE id = ? AND job_id = ?", (message_id, job_id))
    return bool(cur.rowcount == 1)


def _message_values(values: dict[str, Any]) -> dict[str, Any]:
    keys = ("contact_id", "direction", "channel", "subject", "body", "at")
    return {k: values.get(k) for k in keys}


def last_inbound_message(conn: Any, *, job_id: int) -> Message | None:
    """The newest message the recruiter sent about the job."""
    row = conn.execute(
        f"SELECT {_MESSAGE} FROM messages WHERE job_id = ? AND direction = 'in' "
        "ORDER BY at DESC, id DESC LIMIT 1",
        (job_id,),
    ).fetchone()
    return Message(*row) if row else None
