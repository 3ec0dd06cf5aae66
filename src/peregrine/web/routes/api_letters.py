"""JSON API of the Apply workspace's model-backed parts: letter versions (list, generate,
refine, edit, PDF), the company research brief and interview prep of one job."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, Field

from peregrine.lib.clock import utcnow
from peregrine.llm.errors import LLMError
from peregrine.llm.router import LLMRouter
from peregrine.services import cover_letters, letter_pdf
from peregrine.storage.queries import jobs as job_q
from peregrine.storage.queries import letter_versions as letter_q
from peregrine.storage.queries import prep as prep_q
from peregrine.storage.queries import profile as profile_q
from peregrine.tasks.queue import TaskQueue
from peregrine.web import usage_events
from peregrine.web.deps import UserDBDep
from peregrine.web.platform_deps import require_feature

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


def _submit_letter(
    request: Request, db: Any, *, job_id: int, params: dict[str, Any]
) -> dict[str, Any]:
    usage_events.remember_task_owner(request, db)
    info = _queue(request).submit(db, kind="cover_letter", job_id=job_id, params=params)
    return info.to_dict()


def _queue(request: Request) -> TaskQueue:
    queue: TaskQueue | None = getattr(request.app.state, "tasks", None)
    if queue is None:
        raise HTTPException(503, "Background tasks are not available in this installation yet.")
    return queue


@router.get("/letters")
def list_letters(db: UserDBDep, job_id: int) -> dict[str, Any]:
    """Every version, newest first."""
    _require_job(db, job_id)
    with db.read() as conn:
        versions = letter_q.list_versions(conn, job_id=job_id)
    return {"items": [v.to_dict() for v in versions]}


@router.post("/letters/generate", status_code=202, dependencies=[require_feature("cover_letter")])
def generate_letter(
    request: Request, db: UserDBDep, job_id: int, body: GenerateIn | None = None
) -> dict[str, Any]:
    """Start writing a new letter in the background; poll the returned task."""
    _require_job(db, job_id)
    params = (body or GenerateIn()).model_dump(exclude_none=True)
    return _submit_letter(request, db, job_id=job_id, params=params)


@router.post("/letters/refine", status_code=202, dependencies=[require_feature("cover_letter")])
def refine_letter(request: Request, db: UserDBDep, job_id: int, body: RefineIn) -> dict[str, Any]:
    """Start a refinement of the latest version with the user's feedback."""
    _require_job(db, job_id)
    params = body.model_dump(exclude_none=True)
    return _submit_letter(request, db, job_id=job_id, params=params)


class StreamIn(GenerateIn):
    feedback: str = Field(default="", max_length=cover_letters.MAX_FEEDBACK_CHARS)


def _event(name: str, data: dict[str, Any]) -> str:
    return f"event: {name}\ndata: {json.dumps(data)}\n\n"


@router.post("/letters/stream", dependencies=[require_feature("cover_letter")])
def stream_letter(
    request: Request, db: UserDBDep, job_id: int, body: StreamIn | None = None
) -> StreamingResponse:
    """Write (or refine, with feedback) a letter and stream it as server-sent events:
    ``text`` events carry pieces, then ``saved`` (the new version) or ``error``.

    Problems found before the first piece (no résumé, no backend, demo mode, every backend
    down) are ordinary JSON errors, because the first piece is awaited before responding.
    """
    _require_job(db, job_id)
    body = body or StreamIn()
    draft = cover_letters.prepare(
        db,
        job_id=job_id,
        feedback=body.feedback,
        options=cover_letters.LetterOptions(
            target_words=body.target_words, salutation=body.salutation
        ),
    )
    llm: LLMRouter = request.app.state.llm
    used: list[str] = []
    pieces = llm.stream(
        db,
        purpose="writing",
        prompt=draft.prompt,
        system=draft.system,
        max_tokens=draft.max_tokens,
        on_backend=used.append,
    )
    first = next(pieces, None)
    if first is None:  # the router raises rather than end empty; this is a safety net
        raise HTTPException(502, "the model sent no text")

    def events() -> Iterator[str]:
        text = [first]
        yield _event("text", {"text": first})
        try:
            for piece in pieces:
                text.append(piece)
                yield _event("text", {"text": piece})
            saved = cover_letters.finish(
                db, draft, text="".join(text), backend=used[0] if used else ""
            )
        except (LLMError, cover_letters.LetterError) as exc:
            yield _event("error", {"error": str(exc)})
            return
        yield _event("saved", saved.to_dict())

    return StreamingResponse(events(), media_type="text/event-stream")


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
        found = prep_q.get_research(conn, job_id=job_id)
    if found is None:
        raise HTTPException(404, "no research for this job yet")
    return found.to_dict()


# The prep record itself (GET/PUT /prep) lives in api_workspace.py.
