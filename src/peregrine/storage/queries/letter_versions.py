"""Cover-letter versions of a job: every save, generation or refinement is a new version, so
nothing the user wrote is ever overwritten. ``jobs.cover_letter`` mirrors the current one."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

ORIGINS = ("generated", "refined", "edited")


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


_COLUMNS = "id, job_id, version, body, feedback, origin, backend, created_at"


def list_versions(conn: Any, *, job_id: int) -> list[LetterVersion]:
    """Newest first."""
    rows = conn.execute(
        f"SELECT {_COLUMNS} FROM cover_letters WHERE job_id = ? ORDER BY version DESC", (job_id,)
    )
    return [LetterVersion(*r) for r in rows]


def get_version(conn: Any, *, job_id: int, version: int) -> LetterVersion | None:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM cover_letters WHERE job_id = ? AND version = ?",
        (job_id, version),
    ).fetchone()
    return LetterVersion(*row) if row else None


def latest_version(conn: Any, *, job_id: int) -> LetterVersion | None:
    row = conn.execute(
        f"SELECT {_COLUMNS} FROM cover_letters WHERE job_id = ? ORDER BY version DESC LIMIT 1",
        (job_id,),
    ).fetchone()
    return LetterVersion(*row) if row else None


def add_version(
    conn: Any,
    *,
    job_id: int,
    body: str,
    origin: str,
    now: str,
    feedback: str = "",
    backend: str = "",
) -> int:
    """Store a new version in the caller's write transaction and make it the current letter.

    The next number is computed inside the same ``BEGIN IMMEDIATE`` transaction, so two
    saves cannot pick the same number (and UNIQUE (job_id, version) would refuse it anyway).
    """
    if origin not in ORIGINS:
        raise ValueError(f"unknown letter origin {origin!r}")
    version = conn.execute(
        "SELECT coalesce(max(version), 0) + 1 FROM cover_letters WHERE job_id = ?", (job_id,)
    ).fetchone()[0]
    conn.execute(
        "INSERT INTO cover_letters (job_id, version, body, feedback, origin, backend, created_at) "
        "VALUES (?, ?, ?, ?, ?, ?, ?)",
        (job_id, version, body, feedback, origin, backend, now),
    )
    conn.execute(
        "UPDATE jobs SET cover_letter = ?, updated_at = ? WHERE id = ?", (body, now, job_id)
    )
    return int(version)
