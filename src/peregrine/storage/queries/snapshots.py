"""Application snapshots: exactly what was sent when a job was marked applied."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Snapshot:
    id: int
    job_id: int
    letter_version: int | None
    letter_body: str
    resume_version: int | None
    answers: list[dict[str, str]]
    created_at: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def add_snapshot(
    conn: Any,
    *,
    job_id: int,
    letter_version: int | None,
    letter_body: str,
    resume_version: int | None,
    answers: list[dict[str, str]],
    now: str,
) -> int:
    cur = conn.execute(
        "INSERT INTO application_snapshots "
        "(job_id, letter_version, letter_body, resume_version, answers, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (job_id, letter_version, letter_body, resume_version, json.dumps(answers), now),
    )
    return int(cur.lastrowid)


def latest_snapshot(conn: Any, *, job_id: int) -> Snapshot | None:
    row = conn.execute(
        "SELECT id, job_id, letter_version, letter_body, resume_version, answers, created_at "
        "FROM application_snapshots WHERE job_id = ? ORDER BY id DESC LIMIT 1",
        (job_id,),
    ).fetchone()
    if row is None:
        return None
    answers = json.loads(row[5] or "[]")
    return Snapshot(row[0], row[1], row[2], row[3], row[4], answers, row[6])
