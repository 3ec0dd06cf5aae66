"""`peregrine jobs …`: list, show, add, import and move jobs."""

from __future__ import annotations

from pathlib import Path

import click

from peregrine.cli.context import CliError, load_settings, open_local_db
from peregrine.services import jobs as job_service
from peregrine.services import pipeline
from peregrine.storage.queries import events as event_q
from peregrine.storage.queries import jobs as job_q


@click.group()
def jobs() -> None:
    """Work with the jobs in your search."""


def _truncate(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


@jobs.command("list")
@click.option(
    "--status",
    "statuses",
    multiple=True,
    type=click.Choice(pipeline.STATUSES),
    help="Only jobs with this status (repeatable).",
)
@click.option(
    "--sort", type=click.Choice(list(job_q.SORT_ORDERS)), default="score", show_default=True
)
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option(
    "--search", "text", help="Free text found in title, company, location or description."
)
def list_cmd(statuses: tuple[str, ...], sort: str, limit: int, text: str | None) -> None:
    """List jobs as a table."""
    db = open_local_db(load_settings())
    with db.read() as conn:
        found, total = job_q.list_jobs(
            conn, flt=job_q.JobFilter(statuses=statuses, text=text), sort=sort, limit=limit
        )
    if not found:
        click.echo("no jobs match")
        return
    click.echo(f"{'ID':>5}  {'SCORE':>5}  {'STATUS':<13} {'COMPANY':<24} TITLE")
    for job in found:
        score = f"{job.match_score:5.0f}" if job.match_score is not None else "    -"
        click.echo(
            f"{job.id:>5}  {score}  {job.status:<13} {_truncate(job.company or '-', 24):<24} "
            f"{_truncate(job.title, 60)}"
        )
    if total > len(found):
        click.echo(f"… {total - len(found)} more (use --limit)")


@jobs.command()
@click.argument("job_id", type=int)
def show(job_id: int) -> None:
    """Show one job with its history."""
    db = open_local_db(load_settings())
    with db.read() as conn:
        job = job_q.get_job(conn, job_id=job_id)
        if job is None:
            raise CliError(f"job {job_id} does not exist")
        history = event_q.events_for_job(conn, job_id=job_id)
    click.echo(f"#{job.id} {job.title}")
    click.echo(f"  company:  {job.company or '-'}")
    click.echo(f"  location: {job.location or '-'} ({job.work_mode})")
    click.echo(
        f"  status:   {job.status}"
        + (f" (rejected at {job.rejection_stage})" if job.rejection_stage else "")
    )
    click.echo(f"  score:    {job.match_score if job.match_score is not None else '-'}")
    click.echo(f"  url:      {job.url}")
    click.echo(f"  sources:  {', '.join(job.sources)}")
    if job.salary_text:
        click.echo(f"  salary:   {job.salary_text}")
    moves = pipeline.allowed_moves(job.status)
    click.echo(f"  can move to: {', '.join(moves) if moves else '(final status)'}")
    for event in history:
        undone = " (undone)" if event.undone_at else ""
        click.echo(
            f"  {event.at}  {event.from_status or '-'} → {event.to_status}{undone}"
            + (f"  {event.note}" if event.note else "")
        )


@jobs.command()
@click.argument("url")
@click.option("--title", help="Job title (read from the page when not given).")
@click.option("--company", default="", help="Company name.")
@click.option("--location", default="", help="Location.")
@click.option("--work-mode", type=click.Choice(job_service.WORK_MODES), default="unknown")
def add(url: str, title: str | None, company: str, location: str, work_mode: str) -> None:
    """Add one job by its URL; without --title the page is fetched and read."""
    if title:
        job = job_service.build_new_job(
            url=url, title=title, company=company, location=location, work_mode=work_mode
        )
    else:
        from peregrine.lib.http import HttpClient
        from peregrine.services.job_from_url import job_from_url

        with HttpClient() as http:
            job, layer = job_from_url(
                url, http, company=company, location=location, work_mode=work_mode
            )
        click.echo(f"read the page ({layer})")
    result = job_service.add_job(open_local_db(load_settings()), job)
    if result.created:
        click.echo(f"added job {result.job_id}: {job.title}")
    else:
        click.echo(f"already known as job {result.job_id} (same URL); details merged")


@jobs.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option(
    "--skip-invalid", is_flag=True, help="Import the valid rows even when some rows are invalid."
)
def import_cmd(file: Path, skip_invalid: bool) -> None:
    """Import jobs from a CSV file (columns: title, url, and optionally company, location,
    description, salary, date_posted, work_mode, source).

    All rows are checked first; if any is invalid nothing is imported unless --skip-invalid.
    """
    try:
        data = file.read_bytes()
    except OSError as exc:
        raise CliError(f"cannot read {file}: {exc.strerror}") from None
    parsed = job_service.parse_csv(data)
    for problem in parsed.errors[:50]:
        click.echo(f"{file.name}: {problem}", err=True)
    if len(parsed.errors) > 50:
        click.echo(f"… and {len(parsed.errors) - 50} more problems", err=True)
    if parsed.errors and (not skip_invalid or not parsed.jobs):
        raise CliError(
            f"{len(parsed.errors)} invalid row(s); nothing was imported"
            + ("" if skip_invalid else " (fix them, or use --skip-invalid)")
        )
    db = open_local_db(load_settings())
    summary = job_service.store_imported(db, parsed.jobs, skipped=len(parsed.errors))
    click.echo(
        f"imported {summary.inserted} new job(s), merged {summary.merged} already known"
        + (f", skipped {summary.skipped} invalid row(s)" if summary.skipped else "")
    )


@jobs.command()
@click.argument("job_id", type=int)
@click.argument("status")
@click.option("--note", default="", help="A note kept in the job's history.")
def move(job_id: int, status: str, note: str) -> None:
    """Move a job to STATUS following the pipeline rules."""
    result = pipeline.move(
        open_local_db(load_settings()), job_id=job_id, to_status=status, note=note
    )
    click.echo(f"job {result.job_id}: {result.from_status} → {result.to_status}")


@jobs.command()
@click.option("--job", "job_id", type=int, help="Undo the last move of this job only.")
def undo(job_id: int | None) -> None:
    """Undo the most recent move."""
    result = pipeline.undo_last(open_local_db(load_settings()), job_id=job_id)
    if result is None:
        raise CliError("there is nothing to undo")
    click.echo(f"job {result.job_id}: {result.from_status} → {result.to_status} (undone)")
