"""Interview prep: the company research brief, talking points, practice Q&A and notes for
one job, plus the snapshot of what was sent."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from peregrine.lib.clock import now_iso
from peregrine.services import pipeline
from peregrine.storage.queries import prep as prep_q
from peregrine.storage.queries import snapshots as snapshot_q
from peregrine.storage.userdb import UserDB
from peregrine.web.deps import UserDBDep
from peregrine.web.forms import FormReader
from peregrine.web.platform_deps import TASK_FEATURES, feature_refusal
from peregrine.web.render import flash, flashed, redirect, render
from peregrine.web.workspace import job_exists, latest_tasks, require_job, submit_task

router = APIRouter(include_in_schema=False)

MAX_TEXT = 50_000
MAX_QUESTION = 1_000
MAX_ANSWER = 10_000
MAX_PAIRS = 100
GENERATE_KINDS = ("research", "prep")


def _context(request: Request, db: UserDB, job_id: int) -> dict[str, Any]:
    with db.read() as conn:
        job = require_job(conn, job_id)
        research = prep_q.get_research(conn, job_id=job_id)
        prep = prep_q.get_prep(conn, job_id=job_id)
        snapshot = snapshot_q.latest_snapshot(conn, job_id=job_id)
    return {
        "job": job,
        "research": research,
        "prep": prep,
        "pairs": prep.practice_qa,
        "snapshot": snapshot,
        "tasks": latest_tasks(request, db, job_id=job_id),
        "status_labels": pipeline.STATUS_LABELS,
        "errors": {},
        "values": {},
    }


@router.get("/prep/{job_id}", response_class=HTMLResponse, name="prep")
def prep_page(request: Request, db: UserDBDep, job_id: int) -> HTMLResponse:
    return render(request, "prep/index.html", _context(request, db, job_id), active="pipeline")


def read_pairs(form: FormReader) -> list[dict[str, str]]:
    """Practice Q&A from repeated ``question``/``answer`` fields; ticked ``remove-N`` and
    empty rows are dropped."""
    questions = [v if isinstance(v, str) else "" for v in form.form.getlist("question")]
    answers = [v if isinstance(v, str) else "" for v in form.form.getlist("answer")]
    removed = {v for v in form.form.getlist("remove") if isinstance(v, str)}
    pairs: list[dict[str, str]] = []
    typed: list[dict[str, str]] = []
    for index, question in enumerate(questions):
        answer = answers[index] if index < len(answers) else ""
        typed.append({"question": question, "answer": answer})
        if str(index) in removed or not (question.strip() or answer.strip()):
            continue
        if not question.strip():
            form.errors[f"question-{index}"] = f"Question {index + 1}: write the question too."
        elif len(question) > MAX_QUESTION or len(answer) > MAX_ANSWER:
            form.errors[f"question-{index}"] = (
                f"Question {index + 1}: at most {MAX_QUESTION} characters for the question "
                f"and {MAX_ANSWER} for the answer."
            )
        pairs.append({"question": question.strip(), "answer": answer.strip()})
    if len(pairs) > MAX_PAIRS:
        form.errors["question-0"] = f"At most {MAX_PAIRS} practice questions."
    form.values["pairs"] = typed
    return pairs


@router.post("/prep/{job_id}", name="prep_save")
async def save_prep(request: Request, db: UserDBDep, job_id: int) -> Response:
    form = FormReader(await request.form())
    talking = form.text("talking_points", label="Talking points", max_len=MAX_TEXT)
    notes = form.text("notes", label="Notes", max_len=MAX_TEXT)
    pairs = read_pairs(form)
    await run_in_threadpool(job_exists, db, job_id)
    if not form.ok:

        def rerender() -> HTMLResponse:
            context = _context(request, db, job_id)
            context.update(errors=form.errors, values=form.values, pairs=form.values["pairs"])
            return render(request, "prep/index.html", context, status=422, active="pipeline")

        return await run_in_threadpool(rerender)

    def save() -> None:
        with db.write() as conn:
            prep_q.save_prep(
                conn,
                job_id=job_id,
                talking_points=talking,
                practice_qa=pairs,
                notes=notes,
                now=now_iso(),
            )

    await run_in_threadpool(save)
    return flashed(redirect(request, "prep", job_id=job_id), request, "success", "Prep saved.")


@router.post("/prep/{job_id}/generate", name="prep_generate")
async def generate(request: Request, db: UserDBDep, job_id: int) -> Response:
    form = FormReader(await request.form())
    kind = form.choice("kind", label="What to prepare", choices=GENERATE_KINDS, default="")
    await run_in_threadpool(job_exists, db, job_id)
    response = redirect(request, "prep", job_id=job_id)
    if not form.ok:
        flash(response, request, "error", form.errors["kind"])
        return response
    refused = feature_refusal(request, TASK_FEATURES[kind])
    if refused is not None:
        flash(response, request, "error", f"Not started: {refused}.")
        return response
    level, message = await run_in_threadpool(
        lambda: submit_task(request, db, kind=kind, job_id=job_id, params=None)
    )
    flash(response, request, level, message)
    return response
