"""Apply workspace: the job beside the user's materials, the cover letter with its versions,
application questions, and marking the job applied (with a snapshot of what was sent)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from peregrine.lib.clock import now_iso
from peregrine.lib.html import sanitise
from peregrine.services import applying, pipeline
from peregrine.services.resume_parser import StructuredResume
from peregrine.storage.queries import answers as answer_q
from peregrine.storage.queries import jobs as job_q
from peregrine.storage.queries import letter_versions as letter_q
from peregrine.storage.queries import profile as profile_q
from peregrine.storage.queries import snapshots as snapshot_q
from peregrine.storage.userdb import UserDB
from peregrine.web import usage_events
from peregrine.web.deps import UserDBDep
from peregrine.web.forms import FormReader
from peregrine.web.platform_deps import feature_refusal
from peregrine.web.render import flash, flashed, redirect, render
from peregrine.web.routes import api_letters
from peregrine.web.workspace import job_exists, latest_tasks, require_job, submit_task

router = APIRouter(include_in_schema=False)

MAX_LETTER = 50_000
MAX_FEEDBACK = 2_000
MAX_QUESTION = 1_000
MAX_ANSWER = 10_000


def _context(request: Request, db: UserDB, job_id: int) -> dict[str, Any]:
    with db.read() as conn:
        job = require_job(conn, job_id)
        profile = profile_q.get_profile(conn)
        resume = profile_q.current_resume(conn)
        versions = letter_q.list_versions(conn, job_id=job_id)
        answers = answer_q.list_for_job(conn, job_id=job_id)
        saved = answer_q.list_saved(conn)
        snapshot = snapshot_q.latest_snapshot(conn, job_id=job_id)
    return {
        "job": job,
        "description_html": sanitise(job.description),
        "profile": profile,
        "resume": StructuredResume.from_dict(resume.structured) if resume else None,
        "resume_version": resume.version if resume else None,
        "versions": versions,
        "answers": answers,
        "saved_answers": saved,
        "snapshot": snapshot,
        "tasks": latest_tasks(request, db, job_id=job_id),
        "can_apply": "applied" in pipeline.allowed_moves(job.status),
        "status_label": pipeline.STATUS_LABELS[job.status],
        "status_labels": pipeline.STATUS_LABELS,
        "errors": {},
        "values": {},
    }


def _page(
    request: Request, db: UserDB, job_id: int, *, status: int = 200, **extra: Any
) -> HTMLResponse:
    context = _context(request, db, job_id)
    context.update(extra)
    return render(request, "apply/index.html", context, status=status, active="pipeline")


@router.get("/apply/{job_id}", response_class=HTMLResponse, name="apply")
def apply_page(request: Request, db: UserDBDep, job_id: int) -> HTMLResponse:
    return _page(request, db, job_id)


def _invalid(request: Request, db: UserDB, job_id: int, form: FormReader) -> HTMLResponse:
    return _page(request, db, job_id, status=422, errors=form.errors, values=form.values)


@router.post("/apply/{job_id}/letter", name="apply_letter_save")
async def save_letter(request: Request, db: UserDBDep, job_id: int) -> Response:
    form = FormReader(await request.form())
    body = form.text("letter", label="Cover letter", max_len=MAX_LETTER, required=True)
    # Keep the letter exactly as typed (inner spacing and line breaks matter).
    body = form.raw("letter").replace("\r\n", "\n").strip()
    form.values["letter"] = form.raw("letter")
    await run_in_threadpool(job_exists, db, job_id)
    if not form.ok:
        return await run_in_threadpool(_invalid, request, db, job_id, form)

    def save() -> int:
        with db.write() as conn:
            require_job(conn, job_id)
            return letter_q.add_version(
                conn, job_id=job_id, body=body, origin="edited", now=now_iso()
            )

    version = await run_in_threadpool(save)
    return flashed(
        redirect(request, "apply", job_id=job_id),
        request,
        "success",
        f"Saved as version {version}.",
    )


@router.post("/apply/{job_id}/letter/restore", name="apply_letter_restore")
async def restore_letter(request: Request, db: UserDBDep, job_id: int) -> Response:
    form = FormReader(await request.form())
    number = form.integer("version", label="Version", low=1, high=1_000_000, default=0)
    response = redirect(request, "apply", job_id=job_id)

    def restore() -> int | None:
        with db.write() as conn:
            require_job(conn, job_id)
            old = letter_q.get_version(conn, job_id=job_id, version=number)
            if old is None:
                return None
            # Restoring adds a new version with the old text: history only grows.
            return letter_q.add_version(
                conn,
                job_id=job_id,
                body=old.body,
                origin="edited",
                feedback=f"restored from version {number}",
                now=now_iso(),
            )

    version = await run_in_threadpool(restore) if form.ok else None
    if version is None:
        flash(response, request, "error", "That letter version does not exist.")
    else:
        flash(response, request, "success", f"Restored version {number} as version {version}.")
    return response


@router.post("/apply/{job_id}/letter/generate", name="apply_letter_generate")
async def generate_letter(request: Request, db: UserDBDep, job_id: int) -> Response:
    form = FormReader(await request.form())
    feedback = form.text("feedback", label="Feedback", max_len=MAX_FEEDBACK)
    await run_in_threadpool(job_exists, db, job_id)
    if not form.ok:
        return await run_in_threadpool(_invalid, request, db, job_id, form)
    refused = feature_refusal(request, "cover_letter")
    if refused is not None:
        return flashed(
            redirect(request, "apply", job_id=job_id), request, "error", f"Not started: {refused}."
        )
    kind, message = await run_in_threadpool(
        lambda: submit_task(
            request, db, kind="cover_letter", job_id=job_id, params={"feedback": feedback}
        )
    )
    return flashed(redirect(request, "apply", job_id=job_id), request, kind, message)


@router.get("/apply/{job_id}/letter.pdf", name="apply_letter_pdf")
def letter_pdf(db: UserDBDep, job_id: int) -> Response:
    """The newest letter version as a one-page PDF (the same renderer as the API)."""
    job_exists(db, job_id)
    with db.read() as conn:
        latest = letter_q.latest_version(conn, job_id=job_id)
    if latest is None:
        raise HTTPException(404, "There is no letter for this job yet; write or generate one.")
    return api_letters.letter_as_pdf(db, job_id, latest.version)


@router.post("/apply/{job_id}/answers", name="apply_answer_add")
async def add_answer(request: Request, db: UserDBDep, job_id: int) -> Response:
    form = FormReader(await request.form())
    question = form.text("question", label="Question", max_len=MAX_QUESTION, required=True)
    answer = form.text("answer", label="Answer", max_len=MAX_ANSWER)
    reusable = form.boolean("reusable")
    await run_in_threadpool(job_exists, db, job_id)
    if not form.ok:
        return await run_in_threadpool(_invalid, request, db, job_id, form)

    def save() -> None:
        now = now_iso()
        with db.write() as conn:
            require_job(conn, job_id)
            answer_q.add_answer(conn, job_id=job_id, question=question, answer=answer, now=now)
            if reusable:
                answer_q.add_answer(conn, job_id=None, question=question, answer=answer, now=now)

    await run_in_threadpool(save)
    response = redirect(request, "apply", job_id=job_id)
    flash(
        response, request, "success", "Answer saved" + (" and kept for reuse." if reusable else ".")
    )
    return response


@router.post("/apply/{job_id}/answers/insert", name="apply_answer_insert")
async def insert_saved(request: Request, db: UserDBDep, job_id: int) -> Response:
    """Copy a reusable saved answer into this job's questions, or forget it."""
    form = FormReader(await request.form())
    saved_id = form.integer("saved_id", label="Saved answer", low=1, high=2**62, default=0)
    forget = form.raw("action") == "forget"
    response = redirect(request, "apply", job_id=job_id)

    def insert() -> bool:
        with db.write() as conn:
            require_job(conn, job_id)
            if forget:
                return answer_q.delete_answer(conn, answer_id=saved_id, job_id=None)
            saved = answer_q.get_answer(conn, answer_id=saved_id)
            if saved is None or saved.job_id is not None:
                return False
            answer_q.add_answer(
                conn, job_id=job_id, question=saved.question, answer=saved.answer, now=now_iso()
            )
            return True

    if not (form.ok and await run_in_threadpool(insert)):
        flash(response, request, "error", "That saved answer does not exist.")
    elif forget:
        flash(response, request, "success", "Saved answer deleted; answers already used stay.")
    else:
        flash(response, request, "success", "Saved answer added to this application.")
    return response


