"""Pipeline: a kanban of applications by stage, and each job's notes, interview time and
contact log. Every move goes through the pipeline rules, by drag and drop or by buttons."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from peregrine.lib.clock import now_iso, utcnow
from peregrine.services import interviews, pipeline
from peregrine.storage.queries import contacts as contact_q
from peregrine.storage.queries import jobs as job_q
from peregrine.storage.userdb import UserDB
from peregrine.web import usage_events
from peregrine.web.deps import UserDBDep
from peregrine.web.forms import FormReader
from peregrine.web.render import flash, flashed, redirect, render, url
from peregrine.web.workspace import job_exists, require_job

router = APIRouter(include_in_schema=False)

CLOSED = ("withdrawn", "declined")
BOARD_LIMIT = 2000
# Approved jobs waiting for an application, listed above the board as links to Apply.
READY_LIMIT = 30
MAX_NOTES = 50_000
MOVE_LABELS = {
    "rejected": "Rejected here",
    "withdrawn": "Withdraw",
    "declined": "Decline offer",
    "hired": "Hired",
}
CHANNEL_LABELS = {
    "email": "E-mail",
    "phone": "Phone",
    "video": "Video call",
    "message": "Message",
    "in_person": "In person",
    "other": "Other",
}


@dataclass(frozen=True, slots=True)
class Column:
    status: str
    label: str
    jobs: list[job_q.Job]


_SENTINEL = 987_654_321


def url_maker(request: Request, name: str) -> Callable[[int], str]:
    """``url(name, job_id=…)`` for many jobs: route lookup walks every route, which made a
    board of a few hundred cards take over a second, so the path is built once."""
    template = url(request, name, job_id=_SENTINEL)
    return lambda job_id: template.replace(str(_SENTINEL), str(int(job_id)))


def move_label(status: str) -> str:
    return MOVE_LABELS.get(status, f"Move to {pipeline.STATUS_LABELS[status].lower()}")


def board(conn: Any) -> tuple[list[Column], Column]:
    flt = job_q.JobFilter(statuses=(*pipeline.PIPELINE_COLUMNS, *CLOSED))
    jobs, _ = job_q.list_jobs(conn, flt=flt, sort="newest", limit=BOARD_LIMIT)
    by_status: dict[str, list[job_q.Job]] = {}
    for job in jobs:
        by_status.setdefault(job.status, []).append(job)
    columns = [
        Column(s, pipeline.STATUS_LABELS[s], by_status.get(s, []))
        for s in pipeline.PIPELINE_COLUMNS
    ]
    closed = Column("closed", "Closed", [j for s in CLOSED for j in by_status.get(s, [])])
    return columns, closed


@router.get("/pipeline", response_class=HTMLResponse, name="pipeline")
def pipeline_page(request: Request, db: UserDBDep) -> HTMLResponse:
    with db.read() as conn:
        columns, closed = board(conn)
        ready, ready_total = job_q.list_jobs(
            conn, flt=job_q.JobFilter(statuses=("approved",)), sort="score", limit=READY_LIMIT
        )
    return render(
        request,
        "pipeline/index.html",
        {
            "columns": columns,
            "closed": closed,
            "ready": ready,
            "ready_total": ready_total,
            "allowed_moves": pipeline.allowed_moves,
            "move_label": move_label,
            "status_labels": pipeline.STATUS_LABELS,
            "today": utcnow().date().isoformat(),
            "move_url": url_maker(request, "pipeline_move"),
            "job_url": url_maker(request, "pipeline_job"),
        },
        active="pipeline",
    )


@router.post("/pipeline/{job_id}/move", name="pipeline_move")
async def pipeline_move(request: Request, db: UserDBDep, job_id: int) -> Response:
    form = FormReader(await request.form())
    to_status = form.choice("to_status", label="Stage", choices=pipeline.STATUSES, default="")
    back = form.choice("back", label="Back", choices=("board", "job"), default="board")
    await run_in_threadpool(job_exists, db, job_id)
    response = (
        redirect(request, "pipeline_job", job_id=job_id)
        if back == "job"
        else redirect(request, "pipeline")
    )
    if not form.ok:
        flash(response, request, "error", form.errors["to_status"])
        return response
    try:
        result = await run_in_threadpool(
            lambda: pipeline.move(db, job_id=job_id, to_status=to_status)
        )
    except pipeline.TransitionError as exc:
        flash(response, request, "error", f"Not moved: {exc}.")
        return response
    usage_events.jobs_moved(request, [result])
    flash(
        response,
        request,
        "success",
        f"Moved from {pipeline.STATUS_LABELS[result.from_status].lower()} to "
        f"{pipeline.STATUS_LABELS[result.to_status].lower()}.",
    )
    return response


def _job_context(db: UserDB, job_id: int) -> dict[str, Any]:
    with db.read() as conn:
        job = require_job(conn, job_id)
        contacts = contact_q.list_contacts(conn, job_id=job_id)
        messages = contact_q.list_messages(conn, job_id=job_id)
    when = interviews.from_stored(job.interview_at, job.interview_tz)
    return {
        "job": job,
        "contacts": contacts,
        "contact_names": {c.id: c.name for c in contacts},
        "messages": messages,
        "interview": when,
        "zones": interviews.zone_names(),
        "moves": [(s, move_label(s)) for s in pipeline.allowed_moves(job.status)],
        "status_labels": pipeline.STATUS_LABELS,
        "channels": CHANNEL_LABELS,
        "now_local": utcnow().strftime("%Y-%m-%dT%H:%M"),
        "errors": {},
        "values": {},
    }


def _job_page(
    request: Request, db: UserDB, job_id: int, *, status: int = 200, **extra: Any
) -> HTMLResponse:
    context = _job_context(db, job_id)
    context.update(extra)
    return render(request, "pipeline/job.html", context, status=status, active="pipeline")


@router.get("/pipeline/{job_id}", response_class=HTMLResponse, name="pipeline_job")
def pipeline_job(request: Request, db: UserDBDep, job_id: int) -> HTMLResponse:
    return _job_page(request, db, job_id)


async def _invalid(request: Request, db: UserDB, job_id: int, form: FormReader) -> Response:
    return await run_in_threadpool(
        lambda: _job_page(request, db, job_id, status=422, errors=form.errors, values=form.values)
    )


def _saved(request: Request, job_id: int, text: str, kind: str = "success") -> Response:
    return flashed(redirect(request, "pipeline_job", job_id=job_id), request, kind, text)


@router.post("/pipeline/{job_id}/notes", name="pipeline_notes")
async def save_notes(request: Request, db: UserDBDep, job_id: int) -> Response:
    form = FormReader(await request.form())
    notes = form.text("notes", label="Notes", max_len=MAX_NOTES)
    await run_in_threadpool(job_exists, db, job_id)
    if not form.ok:
        return await _invalid(request, db, job_id, form)

    def save() -> None:
        with db.write() as conn:
            job_q.update_job_fields(conn, job_id=job_id, values={"notes": notes}, now=now_iso())

    await run_in_threadpool(save)
    return _saved(request, job_id, "Notes saved.")


@router.post("/pipeline/{job_id}/interview", name="pipeline_interview")
async def save_interview(request: Request, db: UserDBDep, job_id: int) -> Response:
    form = FormReader(await request.form())
    clear = form.raw("action") == "clear"
    day = form.text("interview_date", label="Date", max_len=10)
    clock = form.text("interview_time", label="Time", max_len=8)
    zone = form.text("interview_tz", label="Time zone", max_len=64)
    when: interviews.InterviewTime | None = None
    if not clear:
        try:
            when = interviews.parse(day, clock, zone)
        except interviews.InterviewInputError as exc:
            form.errors.update(exc.errors)
    await run_in_threadpool(job_exists, db, job_id)
    if not form.ok:
        return await _invalid(request, db, job_id, form)
    values = {
        "interview_at": when.stored if when else None,
        "interview_tz": when.zone if when else None,
    }

    def save() -> None:
        with db.write() as conn:
            job_q.update_job_fields(conn, job_id=job_id, values=values, now=now_iso())

    await run_in_threadpool(save)
    if when is None:
        return _saved(request, job_id, "Interview time cleared.")
    return _saved(
        request,
        job_id,
        f"Interview set for {when.stored.replace('T', ' ')} ({when.zone}).",
    )


@router.get("/pipeline/{job_id}/interview.ics", name="pipeline_ics")
def interview_ics(db: UserDBDep, job_id: int) -> Response:
    job = job_exists(db, job_id)
    when = interviews.from_stored(job.interview_at, job.interview_tz)
    if when is None:
        raise HTTPException(404, "No interview time is set for this job.")
    body = interviews.ics(
        job_id=job.id,
        when=when,
        title=job.title,
        company=job.company,
        location=job.location,
        description=job.url,
    )
    return Response(
        body,
        media_type="text/calendar; charset=utf-8",
        headers={"content-disposition": f'attachment; filename="interview-{job.id}.ics"'},
    )


def read_contact(form: FormReader, prefix: str) -> dict[str, str]:
    values = {
        "name": form.text(f"{prefix}name", label="Name", max_len=200, required=True),
        "role": form.text(f"{prefix}role", label="Role", max_len=200),
        "email": form.text(f"{prefix}email", label="E-mail", max_len=254),
        "phone": form.text(f"{prefix}phone", label="Phone", max_len=50),
        "notes": form.text(f"{prefix}notes", label="Notes", max_len=5000),
    }
    if values["email"] and "@" not in values["email"]:
        form.errors[f"{prefix}email"] = "E-mail must look like name@example.org."
    return values


def read_message(form: FormReader, prefix: str, contact_ids: set[int]) -> dict[str, Any]:
    values: dict[str, Any] = {
        "direction": form.choice(
            f"{prefix}direction", label="Direction", choices=("in", "out"), default="in"
        ),
        "channel": form.choice(
            f"{prefix}channel", label="Channel", choices=CHANNEL_LABELS, default="email"
        ),
        "subject": form.text(f"{prefix}subject", label="Subject", max_len=300),
        "body": form.text(f"{prefix}body", label="What was said", max_len=20_000),
    }
    raw_at = form.text(f"{prefix}at", label="When", max_len=25)
    try:
        values["at"] = (
            datetime.fromisoformat(raw_at).replace(tzinfo=None).isoformat(timespec="minutes")
            if raw_at
            else utcnow().strftime("%Y-%m-%dT%H:%M")
        )
    except ValueError:
        form.errors[f"{prefix}at"] = "When: use a date and time like 2026-12-04 14:30."
    raw_contact = form.text(f"{prefix}contact_id", label="Contact", max_len=20)
    values["contact_id"] = None
    if raw_contact:
        if raw_contact.isdigit() and int(raw_contact) in contact_ids:
            values["contact_id"] = int(raw_contact)
        else:
            form.errors[f"{prefix}contact_id"] = "Contact: choose one of this job's contacts."
    if not values["subject"] and not values["body"]:
        form.errors[f"{prefix}body"] = "Write a subject or what was said."
    return values


def _contact_ids(db: UserDB, job_id: int) -> set[int]:
    with db.read() as conn:
        require_job(conn, job_id)
        return {c.id for c in contact_q.list_contacts(conn, job_id=job_id)}


@router.post("/pipeline/{job_id}/contacts", name="pipeline_contact_add")
async def add_contact(request: Request, db: UserDBDep, job_id: int) -> Response:
    form = FormReader(await request.form())
    values = read_contact(form, "contact-")
    await run_in_threadpool(job_exists, db, job_id)
    if not form.ok:
        return await _invalid(request, db, job_id, form)

    def save() -> None:
        with db.write() as conn:
            contact_q.add_contact(conn, job_id=job_id, values=values, now=now_iso())

    await run_in_threadpool(save)
    return _saved(request, job_id, f"Added {values['name']}.")


@router.post("/pipeline/{job_id}/contacts/{contact_id}", name="pipeline_contact_edit")
async def edit_contact(request: Request, db: UserDBDep, job_id: int, contact_id: int) -> Response:
    form = FormReader(await request.form())
    delete = form.raw("action") == "delete"
    values = {} if delete else read_contact(form, f"c{contact_id}-")
    await run_in_threadpool(job_exists, db, job_id)
    if not form.ok:
        return await _invalid(request, db, job_id, form)

    def save() -> bool:
        with db.write() as conn:
            if delete:
                return contact_q.delete_contact(conn, job_id=job_id, contact_id=contact_id)
            return contact_q.update_contact(
                conn, job_id=job_id, contact_id=contact_id, values=values
            )

    if not await run_in_threadpool(save):
        return _saved(request, job_id, "That contact does not exist any more.", "error")
    return _saved(request, job_id, "Contact deleted." if delete else "Contact saved.")


@router.post("/pipeline/{job_id}/messages", name="pipeline_message_add")
async def add_message(request: Request, db: UserDBDep, job_id: int) -> Response:
    form = FormReader(await request.form())
    ids = await run_in_threadpool(_contact_ids, db, job_id)
    values = read_message(form, "message-", ids)
    if not form.ok:
        return await _invalid(request, db, job_id, form)

    def save() -> None:
        with db.write() as conn:
            contact_q.add_message(conn, job_id=job_id, values=values)

    await run_in_threadpool(save)
    return _saved(request, job_id, "Logged.")


@router.post("/pipeline/{job_id}/messages/{message_id}", name="pipeline_message_edit")
async def edit_message(request: Request, db: UserDBDep, job_id: int, message_id: int) -> Response:
    form = FormReader(await request.form())
    delete = form.raw("action") == "delete"
    ids = await run_in_threadpool(_contact_ids, db, job_id)
    values = {} if delete else read_message(form, f"m{message_id}-", ids)
    if not form.ok:
        return await _invalid(request, db, job_id, form)

    def save() -> bool:
        with db.write() as conn:
            if delete:
                return contact_q.delete_message(conn, job_id=job_id, message_id=message_id)
            return contact_q.update_message(
                conn, job_id=job_id, message_id=message_id, values=values
            )

    if not await run_in_threadpool(save):
        return _saved(request, job_id, "That entry does not exist any more.", "error")
    return _saved(request, job_id, "Entry deleted." if delete else "Entry saved.")
