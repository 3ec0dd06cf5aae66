"""Home: where things stand, what needs doing, and adding jobs by hand."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse, Response
from starlette.concurrency import run_in_threadpool

from peregrine.services import dashboard, pipeline
from peregrine.services import jobs as job_service
from peregrine.storage.queries import jobs as job_q
from peregrine.storage.queries import preferences as pref_q
from peregrine.storage.queries import profile as profile_q
from peregrine.storage.userdb import UserDB
from peregrine.web import usage_events
from peregrine.web.charts import bar_chart
from peregrine.web.deps import UserDBDep
from peregrine.web.forms import FormReader
from peregrine.web.render import flash, flashed, redirect, render

router = APIRouter(include_in_schema=False)

MAX_URLS = 200
TASK_KINDS = {"discover": "Discovery", "score": "Scoring"}
NO_TASKS = "Background tasks are not available in this installation yet."


@dataclass(frozen=True, slots=True)
class SetupStep:
    key: str
    label: str
    route: str
    done: bool


def _title_from_url(url: str) -> str:
    parts = urlsplit(url)
    # Only the last segment names the job; "/jobs/42" says nothing about it.
    segments = [s for s in unquote(parts.path).split("/") if s]
    if segments and not segments[-1].isdigit():
        words = segments[-1].rsplit(".", 1)[0].replace("-", " ").replace("_", " ").strip()
        if words and not words.isdigit():
            return words[:1].upper() + words[1:]
    return f"Job at {parts.hostname or 'unknown site'}"


def _tasks(request: Request, db: UserDB) -> list[Any] | None:
    queue = getattr(request.app.state, "tasks", None)
    if queue is None:
        return None
    return list(queue.list_tasks(db, active_only=True, limit=20))


def _home_context(request: Request, db: UserDB) -> dict[str, Any]:
    with db.read() as conn:
        counts = job_q.counts_by_status(conn)
        board = dashboard.build(conn)
        recent, _ = job_q.list_jobs(conn, sort="newest", limit=8)
        follow_ups = pipeline.due_follow_ups(conn)
        profile = profile_q.get_profile(conn)
        resume = profile_q.current_resume(conn)
        search_profiles = profile_q.list_search_profiles(conn)
        setup_dismissed = bool(pref_q.get_preference(conn, key="setup_dismissed", default=False))
    steps = [
        SetupStep("resume", "Upload your résumé", "settings_resume", resume is not None),
        SetupStep(
            "identity",
            "Tell us who you are",
            "settings_profile",
            bool(profile.full_name and profile.email),
        ),
        SetupStep("search", "Create your first search", "settings_search", bool(search_profiles)),
    ]
    first_run = not profile.full_name and resume is None
    funnel_chart = bar_chart(
        "Application funnel",
        [
            (
                step.label,
                step.count,
                f"{step.count}" + (f" ({step.rate:.0%})" if step.rate is not None else ""),
                False,
            )
            for step in board.funnel
        ],
    )
    source_chart = bar_chart(
        "Response rate by source",
        [
            (
                rate.source,
                rate.rate,
                f"{rate.rate:.0%} (n={rate.applied}{', small sample' if rate.small else ''})",
                rate.small,
            )
            for rate in board.by_source
        ],
    )
    return {
        "counts": [(s, pipeline.STATUS_LABELS[s], counts.get(s, 0)) for s in pipeline.STATUSES],
        "total": sum(counts.values()),
        "board": board,
        "funnel_chart": funnel_chart,
        "source_chart": source_chart,
        "recent": recent,
        "follow_ups": follow_ups,
        "show_setup": first_run and not setup_dismissed,
        "setup_steps": steps,
        "search_profiles": search_profiles,
        "tasks": _tasks(request, db),
        "task_kinds": TASK_KINDS,
        "status_labels": pipeline.STATUS_LABELS,
        "errors": {},
        "values": {},
        "csv_errors": [],
    }


@router.get("/", response_class=HTMLResponse, name="home")
def home(request: Request, db: UserDBDep) -> HTMLResponse:
    return render(request, "home.html", _home_context(request, db), active="home")


def _rerender(request: Request, db: UserDB, **extra: Any) -> HTMLResponse:
    context = _home_context(request, db)
    context.update(extra)
    return render(request, "home.html", context, status=422, active="home")


@router.post("/jobs/add", name="home_add_urls")
async def add_urls(request: Request, db: UserDBDep) -> Response:
    form = FormReader(await request.form())
    urls = form.lines("urls", label="URLs", max_items=MAX_URLS, max_len=2048)
    title = form.text("title", label="Title", max_len=job_service.MAX_TITLE)
    company = form.text("company", label="Company", max_len=job_service.MAX_COMPANY)
    if not urls and "urls" not in form.errors:
        form.errors["urls"] = "Paste at least one job URL (one per line)."
    new_jobs: list[job_q.NewJob] = []
    problems: list[str] = []
    for number, link in enumerate(urls, start=1):
        try:
            new_jobs.append(
                job_service.build_new_job(
                    url=link,
                    title=title if title and len(urls) == 1 else _title_from_url(link),
                    company=company,
                )
            )
        except job_service.JobInputError as exc:
            problems.append(f"line {number}: {exc}")
    if problems:
        form.errors["urls"] = "; ".join(problems)
    if not form.ok:
        return await run_in_threadpool(
            _rerender, request, db, errors=form.errors, values=form.values
        )
    summary = await run_in_threadpool(job_service.store_imported, db, new_jobs)
    response = redirect(request, "home")
    flash(
        response,
        request,
        "success",
        f"Added {summary.inserted} job{'s' if summary.inserted != 1 else ''}"
        + (f"; {summary.merged} already known" if summary.merged else "")
        + ".",
    )
    return response


@router.post("/jobs/import", name="home_import_csv")
async def import_csv(request: Request, db: UserDBDep) -> Response:
    form = FormReader(await request.form())
    upload = form.file("file")
    if upload is None:
        return await run_in_threadpool(
            _rerender, request, db, csv_errors=["Choose a CSV file to import."]
        )
    data = await upload.read()
    parsed = job_service.parse_csv(data)
    if parsed.errors:
        # Nothing is stored while any row is wrong: the user fixes the file and imports
        # it again, rather than hunting for which half went in.
        return await run_in_threadpool(_rerender, request, db, csv_errors=parsed.errors)
    summary = await run_in_threadpool(
        job_service.store_imported, db, parsed.jobs, skipped=parsed.duplicates_in_file
    )
    response = redirect(request, "home")
    flash(
        response,
        request,
        "success",
        f"Imported {upload.filename}: {summary.inserted} new, {summary.merged} already known"
        + (f", {summary.skipped} repeated in the file" if summary.skipped else "")
        + ".",
    )
    return response


@router.post("/tasks/run", name="home_run_task")
async def run_task(request: Request, db: UserDBDep) -> Response:
    form = FormReader(await request.form())
    kind = form.choice("kind", label="Task", choices=TASK_KINDS, default="")
    response = redirect(request, "home")
    queue = getattr(request.app.state, "tasks", None)
    if not form.ok:
        flash(response, request, "error", form.errors["kind"])
        return response
    if queue is None:
        flash(response, request, "error", NO_TASKS)
        return response
    params: dict[str, Any] = {}
    if kind == "discover":
        profile = form.text("profile", label="Search profile", max_len=100)
        if profile:
            params["profile"] = profile
    usage_events.remember_task_owner(request, db)
    info = await run_in_threadpool(lambda: queue.submit(db, kind=kind, params=params or None))
    label = TASK_KINDS[kind]
    flash(
        response,
        request,
        "info",
        f"{label} started." if info.created else f"{label} is already running.",
    )
    return response


@router.post("/setup/dismiss", name="setup_dismiss")
async def dismiss_setup(request: Request, db: UserDBDep) -> Response:
    def save() -> None:
        with db.write() as conn:
            pref_q.set_preference(conn, key="setup_dismissed", value=True)

    await run_in_threadpool(save)
    return flashed(
        redirect(request, "home"),
        request,
        "info",
        "Setup hidden. You can do it any time from Settings.",
    )
