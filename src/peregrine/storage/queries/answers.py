"""Application questions and answers: per job, plus reusable saved answers (job_id NULL)."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Answer:
    id: int
    job_id: int | None
    question: str
    answer: str
    created_at: str
    updated_at: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


_COLUMNS = "id, job_id, question, answer, created_at, updated_at"


def list_for_job(conn: Any, *, job_id: int) -> list[Answer]:
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM application_answers WHERE job_id = ? ORDER BY id", (job_id,)
    )
    return [Answer(*r) for r in rows]


def list_saved(conn: Any) -> list[Answer]:
    """Reusable answers, not tied to a job."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM application_answers WHERE job_id IS NULL ORDER BY question"
    )
    return [Answer(*r) for r in rows]


def get_answer(conn: Any, *, answer_id: int) -> Answer | None:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM application_answers WHERE id = ?", (answer_id,)
    ).fetchone()
    return Answer(*row) if row else None


def add_answer(conn: Any, *, job_id: int | None, question: str, answer: str, now: str) -> int:
    cur = conn.execute(
        "INSERT INTO application_answers (job_id, question, answer, created_at, updated_at) "
        "VALUES (?, ?, ?, ?, ?)",
        (job_id, question, answer, now, now),
    )
    return int(cur.lastrowid)


def update_answer(
    conn: Any, *, answer_id: int, job_id: int | None, question: str, answer: str, now: str
) -> bool:
    """Update one answer, only if it belongs to ``job_id`` (None: a saved answer)."""
    cur = conn.execute(
        "UPDATE application_answers SET question = ?, answer = ?, updated_at = ? "
        "WHERE id = ? AND job_id IS ?",
        (question, answer, now, answer_id, job_id),
    )
    return bool(cur.rowcount == 1)


def delete_answer(conn: Any, *, answer_id: int, job_id: int | None) -> bool:
    cur = conn.execute(
        "DELETE FROM application_answers WHERE id = ? AND job_id IS ?", (answer_id, job_id)
    )
    return bool(cur.rowcount == 1)


def set_answer(conn: Any, *, answer_id: int, answer: str, now: str) -> None:
    """Fill in the answer of one question (the prep task, which read the id itself)."""
    conn.execute(
        "UPDATE application_answers SET answer = ?, updated_at = ? WHERE id = ?",
        (answer, now, answer_id),
    )