@router.post("/apply/{job_id}/answers/{answer_id}", name="apply_answer_edit")
async def edit_answer(request: Request, db: UserDBDep, job_id: int, answer_id: int) -> Response:
    form = FormReader(await request.form())
    action = form.choice("action", label="Action", choices=("save", "delete"), default="save")
    question = form.text(f"question-{answer_id}", label="Question", max_len=MAX_QUESTION)
    answer = form.text(f"answer-{answer_id}", label="Answer", max_len=MAX_ANSWER)
    if action == "save" and not question and f"question-{answer_id}" not in form.errors:
        form.errors[f"question-{answer_id}"] = "Question is required."
    await run_in_threadpool(job_exists, db, job_id)
    if not form.ok and action == "save":
        return await run_in_threadpool(_invalid, request, db, job_id, form)

    def save() -> bool:
        with db.write() as conn:
            if action == "delete":
                return answer_q.delete_answer(conn, answer_id=answer_id, job_id=job_id)
            return answer_q.update_answer(
                conn,
                answer_id=answer_id,
                job_id=job_id,
                question=question,
                answer=answer,
                now=now_iso(),
            )

    done = await run_in_threadpool(save)
    response = redirect(request, "apply", job_id=job_id)
    if not done:
        flash(response, request, "error", "That answer does not exist any more.")
    else:
        flash(
            response,
            request,
            "success",
            "Answer deleted." if action == "delete" else "Answer saved.",
        )
    return response


