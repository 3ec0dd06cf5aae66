"""Read-only figures for the Home dashboard, drawn from jobs and their stage history."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class StageVisit:
    job_id: int
    status: str
    at: str


def stage_visits(conn: Any) -> list[StageVisit]:
    """Every stage each job has been moved to and not undone, plus its current status.

    The current status is included because a job imported as already applied may have no
    event for it.
    """
    rows = conn.execute(
        "SELECT job_id, to_status, at FROM job_events "
        "WHERE kind = 'move' AND undone_at IS NULL "
        "UNION ALL SELECT id, status, coalesce(applied_at, updated_at) FROM jobs "
        "ORDER BY 1, 3"
    )
    return [StageVisit(r[0], r[1], r[2]) for r in rows]


def sources_of(conn: Any) -> dict[int, str]:
    """The first source of each job that has been applied to."""
    return {
        r[0]: r[1]
        for r in conn.execute(
            "SELECT id, source FROM jobs WHERE applied_at IS NOT NULL OR status IN "
            "('applied', 'survey', 'phone_screen', 'interviewing', 'offer', 'hired', "
            "'declined', 'rejected', 'withdrawn')"
        )
    }
