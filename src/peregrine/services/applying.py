"""Marking a job applied: the move and a frozen snapshot of what was sent, together."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from peregrine.lib.clock import now_iso
from peregrine.services import pipeline
from peregrine.storage.queries import answers as answer_q
from peregrine.storage.queries import jobs as job_q
from peregrine.storage.queries import letter_versions as letter_q
from peregrine.storage.queries import profile as profile_q
from peregrine.storage.queries import snapshots as snapshot_q
from peregrine.storage.userdb import UserDB


@dataclass(frozen=True, slots=True)
class Applied:
    move: pipeline.MoveResult
    snapshot_id: int
    follow_up_on: str | None


def mark_applied(db: UserDB, *, job_id: int, note: str = "") -> Applied:
    """Move the job to ``applied`` and snapshot letter, résumé version and answers.

    One transaction: if the move is refused, no snapshot is written, and a snapshot never
    exists for an application that did not happen.
    """
    now = now_iso()
    with db.write() as conn:
        result = pipeline.move_in(conn, job_id=job_id, to_status="applied", note=note, now=now)
        letter = letter_q.latest_version(conn, job_id=job_id)
        job = job_q.get_job(conn, job_id=job_id)
        assert job is not None  # move_in just found it, inside this transaction
        resume = profile_q.current_resume(conn)
        answers = [
            {"question": a.question, "answer": a.answer}
            for a in answer_q.list_for_job(conn, job_id=job_id)
        ]
        snapshot_id = snapshot_q.add_snapshot(
            conn,
            job_id=job_id,
            letter_version=letter.version if letter else None,
            # The letter text on the job is what the user last saw, even if it never
            # became a version (e.g. imported with the job).
            letter_body=letter.body if letter else job.cover_letter,
            resume_version=resume.version if resume else None,
            answers=answers,
            now=now,
        )
    return Applied(result, snapshot_id, job.follow_up_on)


class FollowUpError(ValueError):
    pass


def parse_follow_up(raw: str) -> str | None:
    """A follow-up date as typed (YYYY-MM-DD), or None to clear it."""
    raw = raw.strip()
    if not raw:
        return None
    try:
        return date.fromisoformat(raw).isoformat()
    except ValueError:
        raise FollowUpError(
            f"{raw!r} is not a date; use the form YYYY-MM-DD, e.g. 2026-12-04."
        ) from None
