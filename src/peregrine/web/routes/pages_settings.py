"""Settings: profile, résumé, search profiles, keywords and blocklist, LLM backends, data,
privacy. Every form is validated whole; errors re-render it with what the user typed."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from peregrine.lib.clock import now_iso
from peregrine.llm.errors import LLMError
from peregrine.llm.router import LLMRouter
from peregrine.platform.support_access import SupportAccessError
from peregrine.services.resume_parser import (
    ResumeParseError,
    StructuredResume,
    parse_upload,
)
from peregrine.storage.backup import BackupError
from peregrine.storage.queries import preferences as pref_q
from peregrine.storage.queries import profile as profile_q
from peregrine.storage.userdb import UserDB
from peregrine.web import privacy_settings as privacy
from peregrine.web import settings_forms as sf
from peregrine.web.backup_upload import restore_from_request
from peregrine.web.deps import UserDBDep
from peregrine.web.forms import FormReader
from peregrine.web.platform_deps import get_platform, get_user_id
from peregrine.web.render import flash, flashed, redirect, render
from peregrine.web.rescore import submit_rescore
from peregrine.web.routes.api_privacy import COLLECTED

router = APIRouter(include_in_schema=False)

TABS = (
    ("settings_profile", "Profile"),
    ("settings_resume", "Résumé"),
    ("settings_search", "Searches"),
    ("settings_keywords", "Keywords & blocklist"),
    ("settings_llm", "LLM backends"),
    ("settings_data", "Data"),
    ("settings_privacy", "Privacy"),
)
MAX_EXPERIENCES = 30


def _page(
    request: Request, tab: str, template: str, context: dict[str, Any], status: int = 200
) -> HTMLResponse:
    base = {"tabs": TABS, "tab": tab, "errors": {}, "values": {}}
    return render(
        request, f"settings/{template}", {**base, **context}, status=status, active="settings"
    )


def _read(db: UserDB, fn: Any) -> Any:
    with db.read() as conn:
        return fn(conn)


@router.get("/settings", response_class=HTMLResponse, name="settings")
def settings_index(request: Request) -> HTMLResponse:
    get_user_id(request)  # cloud mode: sign-in page or 410 like every other page
    return _page(request, "", "index.html", {})


# --- profile ---------------------------------------------------------------------------


@router.get("/settings/profile", response_class=HTMLResponse, name="settings_profile")
def profile_page(request: Request, db: UserDBDep) -> HTMLResponse:
    profile = _read(db, profile_q.get_profile)
    return _page(
        request, "settings_profile", "profile.html", {"values": sf.profile_values(profile)}
    )


@router.post("/settings/profile", name="settings_profile_save")
async def profile_save(request: Request, db: UserDBDep) -> Response:
    form = FormReader(await request.form())
    profile = sf.read_profile(form)
    if not form.ok or profile is None:
        return _page(
            request,
            "settings_profile",
            "profile.html",
            {"errors": form.errors, "values": form.values},
            status=422,
        )

    def save() -> None:
        with db.write() as conn:
            profile_q.save_profile(conn, profile=profile, now=now_iso())

    await run_in_threadpool(save)
    return flashed(redirect(request, "settings_profile"), request, "success", "Profile saved.")


# --- résumé ----------------------------------------------------------------------------


@router.get("/settings/resume", response_class=HTMLResponse, name="settings_resume")
def resume_page(request: Request, db: UserDBDep) -> HTMLResponse:
    current = _read(db, profile_q.current_resume)
    structured = StructuredResume.from_dict(current.structured) if current else None
    return _page(
        request,
        "settings_resume",
        "resume.html",
        {
            "current": current,
            "resume": structured or StructuredResume(),
            "raw_text": current.raw_text if current else "",
            "filename": current.filename if current else "",
            "parsed": False,
        },
    )


@router.post("/settings/resume/upload", name="settings_resume_upload")
async def resume_upload(request: Request, db: UserDBDep) -> Response:
    form = FormReader(await request.form())
    upload = form.file("file")
    current = await run_in_threadpool(_read, db, profile_q.current_resume)
    context: dict[str, Any] = {
        "current": current,
        "resume": StructuredResume.from_dict(current.structured) if current else StructuredResume(),
        "raw_text": current.raw_text if current else "",
        "filename": current.filename if current else "",
        "parsed": False,
    }
    if upload is None:
        context["errors"] = {"file": "Choose a PDF, Word (.docx) or text file."}
        return _page(request, "settings_resume", "resume.html", context, status=422)
    data = await upload.read()
    filename = re.sub(r"[^\w.\- ]", "_", upload.filename or "resume")[:200]
    try:
        structured, raw_text = await run_in_threadpool(parse_upload, data, filename)
    except ResumeParseError as exc:
        context["errors"] = {"file": f"{filename}: {exc}."}
        return _page(request, "settings_resume", "resume.html", context, status=422)
    # Nothing is saved yet: the user checks the guess and saves it as a new version.
    context.update(resume=structured, raw_text=raw_text, filename=filename, parsed=True)
    return _page(request, "settings_resume", "resume.html", context)


@router.post("/settings/resume", name="settings_resume_save")
async def resume_save(request: Request, db: UserDBDep) -> Response:
    form = FormReader(await request.form())
    structured = sf.read_resume(form, max_experiences=MAX_EXPERIENCES)
    raw_text = form.text("raw_text", label="Original text", max_len=200_000)
    filename = form.text("filename", label="File name", max_len=200)
    if not form.ok:
        return _page(
            request,
            "settings_resume",
            "resume.html",
            {
                "current": None,
                "resume": structured,
                "raw_text": raw_text,
                "filename": filename,
                "parsed": True,
                "errors": form.errors,
            },
            status=422,
        )

    def save() -> int:
        with db.write() as conn:
            version = profile_q.add_resume(
                conn,
                structured=structured.to_dict(),
                raw_text=raw_text,
                filename=filename,
                now=now_iso(),
            )
        submit_rescore(request, db)
        return version

    version = await run_in_threadpool(save)
    return flashed(
        redirect(request, "settings_resume"),
        request,
        "success",
        f"Résumé saved as version {version}.",
    )


# --- search profiles -------------------------------------------------------------------


@router.get("/settings/search", response_class=HTMLResponse, name="settings_search")
def search_page(request: Request, db: UserDBDep, edit: str = "") -> HTMLResponse:
    profiles = _read(db, profile_q.list_search_profiles)
    chosen = next((p for p in profiles if p.name.lower() == edit.lower()), None)
    return _page(
        request,
        "settings_search",
        "search.html",
        {
            "profiles": profiles,
            "values": sf.search_values(chosen) if chosen else sf.search_values(None),
            "editing": chosen.name if chosen else "",
            "remote_choices": sf.REMOTE_CHOICES,
        },
    )


@router.post("/settings/search", name="settings_search_save")
async def search_save(request: Request, db: UserDBDep) -> Response:
    form = FormReader(await request.form())
    profile = sf.read_search_profile(form)
    original = form.text("original_name", label="Original name", max_len=100)
    if not form.ok or profile is None:
        profiles = await run_in_threadpool(_read, db, profile_q.list_search_profiles)
        return _page(
            request,
            "settings_search",
            "search.html",
            {
                "profiles": profiles,
                "values": form.values,
                "errors": form.errors,
                "editing": original,
                "remote_choices": sf.REMOTE_CHOICES,
            },
            status=422,
        )

    def save() -> None:
        with db.write() as conn:
            if original and original.lower() != profile.name.lower():
                profile_q.delete_search_profile(conn, name=original)
            profile_q.save_search_profile(conn, profile=profile, now=now_iso())

    await run_in_threadpool(save)
    return flashed(
        redirect(request, "settings_search"), request, "success", f"Search “{profile.name}” saved."
    )


@router.post("/settings/search/delete", name="settings_search_delete")
async def search_delete(request: Request, db: UserDBDep) -> Response:
    form = FormReader(await request.form())
    name = form.text("name", label="Name", max_len=100, required=True)

    def delete() -> bool:
        with db.write() as conn:
            return profile_q.delete_search_profile(conn, name=name)

    deleted = await run_in_threadpool(delete) if form.ok else False
    response = redirect(request, "settings_search")
    if deleted:
        flash(response, request, "success", f"Search “{name}” deleted.")
    else:
        flash(response, request, "error", "That search does not exist (already deleted?).")
    return response


# --- keywords and blocklist ------------------------------------------------------------


@router.get("/settings/keywords", response_class=HTMLResponse, name="settings_keywords")
def keywords_page(request: Request, db: UserDBDep) -> HTMLResponse:
    def load(conn: Any) -> dict[str, str]:
        return sf.keyword_values(profile_q.list_keywords(conn), profile_q.list_blocklist(conn))

    return _page(request, "settings_keywords", "keywords.html", {"values": _read(db, load)})


@router.post("/settings/keywords", name="settings_keywords_save")
async def keywords_save(request: Request, db: UserDBDep) -> Response:
    form = FormReader(await request.form())
    keywords, blocklist = sf.read_keywords(form)
    if not form.ok:
        return _page(
            request,
            "settings_keywords",
            "keywords.html",
            {"values": form.values, "errors": form.errors},
            status=422,
        )

    def save() -> None:
        with db.write() as conn:
            profile_q.replace_keywords(conn, entries=keywords)
            profile_q.replace_blocklist(conn, entries=blocklist)
        submit_rescore(request, db)

    await run_in_threadpool(save)
    return flashed(
        redirect(request, "settings_keywords"), request, "success", "Keywords and blocklist saved."
    )


# --- LLM backends ----------------------------------------------------------------------


@router.get("/settings/llm", response_class=HTMLResponse, name="settings_llm")
def llm_page(request: Request, db: UserDBDep) -> HTMLResponse:
    backends = _read(db, lambda c: pref_q.get_preference(c, key="llm_backends", default=[]))
    return _page(
        request,
        "settings_llm",
        "llm.html",
        {
            "backends": sf.backend_rows(sf.config_to_backends(backends)),
            "kinds": sf.LLM_KINDS,
            "editable": request.app.state.settings.mode == "local",
            "testable": _testable(request, db),
        },
    )


def _testable(request: Request, db: UserDB) -> list[str]:
    llm: LLMRouter | None = getattr(request.app.state, "llm", None)
    return llm.backend_names(db) if llm is not None else []


@router.post("/settings/llm", name="settings_llm_save")
async def llm_save(request: Request, db: UserDBDep) -> Response:
    if request.app.state.settings.mode != "local":
        return flashed(
            redirect(request, "settings_llm"),
            request,
            "error",
            "LLM backends are set by the operator here.",
        )
    form = FormReader(await request.form())
    backends, rows = sf.read_backends(form)
    if not form.ok:
        return _page(
            request,
            "settings_llm",
            "llm.html",
            {
                "backends": rows,
                "kinds": sf.LLM_KINDS,
                "editable": True,
                "testable": _testable(request, db),
                "errors": form.errors,
            },
            status=422,
        )

    def save() -> None:
        with db.write() as conn:
            stored = pref_q.get_preference(conn, key="llm_backends", default=None)
            config = sf.backends_to_config(backends, stored)
            pref_q.set_preference(conn, key="llm_backends", value=config)

    await run_in_threadpool(save)
    return flashed(
        redirect(request, "settings_llm"), request, "success", f"Saved {len(backends)} backend(s)."
    )


TEST_PROMPT = "Reply with the single word: ready"
MAX_SHOWN_ANSWER = 300


@router.post("/settings/llm/test", name="settings_llm_test")
async def llm_test(request: Request, db: UserDBDep) -> Response:
    """Send one tiny prompt to one backend and show its answer or its error."""
    form = FormReader(await request.form())
    name = form.text("backend", label="Backend", max_len=50)
    response = redirect(request, "settings_llm")
    llm: LLMRouter = request.app.state.llm
    if not form.ok or not name:
        flash(response, request, "error", form.errors.get("backend", "Choose a backend to test."))
        return response
    try:
        answer = await run_in_threadpool(lambda: llm.try_backend(db, name=name, prompt=TEST_PROMPT))
    except LLMError as exc:
        flash(response, request, "error", f"Test of {name} failed: {exc}")
        return response
    text = " ".join(answer.text.split())[:MAX_SHOWN_ANSWER]
    flash(
        response,
        request,
        "success",
        f"{name} answered in {answer.latency_ms:.0f} ms ({answer.model}): {text}",
    )
    return response


# --- data and privacy (filled by later issues) -----------------------------------------


@router.get("/settings/data", response_class=HTMLResponse, name="settings_data")
def data_page(request: Request) -> HTMLResponse:
    # The page reads no data, but in cloud mode it must still be refused without a valid
    # session (sign-in page) and for an erased account (410), like every other page.
    get_user_id(request)
    settings = request.app.state.settings
    context = {
        "cloud": settings.cloud,
        "demo": settings.demo,
        "limit_mb": settings.max_backup_bytes // 1024**2,
    }
    return _page(request, "settings_data", "data.html", context)


@router.post("/settings/data/restore", name="settings_data_restore")
async def data_restore(request: Request) -> Response:
    """The restore form: the same path as ``POST /api/v1/backup`` (web/backup_upload.py).

    Its CSRF token is the body's first field, checked before the archive streams in
    (web/csrf_stream.py).
    """
    response = redirect(request, "settings_data")
    settings = request.app.state.settings
    if settings.demo:
        flash(response, request, "error", "Restoring a backup is not available in the demo.")
        return response
    try:
        staged = await restore_from_request(request, limit=settings.max_backup_bytes)
    except BackupError as exc:
        flash(response, request, "error", f"The backup was not restored: {exc}.")
        return response
    jobs = staged.row_counts.get("jobs", 0)
    made = f" made {staged.created_at}" if staged.created_at else ""
    flash(
        response,
        request,
        "success",
        f"Restored {jobs} job{'' if jobs == 1 else 's'} from the backup{made}. "
        "Your previous data is kept: “Undo the last restore” puts it back.",
    )
    return response


@router.post("/settings/data/rollback", name="settings_data_rollback")
async def data_rollback(request: Request) -> Response:
    await request.form()
    response = redirect(request, "settings_data")
    if request.app.state.settings.demo:
        flash(response, request, "error", "Restoring a backup is not available in the demo.")
        return response
    try:
        store = await run_in_threadpool(request.app.state.tenancy.store, request)
        await run_in_threadpool(store.rollback_database)
    except BackupError as exc:
        flash(response, request, "error", f"Nothing was changed: {exc}.")
        return response
    flash(response, request, "success", "Your data from before the last restore is back.")
    return response


@router.get("/settings/privacy", response_class=HTMLResponse, name="settings_privacy")
def privacy_page(request: Request) -> HTMLResponse:
    user_id = get_user_id(request)
    if user_id is None:  # local and demo mode: the explanation only
        return _page(request, "settings_privacy", "privacy.html", {"cloud": False})
    try:
        state = privacy.load(get_platform(request), user_id)
    except privacy.PrivacyUnavailable as exc:
        return _page(
            request, "settings_privacy", "privacy.html", {"cloud": True, "unavailable": str(exc)}
        )
    return _page(
        request,
        "settings_privacy",
        "privacy.html",
        {"cloud": True, "state": state, "collected": COLLECTED, "hours": (4, 72)},
    )


@router.post("/settings/privacy", name="settings_privacy_save")
async def privacy_save(request: Request) -> Response:
    form = FormReader(await request.form())
    response = redirect(request, "settings_privacy")
    user_id = get_user_id(request)
    if user_id is None:
        flash(response, request, "error", "Privacy choices exist only in the hosted service.")
        return response
    choices = {
        name: form.boolean(name)
        for name in ("all_disabled", "usage_events_enabled", "content_sharing_enabled")
    }
    try:
        await run_in_threadpool(privacy.save, get_platform(request), user_id, choices)
    except privacy.PrivacyUnavailable as exc:
        flash(response, request, "error", str(exc))
        return response
    flash(response, request, "success", "Privacy choices saved.")
    return response


@router.post("/settings/privacy/support", name="settings_support_grant")
async def support_grant(request: Request) -> Response:
    form = FormReader(await request.form())
    response = redirect(request, "settings_privacy")
    user_id = get_user_id(request)
    if user_id is None:
        flash(response, request, "error", "Support access exists only in the hosted service.")
        return response
    hours = form.integer("hours", label="Hours", low=4, high=72, default=24)
    ticket = form.text("ticket_ref", label="Ticket reference", max_len=64, required=True)
    if not form.ok:
        flash(response, request, "error", " ".join(form.errors.values()))
        return response
    try:
        await run_in_threadpool(privacy.grant, get_platform(request), user_id, hours, ticket)
    except (privacy.PrivacyUnavailable, SupportAccessError) as exc:
        flash(response, request, "error", f"Support access not granted: {exc}.")
        return response
    flash(response, request, "success", f"Support may access your account for {hours} hours.")
    return response


@router.post("/settings/privacy/support/{grant_id}/revoke", name="settings_support_revoke")
async def support_revoke(request: Request, grant_id: int) -> Response:
    await request.form()
    response = redirect(request, "settings_privacy")
    user_id = get_user_id(request)
    if user_id is None:
        flash(response, request, "error", "Support access exists only in the hosted service.")
        return response
    try:
        revoked = await run_in_threadpool(privacy.revoke, get_platform(request), user_id, grant_id)
    except privacy.PrivacyUnavailable as exc:
        flash(response, request, "error", str(exc))
        return response
    if revoked:
        flash(response, request, "success", "Support access ended.")
    else:
        flash(response, request, "error", "No active support access with that id.")
    return response
