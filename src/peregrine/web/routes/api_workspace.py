"""JSON API beside the Apply, Pipeline and Prep pages: letters, answers, notes, contacts,
messages, interview time, prep, and marking applied. Every route answers 404 for a job that
does not exist and 422 with a readable message for bad input."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import datetime
from typing import Any, Literal

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field

from peregrine.lib.clock import now_iso, utcnow
from peregrine.services import applying, interviews
from peregrine.storage.queries import answers as answer_q
from peregrine.storage.queries import contacts as contact_q
from peregrine.storage.queries import jobs as job_q
from peregrine.storage.queries import letter_versions as letter_q
from peregrine.storage.queries import prep as prep_q
from peregrine.storage.queries import snapshots as snapshot_q
from peregrine.storage.userdb import UserDB
from peregrine.web import usage_events
from peregrine.web.deps import UserDBDep
from peregrine.web.platform_deps import TASK_FEATURES, check_feature
from peregrine.web.routes.api_jobs import JobOut
from peregrine.web.routes.pages_pipeline import board
from peregrine.web.workspace import NO_TASKS, job_exists, require_job, task_queue

router = APIRouter(prefix="/api/v1", tags=["workspace"])


def _removed(db: UserDB, job_id: int | None, remove: Callable[[Any], bool], what: str) -> Response:
    """204 once ``remove`` deleted the item in one write transaction; 404 naming ``what``
    when it found nothing, or when ``job_id`` names no job."""
    with db.write() as conn:
        if job_id is not None:
            require_job(conn, job_id)
        if not remove(conn):
            raise HTTPException(404, f"{what} not found")
    return Response(status_code=204)


def _task_json(info: Any) -> dict[str, Any]:
    if dataclasses.is_dataclass(info) and not isinstance(info, type):
        return dataclasses.asdict(info)
    return dict(vars(info))


def _submit(
    request: Request, db: Any, *, kind: str, job_id: int, params: dict[str, Any] | None
) -> Response:
    queue = task_queue(request)
    if queue is None:
        raise HTTPException(503, NO_TASKS)
    job_exists(db, job_id)
    usage_events.remember_task_owner(request, db)
    info = queue.submit(db, kind=kind, job_id=job_id, params=params)
    return JSONResponse(_task_json(info), status_code=202)


# --- pipeline board -----------------------------------------------------------------------


@router.get("/pipeline")
def pipeline_board(db: UserDBDep) -> dict[str, Any]:
    """The kanban: one column per stage, plus the closed (withdrawn, declined) group."""
    with db.read() as conn:
        columns, closed = board(conn)
    return {
        "columns": [
            {"status": c.status, "label": c.label, "jobs": [JobOut.of(j) for j in c.jobs]}
            for c in columns
        ],
        "closed": [JobOut.of(j) for j in closed.jobs],
    }


# --- cover letters ------------------------------------------------------------------------


class LetterIn(BaseModel):
    body: str = Field(min_length=1, max_length=50_000)


class FeedbackIn(BaseModel):
    feedback: str = Field(default="", max_length=2_000)


def _letter(v: letter_q.LetterVersion) -> dict[str, Any]:
    return dataclasses.asdict(v)


# Listing, saving and generating letters live in api_letters.py (the same paths).


@router.post("/jobs/{job_id}/letters/{version}/restore", status_code=201)
def restore_letter(db: UserDBDep, job_id: int, version: int) -> dict[str, Any]:
    """Make an old version current again, as a new version with the same text."""
    with db.write() as conn:
        require_job(conn, job_id)
        old = letter_q.get_version(conn, job_id=job_id, version=version)
        if old is None:
            raise HTTPException(404, f"letter version {version} not found")
        new = letter_q.add_version(
            conn,
            job_id=job_id,
            body=old.body,
            origin="edited",
            feedback=f"restored from version {version}",
            now=now_iso(),
        )
        return _letter(letter_q.get_version(conn, job_id=job_id, version=new))  # type: ignore[arg-type]


# --- application answers ------------------------------------------------------------------


class AnswerIn(BaseModel):
    question: str = Field(min_length=1, max_length=1_000)
    answer: str = Field(default="", max_length=10_000)


def _clean(body: AnswerIn) -> tuple[str, str]:
    question = body.question.strip()
    if not question:
        raise HTTPException(422, "question: the question is empty")
    return question, body.answer.strip()


@router.get("/jobs/{job_id}/answers")
def list_answers(db: UserDBDep, job_id: int) -> dict[str, Any]:
    with db.read() as conn:
        require_job(conn, job_id)
        return {"items": [a.to_dict() for a in answer_q.list_for_job(conn, job_id=job_id)]}


@router.post("/jobs/{job_id}/answers", status_code=201)
def add_answer(db: UserDBDep, job_id: int, body: AnswerIn) -> dict[str, Any]:
    question, answer = _clean(body)
    with db.write() as conn:
        require_job(conn, job_id)
        new_id = answer_q.add_answer(
            conn, job_id=job_id, question=question, answer=answer, now=now_iso()
        )
        return answer_q.get_answer(conn, answer_id=new_id).to_dict()  # type: ignore[union-attr]


@router.put("/jobs/{job_id}/answers/{answer_id}")
def edit_answer(db: UserDBDep, job_id: int, answer_id: int, body: AnswerIn) -> dict[str, Any]:
    question, answer = _clean(body)
    with db.write() as conn:
        require_job(conn, job_id)
        if not answer_q.update_answer(
            conn,
            answer_id=answer_id,
            job_id=job_id,
            question=question,
            answer=answer,
            now=now_iso(),
        ):
            raise HTTPException(404, f"answer {answer_id} not found")
        return answer_q.get_answer(conn, answer_id=answer_id).to_dict()  # type: ignore[union-attr]


@router.delete("/jobs/{job_id}/answers/{answer_id}", status_code=204)
def delete_answer(db: UserDBDep, job_id: int, answer_id: int) -> Response:
    return _removed(
        db, job_id, lambda c: answer_q.delete_answer(c, answer_id=answer_id, job_id=job_id),
        f"answer {answer_id}",
    )  # fmt: skip


@router.get("/answers")
def list_saved_answers(db: UserDBDep) -> dict[str, Any]:
    """Reusable saved answers (not tied to a job)."""
    with db.read() as conn:
        return {"items": [a.to_dict() for a in answer_q.list_saved(conn)]}


@router.post("/answers", status_code=201)
def add_saved_answer(db: UserDBDep, body: AnswerIn) -> dict[str, Any]:
    question, answer = _clean(body)
    with db.write() as conn:
        new_id = answer_q.add_answer(
            conn, job_id=None, question=question, answer=answer, now=now_iso()
        )
        return answer_q.get_answer(conn, answer_id=new_id).to_dict()  # type: ignore[union-attr]


@router.delete("/answers/{answer_id}", status_code=204)
def delete_saved_answer(db: UserDBDep, answer_id: int) -> Response:
    return _removed(
        db, None, lambda c: answer_q.delete_answer(c, answer_id=answer_id, job_id=None),
        f"saved answer {answer_id}",
    )  # fmt: skip


# --- notes, follow-up, applying -----------------------------------------------------------


class NotesIn(BaseModel):
    notes: str = Field(max_length=50_000)


class FollowUpIn(BaseModel):
    follow_up_on: str | None = Field(default=None, max_length=10)


@router.put("/jobs/{job_id}/notes")
def save_notes(db: UserDBDep, job_id: int, body: NotesIn) -> dict[str, Any]:
    with db.write() as conn:
        require_job(conn, job_id)
        job_q.update_job_fields(conn, job_id=job_id, values={"notes": body.notes}, now=now_iso())
    return {"job_id": job_id, "notes": body.notes}


@router.put("/jobs/{job_id}/follow-up")
def save_follow_up(db: UserDBDep, job_id: int, body: FollowUpIn) -> dict[str, Any]:
    try:
        day = applying.parse_follow_up(body.follow_up_on or "")
    except applying.FollowUpError as exc:
        raise HTTPException(422, f"follow_up_on: {exc}") from None
    with db.write() as conn:
        require_job(conn, job_id)
        job_q.update_job_fields(conn, job_id=job_id, values={"follow_up_on": day}, now=now_iso())
    return {"job_id": job_id, "follow_up_on": day}


@router.post("/jobs/{job_id}/apply")
def mark_applied(db: UserDBDep, job_id: int) -> dict[str, Any]:
    """Move the job to ``applied`` and freeze a snapshot of what was sent, together."""
    job_exists(db, job_id)
    result = applying.mark_applied(db, job_id=job_id)
    return {
        "job_id": job_id,
        "from_status": result.move.from_status,
        "to_status": result.move.to_status,
        "snapshot_id": result.snapshot_id,
        "follow_up_on": result.follow_up_on,
    }


@router.get("/jobs/{job_id}/snapshot")
def get_snapshot(db: UserDBDep, job_id: int) -> dict[str, Any]:
    with db.read() as conn:
        require_job(conn, job_id)
        snapshot = snapshot_q.latest_snapshot(conn, job_id=job_id)
    if snapshot is None:
        raise HTTPException(404, "no application snapshot yet; it is taken when marked applied")
    return snapshot.to_dict()


# --- interview time -----------------------------------------------------------------------


class InterviewIn(BaseModel):
    date: str = Field(max_length=10, examples=["2026-12-04"])
    time: str = Field(max_length=8, examples=["14:30"])
    tz: str = Field(max_length=64, examples=["Europe/Berlin"])


def _interview(job: job_q.Job) -> dict[str, Any]:
    when = interviews.from_stored(job.interview_at, job.interview_tz)
    return {
        "job_id": job.id,
        "interview_at": when.stored if when else None,
        "interview_tz": when.zone if when else None,
        "utc": when.utc.isoformat().replace("+00:00", "Z") if when else None,
    }


@router.get("/jobs/{job_id}/interview")
def get_interview(db: UserDBDep, job_id: int) -> dict[str, Any]:
    return _interview(job_exists(db, job_id))


@router.put("/jobs/{job_id}/interview")
def set_interview(db: UserDBDep, job_id: int, body: InterviewIn) -> dict[str, Any]:
    """Set the interview as a wall-clock time in an IANA time zone."""
    try:
        when = interviews.parse(body.date, body.time, body.tz)
    except interviews.InterviewInputError as exc:
        raise HTTPException(422, str(exc)) from None
    if when is None:
        raise HTTPException(422, "date and time are required (DELETE clears the interview)")
    with db.write() as conn:
        require_job(conn, job_id)
        job_q.update_job_fields(
            conn,
            job_id=job_id,
            values={"interview_at": when.stored, "interview_tz": when.zone},
            now=now_iso(),
        )
        return _interview(require_job(conn, job_id))


@router.delete("/jobs/{job_id}/interview")
def clear_interview(db: UserDBDep, job_id: int) -> dict[str, Any]:
    with db.write() as conn:
        require_job(conn, job_id)
        job_q.update_job_fields(
            conn, job_id=job_id, values={"interview_at": None, "interview_tz": None}, now=now_iso()
        )
        return _interview(require_job(conn, job_id))


# --- contacts and the contact log ---------------------------------------------------------


class ContactIn(BaseModel):
    name: str = Field(min_length=1, max_length=200)
    role: str = Field(default="", max_length=200)
    email: str = Field(default="", max_length=254)
    phone: str = Field(default="", max_length=50)
    notes: str = Field(default="", max_length=5_000)


def _contact_values(body: ContactIn) -> dict[str, str]:
    values = {k: v.strip() for k, v in body.model_dump().items()}
    if not values["name"]:
        raise HTTPException(422, "name: the name is empty")
    if values["email"] and "@" not in values["email"]:
        raise HTTPException(422, "email: must look like name@example.org")
    return values


@router.get("/jobs/{job_id}/contacts")
def list_contacts(db: UserDBDep, job_id: int) -> dict[str, Any]:
    with db.read() as conn:
        require_job(conn, job_id)
        return {"items": [c.to_dict() for c in contact_q.list_contacts(conn, job_id=job_id)]}


@router.post("/jobs/{job_id}/contacts", status_code=201)
def add_contact(db: UserDBDep, job_id: int, body: ContactIn) -> dict[str, Any]:
    values = _contact_values(body)
    with db.write() as conn:
        require_job(conn, job_id)
        new_id = contact_q.add_contact(conn, job_id=job_id, values=values, now=now_iso())
        return contact_q.get_contact(conn, job_id=job_id, contact_id=new_id).to_dict()  # type: ignore[union-attr]


@router.put("/jobs/{job_id}/contacts/{contact_id}")
def edit_contact(db: UserDBDep, job_id: int, contact_id: int, body: ContactIn) -> dict[str, Any]:
    values = _contact_values(body)
    with db.write() as conn:
        require_job(conn, job_id)
        if not contact_q.update_contact(conn, job_id=job_id, contact_id=contact_id, values=values):
            raise HTTPException(404, f"contact {contact_id} not found")
        return contact_q.get_contact(conn, job_id=job_id, contact_id=contact_id).to_dict()  # type: ignore[union-attr]


@router.delete("/jobs/{job_id}/contacts/{contact_id}", status_code=204)
def delete_contact(db: UserDBDep, job_id: int, contact_id: int) -> Response:
    return _removed(
        db, job_id, lambda c: contact_q.delete_contact(c, job_id=job_id, contact_id=contact_id),
        f"contact {contact_id}",
    )  # fmt: skip


class MessageIn(BaseModel):
    direction: Literal["in", "out"] = "in"
    channel: Literal["email", "phone", "video", "message", "in_person", "other"] = "email"
    contact_id: int | None = None
    subject: str = Field(default="", max_length=300)
    body: str = Field(default="", max_length=20_000)
    at: str | None = Field(default=None, max_length=25, examples=["2026-12-04T14:30"])


def _message_values(conn: Any, job_id: int, body: MessageIn) -> dict[str, Any]:
    values = body.model_dump()
    if not values["subject"].strip() and not values["body"].strip():
        raise HTTPException(422, "subject or body: write a subject or what was said")
    try:
        at = datetime.fromisoformat(body.at) if body.at else utcnow()
    except ValueError:
        raise HTTPException(422, "at: use a date and time like 2026-12-04T14:30") from None
    values["at"] = at.replace(tzinfo=None).isoformat(timespec="minutes")
    if body.contact_id is not None and (
        contact_q.get_contact(conn, job_id=job_id, contact_id=body.contact_id) is None
    ):
        raise HTTPException(422, f"contact_id: contact {body.contact_id} is not one of this job's")
    return values


def _message(conn: Any, job_id: int, message_id: int) -> dict[str, Any]:
    for m in contact_q.list_messages(conn, job_id=job_id):
        if m.id == message_id:
            return m.to_dict()
    raise HTTPException(404, f"message {message_id} not found")


@router.get("/jobs/{job_id}/messages")
def list_messages(db: UserDBDep, job_id: int) -> dict[str, Any]:
    with db.read() as conn:
        require_job(conn, job_id)
        return {"items": [m.to_dict() for m in contact_q.list_messages(conn, job_id=job_id)]}


@router.post("/jobs/{job_id}/messages", status_code=201)
def add_message(db: UserDBDep, job_id: int, body: MessageIn) -> dict[str, Any]:
    with db.write() as conn:
        require_job(conn, job_id)
        values = _message_values(conn, job_id, body)
        return _message(conn, job_id, contact_q.add_message(conn, job_id=job_id, values=values))


@router.put("/jobs/{job_id}/messages/{message_id}")
def edit_message(db: UserDBDep, job_id: int, message_id: int, body: MessageIn) -> dict[str, Any]:
    with db.write() as conn:
        require_job(conn, job_id)
        values = _message_values(conn, job_id, body)
        if not contact_q.update_message(conn, job_id=job_id, message_id=message_id, values=values):
            raise HTTPException(404, f"message {message_id} not found")
        return _message(conn, job_id, message_id)


@router.delete("/jobs/{job_id}/messages/{message_id}", status_code=204)
def delete_message(db: UserDBDep, job_id: int, message_id: int) -> Response:
    return _removed(
        db, job_id, lambda c: contact_q.delete_message(c, job_id=job_id, message_id=message_id),
        f"message {message_id}",
    )  # fmt: skip


# --- interview prep -----------------------------------------------------------------------


class QAPair(BaseModel):
    question: str = Field(min_length=1, max_length=1_000)
    answer: str = Field(default="", max_length=10_000)


class PrepIn(BaseModel):
    talking_points: str = Field(default="", max_length=50_000)
    practice_qa: list[QAPair] = Field(default_factory=list, max_length=100)
    notes: str = Field(default="", max_length=50_000)


class GenerateIn(BaseModel):
    kind: Literal["research", "prep"]


def _prep(conn: Any, job_id: int) -> dict[str, Any]:
    research = prep_q.get_research(conn, job_id=job_id)
    return {
        **prep_q.get_prep(conn, job_id=job_id).to_dict(),
        "research": dataclasses.asdict(research) if research else None,
    }


@router.get("/jobs/{job_id}/prep")
def get_prep(db: UserDBDep, job_id: int) -> dict[str, Any]:
    """Talking points, practice Q&A, notes and the research brief."""
    with db.read() as conn:
        require_job(conn, job_id)
        return _prep(conn, job_id)


@router.put("/jobs/{job_id}/prep")
def save_prep(db: UserDBDep, job_id: int, body: PrepIn) -> dict[str, Any]:
    pairs = [{"question": p.question.strip(), "answer": p.answer.strip()} for p in body.practice_qa]
    if any(not p["question"] for p in pairs):
        raise HTTPException(422, "practice_qa: every pair needs a question")
    with db.write() as conn:
        require_job(conn, job_id)
        prep_q.save_prep(
            conn,
            job_id=job_id,
            talking_points=body.talking_points,
            practice_qa=pairs,
            notes=body.notes,
            now=now_iso(),
        )
        return _prep(conn, job_id)


@router.post("/jobs/{job_id}/prep/generate", status_code=202)
def generate_prep(request: Request, db: UserDBDep, job_id: int, body: GenerateIn) -> Response:
    """Start a ``research`` or ``prep`` task for the job."""
    check_feature(request, TASK_FEATURES[body.kind])
    return _submit(request, db, kind=body.kind, job_id=job_id, params=None)