@router.post("/apply/{job_id}/applied", name="apply_mark_applied")
async def mark_applied(request: Request, db: UserDBDep, job_id: int) -> Response:
    await request.form()
    await run_in_threadpool(job_exists, db, job_id)
    response = redirect(request, "apply", job_id=job_id)
    try:
        result = await run_in_threadpool(lambda: applying.mark_applied(db, job_id=job_id))
    except pipeline.TransitionError as exc:
        flash(response, request, "error", f"Not marked applied: {exc}.")
        return response
    usage_events.jobs_moved(request, [result.move])
    text = "Marked applied; a snapshot of what you sent is kept."
    if result.follow_up_on:
        text += f" Follow up on {result.follow_up_on}."
    flash(response, request, "success", text)
    return response


@router.post("/apply/{job_id}/follow-up", name="apply_follow_up")
async def set_follow_up(request: Request, db: UserDBDep, job_id: int) -> Response:
    form = FormReader(await request.form())
    raw = form.text("follow_up_on", label="Follow-up date", max_len=10)
    try:
        day = applying.parse_follow_up(raw)
    except applying.FollowUpError as exc:
        form.errors["follow_up_on"] = str(exc)
        day = None
    await run_in_threadpool(job_exists, db, job_id)
    if not form.ok:
        return await run_in_threadpool(_invalid, request, db, job_id, form)

    def save() -> None:
        with db.write() as conn:
            job_q.update_job_fields(
                conn, job_id=job_id, values={"follow_up_on": day}, now=now_iso()
            )

    await run_in_threadpool(save)
    response = redirect(request, "apply", job_id=job_id)
    flash(
        response, request, "success", f"Follow-up set for {day}." if day else "Follow-up cleared."
    )
    return response
