"""The pipeline rules: one explicit state machine for a job's status.

"I dismissed it in review" (``dismissed``) and "the employer rejected me" (``rejected``)
are different statuses; a rejection records the stage it happened at.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from peregrine.lib.clock import now_iso, utcnow
from peregrine.lib.statuses import STATUSES
from peregrine.storage.queries import events as event_q
from peregrine.storage.queries import jobs as job_q
from peregrine.storage.queries import preferences as pref_q
from peregrine.storage.userdb import UserDB

STATUS_LABELS: dict[str, str] = {
    "pending": "To review",
    "approved": "Approved",
    "dismissed": "Dismissed",
    "archived": "Archived",
    "applied": "Applied",
    "survey": "Survey",
    "phone_screen": "Phone screen",
    "interviewing": "Interviewing",
    "offer": "Offer",
    "hired": "Hired",
    "declined": "Declined",
    "rejected": "Rejected",
    "withdrawn": "Withdrawn",
}

# Stages after applying, where the employer can reject and the user can withdraw.
POST_APPLY_STAGES: tuple[str, ...] = ("applied", "survey", "phone_screen", "interviewing", "offer")
# Kanban columns, in order.
PIPELINE_COLUMNS: tuple[str, ...] = (*POST_APPLY_STAGES, "hired", "rejected")

TRANSITIONS: dict[str, frozenset[str]] = {
    "pending": frozenset({"approved", "dismissed", "archived"}),
    "approved": frozenset({"applied", "dismissed"}),
    "applied": frozenset(
        {"survey", "phone_screen", "interviewing", "offer", "rejected", "withdrawn"}
    ),
    "survey": frozenset({"phone_screen", "rejected", "withdrawn"}),
    "phone_screen": frozenset({"interviewing", "rejected", "withdrawn"}),
    "interviewing": frozenset({"offer", "rejected", "withdrawn"}),
    "offer": frozenset({"hired", "declined", "rejected", "withdrawn"}),
    "dismissed": frozenset(),
    "archived": frozenset(),
    "hired": frozenset(),
    "declined": frozenset(),
    "rejected": frozenset(),
    "withdrawn": frozenset(),
}

DEFAULT_FOLLOW_UP_DAYS = 7


class TransitionError(ValueError):
    """The move is not allowed by the pipeline rules; nothing was written."""


class JobNotFoundError(LookupError):
    pass


@dataclass(frozen=True, slots=True)
class MoveResult:
    job_id: int
    from_status: str
    to_status: str
    event_id: int


# Forward progress first, then the exits: the order moves are offered in.
_MOVE_ORDER: tuple[str, ...] = (
    "approved",
    "applied",
    "survey",
    "phone_screen",
    "interviewing",
    "offer",
    "hired",
    "declined",
    "dismissed",
    "archived",
    "rejected",
    "withdrawn",
)


def allowed_moves(status: str) -> list[str]:
    return [s for s in _MOVE_ORDER if s in TRANSITIONS.get(status, frozenset())]


def check_move(from_status: str, to_status: str) -> None:
    if to_status not in TRANSITIONS:
        raise TransitionError(
            f"unknown status {to_status!r}; known statuses: {', '.join(STATUSES)}"
        )
    if to_status not in TRANSITIONS.get(from_status, frozenset()):
        allowed = allowed_moves(from_status)
        hint = (
            f"from {from_status!r} it can go to: {', '.join(allowed)}"
            if allowed
            else (f"{from_status!r} is a final status")
        )
        raise TransitionError(f"cannot move a job from {from_status!r} to {to_status!r}; {hint}")


def follow_up_days(conn: Any) -> int:
    value = pref_q.get_preference(conn, key="follow_up_days", default=DEFAULT_FOLLOW_UP_DAYS)
    return value if isinstance(value, int) and 1 <= value <= 90 else DEFAULT_FOLLOW_UP_DAYS


def move_in(conn: Any, *, job_id: int, to_status: str, note: str = "", now: str) -> MoveResult:
    """Apply one move inside the caller's write transaction."""
    row = conn.execute("SELECT status FROM jobs WHERE id = ?", (job_id,)).fetchone()
    if row is None:
        raise JobNotFoundError(f"job {job_id} does not exist")
    from_status = row[0]
    check_move(from_status, to_status)
    extra = ""
    params: dict[str, Any] = {"to": to_status, "now": now, "id": job_id, "from": from_status}
    rejection_stage = None
    if to_status == "rejected":
        rejection_stage = from_status
        extra = ", rejection_stage = :from"
    elif to_status == "applied":
        follow = (date.fromisoformat(now[:10]) + timedelta(days=follow_up_days(conn))).isoformat()
        extra = ", applied_at = :now, follow_up_on = :follow"
        params["follow"] = follow
    # Conditional update: if another request moved the job since we read it, nothing changes.
    cur = conn.execute(
        f"UPDATE jobs SET status = :to, updated_at = :now{extra} WHERE id = :id AND status = :from",
        params,
    )
    if cur.rowcount != 1:
        raise TransitionError(f"job {job_id} changed while it was being moved; try again")
    event_id = event_q.record_event(
        conn,
        job_id=job_id,
        from_status=from_status,
        to_status=to_status,
        at=now,
        note=note,
        rejection_stage=rejection_stage,
    )
    return MoveResult(job_id, from_status, to_status, event_id)


def move(db: UserDB, *, job_id: int, to_status: str, note: str = "") -> MoveResult:
    with db.write() as conn:
        return move_in(conn, job_id=job_id, to_status=to_status, note=note, now=now_iso())


def move_many(db: UserDB, *, job_ids: list[int], to_status: str) -> list[MoveResult]:
    """Move several jobs at once: all of them, or (on any refusal) none."""
    now = now_iso()
    with db.write() as conn:
        return [move_in(conn, job_id=j, to_status=to_status, now=now) for j in job_ids]


def undo_last(db: UserDB, *, job_id: int | None = None) -> MoveResult | None:
    """Undo the most recent move (of one job, or of any job). Returns None if nothing to undo."""
    now = now_iso()
    with db.write() as conn:
        event = event_q.last_undoable(conn, job_id=job_id)
        if event is None or event.from_status is None:
            return None
        extra = ""
        if event.to_status == "rejected":
            extra = ", rejection_stage = NULL"
        elif event.to_status == "applied":
            extra = ", applied_at = NULL, follow_up_on = NULL"
        cur = conn.execute(
            f"UPDATE jobs SET status = ?, updated_at = ?{extra} WHERE id = ? AND status = ?",
            (event.from_status, now, event.job_id, event.to_status),
        )
        if cur.rowcount != 1:
            raise TransitionError(
                f"job {event.job_id} is no longer {event.to_status!r}; nothing to undo"
            )
        event_q.mark_undone(conn, event_id=event.id, at=now)
        undo_id = event_q.record_event(
            conn,
            job_id=event.job_id,
            from_status=event.to_status,
            to_status=event.from_status,
            at=now,
            note=f"undo of {STATUS_LABELS[event.to_status].lower()}",
            kind="undo",
        )
        return MoveResult(event.job_id, event.to_status, event.from_status, undo_id)


def due_follow_ups(conn: Any, *, today: date | None = None) -> list[job_q.Job]:
    return job_q.due_follow_ups(conn, day=(today or utcnow().date()).isoformat())
