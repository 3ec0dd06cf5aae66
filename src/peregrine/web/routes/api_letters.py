"""JSON API of the Apply workspace's model-backed parts: letter versions (list, generate,
refine, edit, PDF), the company research brief and interview prep of one job."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel, Field

from peregrine.lib.clock import utcnow
from peregrine.services import cover_letters, letter_pdf
from peregrine.storage.queries import jobs as job_q
from peregrine.storage.queries import letters as letter_q
from peregrine.storage.queries import profile as profile_q
from peregrine.tasks.queue import TaskQueue
from peregrine.web.deps import UserDBDep

router = APIRouter(prefix="/api/v1/jobs/{job_id}", tags=["letters"])


class GenerateIn(BaseModel):
    target_words: int = Field(default=cover_letters.DEFAULT_TARGET_WORDS, ge=100, le=1000)
    salutation: str | None = Field(default=None, max_length=120)


class RefineIn(GenerateIn):
    feedback: str = Field(min_length=1, max_length=cover_letters.MAX_FEEDBACK_CHARS)


class EditIn(BaseModel):
    body: str = Field(min_length=1, max_length=cover_letters.MAX_LETTER_CHARS)


def _require_job(db: Any, job_id: int) -> job_q.Job:
    with db.read() as conn:
        job = job_q.get_job(conn, job_id=job_id)
    if job is None:
        raise HTTPException(404, f"job {job_id} not found")
    return job


def _queue(request: Request) -> TaskQueue:
    queue: TaskQueue = request.app.state.tasks
    return queue


@router.get("/letters")
def list_letters(db: UserDBDep, job_id: int) -> dict[str, Any]:
    """Every version, newest first."""
    _require_job(db, job_id)
    with db.read() as conn:
        versions = letter_q.list_versions(conn, job_id=job_id)
    return {"items": [v.to_dict() for v in versions]}


@router.post("/letters/generate", status_code=202)
def generate_letter(
    request: Request, db: UserDBDep, job_id: int, body: GenerateIn | None = None
) -> dict[str, Any]:
    """Start writing a new letter in the background; poll the returned task."""
    _require_job(db, job_id)
    params = (body or GenerateIn()).model_dump(exclude_none=True)
    return _queue(request).submit(db, kind="cover_letter", job_id=job_id, params=params).to_dict()


@router.post("/letters/refine", status_code=202)
def refine_letter(request: Request, db: UserDBDep, job_id: int, body: RefineIn) -> dict[str, Any]:
    """Start a refinement of the latest version with the user's feedback."""
    _require_job(db, job_id)
    params = body.model_dump(exclude_none=True)
    return _queue(request).submit(db, kind="cover_letter", job_id=job_id, params=params).to_dict()


@router.post("/letters", status_code=201)
def save_letter(db: UserDBDep, job_id: int, body: EditIn) -> dict[str, Any]:
    """Keep the user's own edit as a new version."""
    _require_job(db, job_id)
    return cover_letters.save_edit(db, job_id=job_id, body=body.body).to_dict()


@router.get("/letters/{version}/pdf")
def letter_as_pdf(db: UserDBDep, job_id: int, version: int) -> Response:
    job = _require_job(db, job_id)
    with db.read() as conn:
        letter = letter_q.get_version(conn, job_id=job_id, version=version)
        profile = profile_q.get_profile(conn)
    if letter is None:
        raise HTTPException(404, f"letter version {version} not found")
    pdf = letter_pdf.render_letter(
        name=profile.full_name,
        contact=letter_pdf.contact_line(profile),
        date=utcnow().date(),
        body=letter.body,
    )
    filename = letter_pdf.file_name(profile.full_name, job.company, version)
    return Response(
        pdf,
        media_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


@router.get("/research")
def show_research(db: UserDBDep, job_id: int) -> dict[str, Any]:
    _require_job(db, job_id)
    with db.read() as conn:
        found = letter_q.get_research(conn, job_id=job_id)
    if found is None:
        raise HTTPException(404, "no research for this job yet")
    return found


@router.get("/prep")
def show_prep(db: UserDBDep, job_id: int) -> dict[str, Any]:
    _require_job(db, job_id)
    with db.read() as conn:
        found = letter_q.get_prep(conn, job_id=job_id)
        answers = letter_q.open_questions(conn, job_id=job_id)
    if found is None:
        raise HTTPException(404, "no interview prep for this job yet")
    return {**found, "application_answers": answers}
