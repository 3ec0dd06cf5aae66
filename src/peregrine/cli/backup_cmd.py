"""`peregrine backup …`: export, import and roll back the local database."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from peregrine.cli.context import CliError, load_settings
from peregrine.lib.clock import now_iso
from peregrine.storage.backup import sweep_workdirs
from peregrine.storage.backup_export import write_export
from peregrine.storage.backup_restore import RestoreLimits, stage_restore
from peregrine.storage.backup_swap import rollback_files, snapshot_path, swap_in
from peregrine.tenancy.local import WORKDIR_NAME


def _local_paths() -> tuple[Path, Path, int]:
    settings = load_settings()
    if settings.cloud:
        raise CliError(
            "this command works on a local database; CLOUD_MODE is true "
            "(use the admin commands for cloud users)"
        )
    db = settings.staging_db
    return db, db.parent / WORKDIR_NAME, settings.max_backup_bytes


def _progressbar(length: int, label: str) -> Any:
    # On stderr, so `--out -` style piping and scripts reading stdout stay clean.
    return click.progressbar(length=length, label=label, file=sys.stderr)


@click.group()
def backup() -> None:
    """Back up and restore the local database (see docs/backup.md)."""


@backup.command("export")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the zip (default: peregrine-backup-DATE.zip here).",
)
def export_cmd(out: Path | None) -> None:
    """Write a backup zip: the database as plain SQLite plus JSON and CSV copies."""
    db, workdir, _ = _local_paths()
    if not db.is_file():
        raise CliError(f"there is no database at {db} yet; nothing to back up")
    out = out or Path(f"peregrine-backup-{now_iso()[:10]}.zip")
    if out.is_dir():
        raise CliError(f"{out} is a folder; give a file name with --out")
    sweep_workdirs(workdir)
    total = db.stat().st_size
    with _progressbar(total, "exporting") as bar:
        last = 0

        def progress(done: int) -> None:
            nonlocal last
            bar.update(done - last)
            last = done

        export = write_export(db, key=None, workdir_root=workdir, out=out, progress=progress)
    rows = export.row_counts.get("jobs", 0)
    click.echo(f"wrote {out} ({out.stat().st_size // 1024} KiB, {rows} jobs)")


@backup.command("import")
@click.argument("archive", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def import_cmd(archive: Path, yes: bool) -> None:
    """Replace the local database with a backup. The current one is kept for rollback.

    Stop `peregrine serve` first: the database must not be in use.
    """
    db, workdir, limit = _local_paths()
    if db.exists() and not yes:
        click.confirm(
            f"Replace the data in {db} with {archive.name}? (`peregrine backup rollback` "
            "undoes it)",
            abort=True,
        )
    sweep_workdirs(workdir)
    db.parent.mkdir(parents=True, exist_ok=True)
    with _progressbar(1, "restoring") as bar:

        def progress(done: int, total: int) -> None:
            bar.length = max(total, 1)
            bar.pos = min(done, bar.length)
            bar.render_progress()

        staged = stage_restore(
            archive,
            target=db,
            key=None,
            workdir_root=workdir,
            limits=RestoreLimits(max_archive_bytes=limit),
            progress=progress,
        )
    try:
        swap_in(staged.path, db, key=None)
    except BaseException:
        staged.discard()
        raise
    click.echo(
        f"restored {staged.row_counts.get('jobs', 0)} jobs from a backup made "
        f"{staged.created_at or 'at an unknown time'}; the previous data is in "
        f"{snapshot_path(db).name}"
    )


@backup.command("rollback")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def rollback_cmd(yes: bool) -> None:
    """Put back the database from before the last import (run it again to undo)."""
    db, _, _ = _local_paths()
    if not yes:
        click.confirm(f"Swap {db} with the copy from before the last restore?", abort=True)
    rollback_files(db, key=None)
    click.echo(f"rolled back; the replaced data is now in {snapshot_path(db).name}")
