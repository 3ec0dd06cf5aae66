"""`peregrine letter …`: write cover letters from the terminal."""

from __future__ import annotations

from pathlib import Path

import click

from peregrine.cli.context import CliError, load_settings, open_local_db


@click.group()
def letter() -> None:
    """Write and export cover letters."""


@letter.command()
@click.argument("job_id", type=int)
@click.option("--feedback", default="", help="Refine the latest version with this feedback.")
@click.option(
    "--pdf",
    "pdf_path",
    type=click.Path(dir_okay=False, writable=True, path_type=Path),
    help="Also write the letter as a one-page PDF to this file.",
)
@click.option(
    "--words", type=click.IntRange(100, 1000), default=300, show_default=True, help="Length target."
)
def generate(job_id: int, feedback: str, pdf_path: Path | None, words: int) -> None:
    """Write a new letter for JOB_ID (or refine the latest one with --feedback)."""
    from peregrine.lib.clock import utcnow
    from peregrine.llm.errors import LLMError
    from peregrine.llm.router import build_router
    from peregrine.services import cover_letters, letter_pdf
    from peregrine.storage.queries import jobs as job_q
    from peregrine.storage.queries import profile as profile_q

    settings = load_settings()
    db = open_local_db(settings)
    router = build_router(settings)
    try:
        version = cover_letters.generate(
            db,
            router,
            job_id=job_id,
            feedback=feedback,
            options=cover_letters.LetterOptions(target_words=words),
        )
    except (LLMError, cover_letters.LetterError) as exc:
        raise CliError(str(exc)) from None
    finally:
        router.close()
    click.echo(version.body)
    click.echo(
        f"\n— saved as version {version.version} ({version.origin}, {version.backend})", err=True
    )
    if pdf_path is not None:
        with db.read() as conn:
            profile = profile_q.get_profile(conn)
            job = job_q.get_job(conn, job_id=job_id)
        try:
            data = letter_pdf.render_letter(
                name=profile.full_name,
                contact=letter_pdf.contact_line(profile),
                date=utcnow().date(),
                body=version.body,
            )
        except letter_pdf.LetterPdfError as exc:
            raise CliError(str(exc)) from None
        pdf_path.write_bytes(data)
        click.echo(f"— PDF written to {pdf_path} ({job.company if job else ''})", err=True)
