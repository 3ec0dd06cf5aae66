"""Cover-letter versions, company research and interview prep rows of one job."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class LetterVersion:
    id: int
    job_id: int
    version: int
    body: str
    feedback: str
    origin: str
    backend: str
    created_at: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_LETTER = "id, job_id, version, body, feedback, origin, backend, created_at"


def list_versions(conn: Any, *, job_id: int) -> list[LetterVersion]:
    rows = conn.execute(
        f"SELECT {_LETTER} FROM cover_letters WHERE job_id = ? ORDER BY version DESC", (job_id,)
    )
    return [LetterVersion(*r) for r in rows]


def latest_version(conn: Any, *, job_id: int) -> LetterVersion | None:
    row = conn.execute(
        f"SELECT {_LETTER} FROM cover_letters WHERE job_id = ? ORDER BY version DESC LIMIT 1",
        (job_id,),
    ).fetchone()
    return LetterVersion(*row) if row else None


def get_version(conn: Any, *, job_id: int, version: int) -> LetterVersion | None:
    row = conn.execute(
        f"SELECT {_LETTER} FROM cover_letters WHERE job_id = ? AND version = ?", (job_id, version)
    ).fetchone()
    return LetterVersion(*row) if row else None


def add_version(
    conn: Any, *, job_id: int, body: str, origin: str, feedback: str, backend: str, now: str
) -> LetterVersion:
    """Store a new version (older ones stay) and make it the job's current letter."""
    row = conn.execute(
        "INSERT INTO cover_letters (job_id, version, body, feedback, origin, backend, created_at) "
        "VALUES (?, (SELECT coalesce(max(version), 0) + 1 FROM cover_letters WHERE job_id = ?), "
        f"?, ?, ?, ?, ?) RETURNING {_LETTER}",
        (job_id, job_id, body, feedback, origin, backend, now),
    ).fetchone()
    conn.execute(
        "UPDATE jobs SET cover_letter = ?, updated_at = ? WHERE id = ?", (body, now, job_id)
    )
    return LetterVersion(*row)


def get_research(conn: Any, *, job_id: int) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT company, brief, sources, created_at, updated_at FROM company_research "
        "WHERE job_id = ?",
        (job_id,),
    ).fetchone()
    if row is None:
        return None
    return {
        "company": row[0],
        "brief": json.loads(row[1]),
        "sources": json.loads(row[2]),
        "created_at": row[3],
        "updated_at": row[4],
    }


def save_research(
    conn: Any,
    *,
    job_id: int,
    company: str,
    brief: dict[str, str],
    sources: list[str],
    now: str,
) -> None:
    conn.execute(
        "INSERT INTO company_research (job_id, company, brief, sources, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (job_id) DO UPDATE SET company = excluded.company, "
        "brief = excluded.brief, sources = excluded.sources, updated_at = excluded.updated_at",
        (job_id, company, json.dumps(brief), json.dumps(sources), now, now),
    )


def get_prep(conn: Any, *, job_id: int) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT talking_points, practice_qa, recruiter_reply, notes, updated_at "
        "FROM interview_prep WHERE job_id = ?",
        (job_id,),
    ).fetchone()
    if row is None:
        return None
    return {
        "talking_points": row[0],
        "practice_qa": json.loads(row[1]),
        "recruiter_reply": row[2],
        "notes": row[3],
        "updated_at": row[4],
    }


def save_prep(
    conn: Any,
    *,
    job_id: int,
    talking_points: str,
    practice_qa: list[dict[str, str]],
    recruiter_reply: str,
    now: str,
) -> None:
    """Store generated prep; the user's own ``notes`` are never overwritten."""
    conn.execute(
        "INSERT INTO interview_prep (job_id, talking_points, practice_qa, recruiter_reply, "
        "updated_at) VALUES (?, ?, ?, ?, ?) ON CONFLICT (job_id) DO UPDATE SET "
        "talking_points = excluded.talking_points, practice_qa = excluded.practice_qa, "
        "recruiter_reply = excluded.recruiter_reply, updated_at = excluded.updated_at",
        (job_id, talking_points, json.dumps(practice_qa), recruiter_reply, now),
    )


def last_inbound_message(conn: Any, *, job_id: int) -> dict[str, Any] | None:
    row = conn.execute(
        "SELECT id, subject, body, at FROM messages WHERE job_id = ? AND direction = 'in' "
        "ORDER BY at DESC, id DESC LIMIT 1",
        (job_id,),
    ).fetchone()
    return dict(row) if row else None


def open_questions(conn: Any, *, job_id: int) -> list[dict[str, Any]]:
    rows = conn.execute(
        "SELECT id, question, answer FROM application_answers WHERE job_id = ? ORDER BY id",
        (job_id,),
    )
    return [dict(r) for r in rows]


def save_answer(conn: Any, *, answer_id: int, answer: str, now: str) -> None:
    conn.execute(
        "UPDATE application_answers SET answer = ?, updated_at = ? WHERE id = ?",
        (answer, now, answer_id),
    )
