"""Every allowed and every forbidden status transition, plus undo."""

from __future__ import annotations

import itertools

import pytest

from peregrine.lib.clock import now_iso
from peregrine.services import pipeline
from peregrine.storage.queries import events as event_q
from peregrine.storage.queries import jobs as job_q
from peregrine.storage.userdb import UserDB

ALLOWED = {
    ("pending", "approved"),
    ("pending", "dismissed"),
    ("pending", "archived"),
    ("approved", "applied"),
    ("approved", "dismissed"),
    ("applied", "survey"),
    ("applied", "phone_screen"),
    ("applied", "interviewing"),
    ("applied", "offer"),
    ("applied", "rejected"),
    ("applied", "withdrawn"),
    ("survey", "phone_screen"),
    ("survey", "rejected"),
    ("survey", "withdrawn"),
    ("phone_screen", "interviewing"),
    ("phone_screen", "rejected"),
    ("phone_screen", "withdrawn"),
    ("interviewing", "offer"),
    ("interviewing", "rejected"),
    ("interviewing", "withdrawn"),
    ("offer", "hired"),
    ("offer", "declined"),
    ("offer", "rejected"),
    ("offer", "withdrawn"),
}
# A path from pending to each status, used to put a job into a starting state.
PATHS = {
    "pending": [],
    "approved": ["approved"],
    "dismissed": ["dismissed"],
    "archived": ["archived"],
    "applied": ["approved", "applied"],
    "survey": ["approved", "applied", "survey"],
    "phone_screen": ["approved", "applied", "phone_screen"],
    "interviewing": ["approved", "applied", "interviewing"],
    "offer": ["approved", "applied", "offer"],
    "hired": ["approved", "applied", "offer", "hired"],
    "declined": ["approved", "applied", "offer", "declined"],
    "rejected": ["approved", "applied", "rejected"],
    "withdrawn": ["approved", "applied", "withdrawn"],
}
PAIRS = [(a, b) for a, b in itertools.product(pipeline.STATUSES, repeat=2)]


def new_job(db: UserDB, n: int = 1) -> int:
    with db.write() as conn:
        job_q.upsert_jobs(
            conn,
            jobs=[
                job_q.NewJob(title=f"Engineer {n}", url=f"https://jobs.example/{n}", company="Acme")
            ],
            now=now_iso(),
        )
        job_id = job_q.find_job_id_by_url(conn, url=f"https://jobs.example/{n}")
    assert job_id is not None
    return job_id


def job_in(db: UserDB, status: str) -> int:
    job_id = new_job(db)
    for step in PATHS[status]:
        pipeline.move(db, job_id=job_id, to_status=step)
    return job_id


def test_the_rules_table_matches_the_documented_transitions() -> None:
    table = {(a, b) for a, targets in pipeline.TRANSITIONS.items() for b in targets}
    assert table == ALLOWED


@pytest.mark.parametrize(("start", "target"), sorted(ALLOWED))
def test_allowed_transition(db: UserDB, start: str, target: str) -> None:
    job_id = job_in(db, start)
    result = pipeline.move(db, job_id=job_id, to_status=target, note="because")
    assert (result.from_status, result.to_status) == (start, target)
    with db.read() as conn:
        job = job_q.get_job(conn, job_id=job_id)
        history = event_q.events_for_job(conn, job_id=job_id)
    assert job is not None
    assert job.status == target
    assert (history[-1].from_status, history[-1].to_status, history[-1].note) == (
        start,
        target,
        "because",
    )
    if target == "rejected":
        assert job.rejection_stage == start


@pytest.mark.parametrize(("start", "target"), [p for p in PAIRS if p not in ALLOWED])
def test_forbidden_transition_names_both_states_and_writes_nothing(
    db: UserDB, start: str, target: str
) -> None:
    job_id = job_in(db, start)
    with db.read() as conn:
        before_events = len(event_q.events_for_job(conn, job_id=job_id))
    with pytest.raises(pipeline.TransitionError) as info:
        pipeline.move(db, job_id=job_id, to_status=target)
    assert repr(start) in str(info.value)
    assert repr(target) in str(info.value)
    with db.read() as conn:
        job = job_q.get_job(conn, job_id=job_id)
        assert job is not None
        assert job.status == start
        assert len(event_q.events_for_job(conn, job_id=job_id)) == before_events


def test_unknown_status_is_refused(db: UserDB) -> None:
    job_id = new_job(db)
    with pytest.raises(pipeline.TransitionError, match="unknown status 'interview'"):
        pipeline.move(db, job_id=job_id, to_status="interview")


def test_missing_job_is_reported(db: UserDB) -> None:
    with pytest.raises(pipeline.JobNotFoundError):
        pipeline.move(db, job_id=999, to_status="approved")


def test_dismissed_and_rejected_are_different(db: UserDB) -> None:
    dismissed = job_in(db, "dismissed")
    with db.read() as conn:
        job = job_q.get_job(conn, job_id=dismissed)
    assert job is not None
    assert job.status == "dismissed"
    assert job.rejection_stage is None


def test_applying_sets_a_follow_up_date(db: UserDB) -> None:
    job_id = job_in(db, "applied")
    with db.read() as conn:
        job = job_q.get_job(conn, job_id=job_id)
    assert job is not None
    assert job.applied_at is not None
    assert job.follow_up_on is not None
    assert job.follow_up_on > job.applied_at[:10]


def test_undo_restores_the_previous_status_and_keeps_the_audit(db: UserDB) -> None:
    job_id = job_in(db, "interviewing")
    pipeline.move(db, job_id=job_id, to_status="rejected")
    undone = pipeline.undo_last(db)
    assert undone is not None
    assert (undone.from_status, undone.to_status) == ("rejected", "interviewing")
    with db.read() as conn:
        job = job_q.get_job(conn, job_id=job_id)
        history = event_q.events_for_job(conn, job_id=job_id)
    assert job is not None
    assert job.status == "interviewing"
    assert job.rejection_stage is None
    assert history[-2].undone_at is not None
    assert history[-1].kind == "undo"
    # Undo again steps one further back, not onto the undo itself.
    again = pipeline.undo_last(db, job_id=job_id)
    assert again is not None
    assert again.to_status == "applied"


def test_undo_of_apply_clears_the_follow_up(db: UserDB) -> None:
    job_id = job_in(db, "applied")
    pipeline.undo_last(db, job_id=job_id)
    with db.read() as conn:
        job = job_q.get_job(conn, job_id=job_id)
    assert job is not None
    assert (job.status, job.applied_at, job.follow_up_on) == ("approved", None, None)


def test_undo_with_nothing_to_undo(db: UserDB) -> None:
    new_job(db)
    assert pipeline.undo_last(db) is None


def test_bulk_move_is_all_or_nothing(db: UserDB) -> None:
    a = new_job(db, 1)
    b = new_job(db, 2)
    pipeline.move(db, job_id=b, to_status="dismissed")
    with pytest.raises(pipeline.TransitionError):
        pipeline.move_many(db, job_ids=[a, b], to_status="approved")
    with db.read() as conn:
        job = job_q.get_job(conn, job_id=a)
    assert job is not None
    assert job.status == "pending"
