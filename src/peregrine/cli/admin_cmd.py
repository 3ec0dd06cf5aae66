"""`peregrine admin delete-user | export-user | rotate-secret`: operator actions on cloud
tenants' files (the platform-row commands live in platform_cmd.py)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import click

from peregrine.cli.context import CliError, load_settings
from peregrine.settings import Settings
from peregrine.storage.erasure import user_ref


def _cloud_settings() -> Settings:
    settings = load_settings()
    if not settings.cloud:
        raise CliError("this command works on cloud users; CLOUD_MODE is not true")
    if not settings.cloud_data_root.is_dir():
        raise CliError(f"CLOUD_DATA_ROOT {settings.cloud_data_root} is not a folder")
    return settings


def _user_id(value: str) -> str:
    from peregrine.services.account_erasure import AccountIdError, check_account_id

    try:
        return check_account_id(value)
    except AccountIdError as exc:
        raise CliError(str(exc)) from None


@click.command("delete-user")
@click.argument("user_id")
@click.option("--dry-run", is_flag=True, help="Show what would be erased; change nothing.")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
def delete_user(user_id: str, dry_run: bool, yes: bool) -> None:
    """Erase USER_ID (GDPR): their data folder and every platform row. Safe to re-run;
    rows that cannot be deleted while PostgreSQL is down are queued and retried by the
    next run."""
    from peregrine.services.account_erasure import erase_account

    uid = _user_id(user_id)
    settings = _cloud_settings()
    preview = erase_account(settings, uid, dry_run=True)
    files = preview.files
    if dry_run:
        state = "already erased" if files.already_erased else "would erase"
        click.echo(
            f"dry run: {state} user ref {files.user_ref}: {files.files} file(s), "
            f"{files.bytes} bytes, plus platform rows; nothing was changed"
        )
        return
    if not yes:
        click.confirm(f"Erase user {uid} and all their data? This cannot be undone", abort=True)
    done = erase_account(settings, uid)
    click.echo(
        f"erased user ref {done.files.user_ref}: {done.files.files} file(s), "
        f"{done.files.bytes} bytes"
    )
    if not done.platform_configured:
        click.echo("platform rows: PLATFORM_DB_URL is not set; queued", err=True)
    if done.pending:
        click.echo(
            f"platform rows pending for {len(done.pending)} user(s) (PostgreSQL unreachable); "
            "run the command again later",
            err=True,
        )
        raise SystemExit(2)
    click.echo("platform rows erased")


@click.command("export-user")
@click.argument("user_id")
@click.option(
    "--out",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Where to write the zip (default: peregrine-export-REF.zip here).",
)
def export_user(user_id: str, out: Path | None) -> None:
    """Write USER_ID's portability export (GDPR Art. 20): their database as plain SQLite
    plus JSON and CSV copies, the same zip as `peregrine backup export`."""
    from peregrine.storage.backup_export import write_export
    from peregrine.tenancy.identity import TenantLayout

    uid = _user_id(user_id)
    settings = _cloud_settings()
    assert settings.cf_server_secret is not None  # required in cloud mode by Settings
    layout = TenantLayout(
        settings.cloud_data_root,
        settings.cloud_app_slug,
        settings.cf_server_secret.reveal().encode(),
    )
    tenant = layout.tenant(uid)
    if not tenant.db_path.is_file():
        raise CliError(f"user ref {user_ref(uid)} has no database (never signed in, or erased)")
    out = out or Path(f"peregrine-export-{user_ref(uid)}.zip")
    if out.is_dir():
        raise CliError(f"{out} is a folder; give a file name with --out")
    from peregrine.storage.backup import sweep_workdirs
    from peregrine.tenancy.local import WORKDIR_NAME

    workdir = tenant.folder / WORKDIR_NAME
    sweep_workdirs(workdir)
    export = write_export(tenant.db_path, key=tenant.key, workdir_root=workdir, out=out)
    export.close()
    rows = export.row_counts.get("jobs", 0)
    click.echo(f"wrote {out} ({out.stat().st_size // 1024} KiB, {rows} jobs)")


def _rotation_targets(settings: Settings, old: bytes, new: bytes) -> Iterator[object]:
    from peregrine.storage.rekey import RotationTarget
    from peregrine.tenancy.identity import DB_NAME, IdentityError, canonical_user_id, derive_key
    from peregrine.tenancy.keycheck import CANARY_LABEL, CANARY_NAME

    root = settings.cloud_data_root
    canary = root / CANARY_NAME
    if canary.exists():
        yield RotationTarget(
            "key-check canary", canary, derive_key(old, CANARY_LABEL), derive_key(new, CANARY_LABEL)
        )
    for entry in sorted(root.iterdir()):
        try:
            uid = canonical_user_id(entry.name)
        except IdentityError:
            continue  # dot-folders, the erasure queue, scratch space
        db = entry / settings.cloud_app_slug / DB_NAME
        if entry.is_symlink() or not db.is_file():
            continue
        yield RotationTarget(uid, db, derive_key(old, uid), derive_key(new, uid))


@click.command("rotate-secret")
def rotate_secret() -> None:
    """Re-key every user database and the key-check canary from CF_SERVER_SECRET_PREVIOUS
    to CF_SERVER_SECRET. Resumable; exits 1 when any database failed. Follow the
    procedure in docs/cloud-deployment.md ("Secret rotation")."""
    from peregrine.storage.rekey import RotationTarget, rotate_all

    settings = _cloud_settings()
    if settings.cf_server_secret_previous is None or settings.cf_server_secret is None:
        raise CliError(
            "set CF_SERVER_SECRET to the new secret and CF_SERVER_SECRET_PREVIOUS to the old one"
        )
    old = settings.cf_server_secret_previous.reveal().encode()
    new = settings.cf_server_secret.reveal().encode()
    if old == new:
        raise CliError("CF_SERVER_SECRET and CF_SERVER_SECRET_PREVIOUS are the same")
    targets = [t for t in _rotation_targets(settings, old, new) if isinstance(t, RotationTarget)]
    journal = settings.cloud_data_root / ".rotation-journal.jsonl"
    with click.progressbar(length=len(targets), label="re-keying", file=sys.stderr) as bar:
        report = rotate_all(targets, journal=journal, progress=lambda _t, _o: bar.update(1))
    click.echo(
        f"re-keyed {len(report.rekeyed)}, already on the new secret {len(report.already)}, "
        f"done by an earlier run {len(report.resumed)}, failed {len(report.failed)}"
    )
    for name, reason in sorted(report.failed.items()):
        click.echo(f"failed: {name}: {reason}", err=True)
    if not report.ok:
        raise SystemExit(1)
