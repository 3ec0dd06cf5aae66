"""Interview preparation: the company research brief and the user's prep notes for a job."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(frozen=True, slots=True)
class Research:
    company: str
    brief: dict[str, str]
    sources: list[str]
    updated_at: str
    created_at: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Prep:
    talking_points: str = ""
    practice_qa: list[dict[str, str]] = field(default_factory=list)
    notes: str = ""
    updated_at: str | None = None
    recruiter_reply: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def get_research(conn: Any, *, job_id: int) -> Research | None:
    row = conn.execute(
        "SELECT company, brief, sources, updated_at, created_at FROM company_research "
        "WHERE job_id = ?",
        (job_id,),
    ).fetchone()
    if row is None:
        return None
    brief = json.loads(row[1] or "{}")
    sources = json.loads(row[2] or "[]")
    # Written by the research task; anything unexpected degrades to text rather than failing.
    if not isinstance(brief, dict):
        brief = {"Brief": str(brief)}
    return Research(
        company=row[0],
        brief={str(k): str(v) for k, v in brief.items()},
        sources=[str(s) for s in sources] if isinstance(sources, list) else [],
        updated_at=row[3],
        created_at=row[4],
    )


def save_research(
    conn: Any, *, job_id: int, company: str, brief: dict[str, str], sources: list[str], now: str
) -> None:
    conn.execute(
        "INSERT INTO company_research (job_id, company, brief, sources, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (job_id) DO UPDATE SET company = excluded.company, "
        "brief = excluded.brief, sources = excluded.sources, updated_at = excluded.updated_at",
        (job_id, company, json.dumps(brief), json.dumps(sources), now, now),
    )


def get_prep(conn: Any, *, job_id: int) -> Prep:
    row = conn.execute(
        "SELECT talking_points, practice_qa, notes, updated_at, recruiter_reply "
        "FROM interview_prep WHERE job_id = ?",
        (job_id,),
    ).fetchone()
    if row is None:
        return Prep()
    qa = json.loads(row[1] or "[]")
    pairs = [
        {"question": str(p.get("question", "")), "answer": str(p.get("answer", ""))}
        for p in (qa if isinstance(qa, list) else [])
        if isinstance(p, dict)
    ]
    return Prep(
        talking_points=row[0],
        practice_qa=pairs,
        notes=row[2],
        updated_at=row[3],
        recruiter_reply=row[4] or "",
    )


def save_prep(
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
        "VALUES (?, ?, ?, ?, ?) ON CONFLICT (job_id) DO UPDATE SET "
        "talking_points = excluded.talking_points, practice_qa = excluded.practice_qa, "
        "notes = excluded.notes, updated_at = excluded.updated_at",
        (job_id, talking_points, json.dumps(practice_qa), notes, now),
    )


def merge_generated_prep(
    conn: Any,
    *,
    job_id: int,
    talking_points: str,
    practice_qa: list[dict[str, str]],
    recruiter_reply: str,
    now: str,
) -> None:
    """Add generated prep to what the user already has, in the caller's write transaction.

    Regenerating must never cost the user their own work: notes are untouched, talking
    points they already have are kept, their practice pairs stay first and only questions
    they do not have yet are appended.
    """
    current = get_prep(conn, job_id=job_id)
    seen = {p["question"].strip().casefold() for p in current.practice_qa}
    pairs = list(current.practice_qa)
    for pair in practice_qa:
        key = pair["question"].strip().casefold()
        if key and key not in seen:
            seen.add(key)
            pairs.append({"question": pair["question"], "answer": pair.get("answer", "")})
    conn.execute(
        "INSERT INTO interview_prep (job_id, talking_points, practice_qa, recruiter_reply, "
        "notes, updated_at) VALUES (?, ?, ?, ?, '', ?) ON CONFLICT (job_id) DO UPDATE SET "
        "talking_points = excluded.talking_points, practice_qa = excluded.practice_qa, "
        "recruiter_reply = excluded.recruiter_reply, updated_at = excluded.updated_at",
        (
            job_id,
            (current.talking_points.strip() and current.talking_points) or talking_points,
            json.dumps(pairs),
            recruiter_reply or current.recruiter_reply,
            now,
        ),
    )
