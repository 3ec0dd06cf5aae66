"""Inserts for the parts of a job search that have no query module yet.

Only the demo seeder writes these rows in bulk; each statement is a named function with
keyword-only arguments so the SQL stays readable and bound.
"""

from __future__ import annotations

import json
from typing import Any


def add_contact(
    conn: Any, *, job_id: int, name: str, role: str, email: str, notes: str, now: str
) -> int:
    cur = conn.execute(
        "INSERT INTO contacts (job_id, name, role, email, notes, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?)",
        (job_id, name, role, email, notes, now),
    )
    return int(cur.lastrowid)


def add_message(
    conn: Any,
    *,
    job_id: int,
    contact_id: int | None,
    direction: str,
    channel: str,
    subject: str,
    body: str,
    at: str,
) -> int:
    cur = conn.execute(
        "INSERT INTO messages (job_id, contact_id, direction, channel, subject, body, at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (job_id, contact_id, direction, channel, subject, body, at),
    )
    return int(cur.lastrowid)


def add_cover_letter(
    conn: Any,
    *,
    job_id: int,
    version: int,
    body: str,
    feedback: str,
    origin: str,
    backend: str,
    now: str,
) -> None:
    conn.execute(
        "INSERT INTO cover_letters (job_id, version, body, feedback, origin, backend, "
        "created_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (job_id, version, body, feedback, origin, backend, now),
    )
    conn.execute("UPDATE jobs SET cover_letter = ? WHERE id = ?", (body, job_id))


def add_research(
    conn: Any, *, job_id: int, company: str, brief: dict[str, str], sources: list[str], now: str
) -> None:
    conn.execute(
        "INSERT INTO company_research (job_id, company, brief, sources, created_at, "
        "updated_at) VALUES (?, ?, ?, ?, ?, ?)",
        (job_id, company, json.dumps(brief), json.dumps(sources), now, now),
    )


def add_interview_prep(
    conn: Any,
    *,
    job_id: int,
    talking_points: str,
    practice_qa: list[dict[str, str]],
    notes: str,
    now: str,
) -> None:
    conn.execute(
        "INSERT INTO interview_prep (job_id, talking_points, practice_qa, notes, updated_at) "
        "VALUES (?, ?, ?, ?, ?)",
        (job_id, talking_points, json.dumps(practice_qa), notes, now),
    )


def add_application_snapshot(
    conn: Any, *, job_id: int, letter_version: int, letter_body: str, resume_version: int, at: str
) -> None:
    conn.execute(
        "INSERT INTO application_snapshots (job_id, letter_version, letter_body, "
        "resume_version, created_at) VALUES (?, ?, ?, ?, ?)",
        (job_id, letter_version, letter_body, resume_version, at),
    )


def add_survey_response(conn: Any, *, job_id: int, question: str, answer: str, now: str) -> None:
    conn.execute(
        "INSERT INTO survey_responses (job_id, question, answer, created_at) VALUES (?, ?, ?, ?)",
        (job_id, question, answer, now),
    )


def set_job_details(
    conn: Any, *, job_id: int, notes: str, interview_at: str | None, interview_tz: str | None
) -> None:
    conn.execute(
        "UPDATE jobs SET notes = ?, interview_at = ?, interview_tz = ? WHERE id = ?",
        (notes, interview_at, interview_tz, job_id),
    )


def set_date_found(conn: Any, *, job_id: int, at: str) -> None:
    conn.execute("UPDATE jobs SET date_found = ?, updated_at = ? WHERE id = ?", (at, at, job_id))
