"""Stage history of jobs (the audit trail of every status change)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class JobEvent:
    id: int
    job_id: int
    from_status: str | None
    to_status: str
    at: str
    note: str
    rejection_stage: str | None
    kind: str
    undone_at: str | None

    @classmethod
    def from_row(cls, row: Any) -> JobEvent:
        return cls(**{k: row[k] for k in cls.__slots__})


_COLUMNS = "id, job_id, from_status, to_status, at, note, rejection_stage, kind, undone_at"


def record_event(
    conn: Any,
    *,
    job_id: int,
    from_status: str | None,
    to_status: str,
    at: str,
    note: str = "",
    rejection_stage: str | None = None,
    kind: str = "move",
) -> int:
    cur = conn.execute(
        "INSERT INTO job_events (job_id, from_status, to_status, at, note, rejection_stage, kind)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        (job_id, from_status, to_status, at, note, rejection_stage, kind),
    )
    return int(cur.lastrowid)


def events_for_job(conn: Any, *, job_id: int) -> list[JobEvent]:
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM job_events WHERE job_id = ? ORDER BY id", (job_id,)
    )
    return [JobEvent.from_row(r) for r in rows]


def last_undoable(conn: Any, *, job_id: int | None = None) -> JobEvent | None:
    """The most recent move not yet undone (of one job, or of any job)."""
    if job_id is None:
        row = conn.execute(
            f"SELECT {_COLUMNS} FROM job_events WHERE kind = 'move' AND undone_at IS NULL "
            "ORDER BY id DESC LIMIT 1"
        ).fetchone()
    else:
        row = conn.execute(
            f"SELECT {_COLUMNS} FROM job_events WHERE kind = 'move' AND undone_at IS NULL "
            "AND job_id = ? ORDER BY id DESC LIMIT 1",
            (job_id,),
        ).fetchone()
    return JobEvent.from_row(row) if row else None


def mark_undone(conn: Any, *, event_id: int, at: str) -> bool:
    cur = conn.execute(
        "UPDATE job_events SET undone_at = ? WHERE id = ? AND undone_at IS NULL", (at, event_id)
    )
    return bool(cur.rowcount == 1)
