"""`peregrine doctor`: checks an operator can run before and after a change.

Each finding has a stable id (``P001``…) documented in docs/doctor.md, so scripts and
support threads can refer to it. Checks are plain functions from a ``DoctorContext`` to
findings; cloud checks (key canary, PostgreSQL) are added by passing more of them to
``run_checks`` from the cloud and platform wiring.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import sqlcipher3

from peregrine.settings import Settings, SettingsError
from peregrine.storage.backup_swap import leftover_staged, snapshot_path
from peregrine.storage.migrate import latest_version, schema_version
from peregrine.storage.userdb import StorageError, connect

Level = Literal["ok", "warning", "error"]
# SQLite before 3.51.3 can corrupt WAL databases when a checkpoint races a reset.
MIN_SQLITE = (3, 51, 3)


@dataclass(frozen=True)
class Finding:
    id: str
    level: Level
    message: str

    @property
    def docs(self) -> str:
        return f"docs/doctor.md#{self.id.lower()}"


@dataclass
class DoctorContext:
    environ: Mapping[str, str] | None
    settings: Settings | None = None


Check = Callable[[DoctorContext], Iterable[Finding]]


def check_settings(ctx: DoctorContext) -> Iterable[Finding]:
    try:
        ctx.settings = Settings.from_env(ctx.environ)
    except SettingsError as exc:
        yield Finding("P001", "error", f"settings are invalid: {exc}")
        return
    yield Finding("P001", "ok", f"settings parsed (mode {ctx.settings.mode})")
    if ctx.settings.cloud and ctx.settings.cf_server_secret_previous is not None:
        yield Finding(
            "P002",
            "warning",
            "CF_SERVER_SECRET_PREVIOUS is set: finish the rotation "
            "(peregrine admin rotate-secret) and then unset it",
        )


def _data_folder(settings: Settings) -> Path:
    return settings.cloud_data_root if settings.cloud else settings.staging_db.parent


def check_data_folder(ctx: DoctorContext) -> Iterable[Finding]:
    if ctx.settings is None:
        return
    folder = _data_folder(ctx.settings)
    if not folder.exists():
        level: Level = "error" if ctx.settings.cloud else "warning"
        yield Finding("P010", level, f"data folder {folder} does not exist yet")
        return
    if not folder.is_dir():
        yield Finding("P010", "error", f"data folder {folder} is not a folder")
        return
    if not os.access(folder, os.W_OK | os.X_OK):
        yield Finding("P010", "error", f"data folder {folder} is not writable by this user")
        return
    yield Finding("P010", "ok", f"data folder {folder} is writable")
    mode = stat.S_IMODE(folder.stat().st_mode)
    if mode & 0o077:
        yield Finding(
            "P011",
            "warning",
            f"data folder {folder} is readable by other users (mode {mode:o}); "
            f"run chmod 700 {folder}",
        )
    else:
        yield Finding("P011", "ok", f"data folder permissions are private ({mode:o})")


def _versions() -> tuple[str, str]:
    conn = sqlcipher3.connect(":memory:")
    try:
        sqlite = str(conn.execute("SELECT sqlite_version()").fetchone()[0])
        row = conn.execute("PRAGMA cipher_version").fetchone()
        cipher = str(row[0]) if row else ""
    finally:
        conn.close()
    return sqlite, cipher


def check_sqlite(ctx: DoctorContext) -> Iterable[Finding]:
    sqlite, cipher = _versions()
    parts = tuple(int(p) for p in sqlite.split(".")[:3] if p.isdigit())
    if parts < MIN_SQLITE:
        yield Finding(
            "P020",
            "warning",
            f"SQLite {sqlite} is older than {'.'.join(map(str, MIN_SQLITE))} (WAL-reset bug)",
        )
    else:
        yield Finding("P020", "ok", f"SQLite {sqlite}")
    if not cipher:
        level: Level = "error" if ctx.settings is not None and ctx.settings.cloud else "warning"
        yield Finding("P021", level, "SQLCipher is not available; cloud mode cannot encrypt")
    else:
        yield Finding("P021", "ok", f"SQLCipher {cipher}")


def check_local_database(ctx: DoctorContext) -> Iterable[Finding]:
    if ctx.settings is None or ctx.settings.cloud:
        return
    db = ctx.settings.staging_db
    if not db.exists():
        yield Finding(
            "P030", "warning", f"no database at {db} yet (created by `peregrine db migrate`)"
        )
        return
    try:
        conn = connect(db, key=None, create=False)
    except StorageError as exc:
        yield Finding("P030", "error", f"database {db} does not open: {exc}")
        return
    try:
        check = conn.execute("PRAGMA quick_check").fetchone()[0]
        version = schema_version(conn)
    except sqlcipher3.Error as exc:
        yield Finding("P030", "error", f"database {db} cannot be read: {exc}")
        return
    finally:
        conn.close()
    if check != "ok":
        yield Finding("P030", "error", f"database {db} is damaged: {check}")
    else:
        yield Finding("P030", "ok", f"database {db} opens and passes quick_check")
    latest = latest_version()
    if version > latest:
        yield Finding(
            "P031", "error", f"schema version {version} is newer than this Peregrine ({latest})"
        )
    elif version < latest:
        yield Finding(
            "P031", "warning", f"schema version {version}; {latest} is applied at next start"
        )
    else:
        yield Finding("P031", "ok", f"schema version {version} (latest)")
    if leftover_staged(db):
        yield Finding(
            "P040",
            "warning",
            f"an interrupted restore left {leftover_staged(db)[0].name}; it is removed at the "
            "next start",
        )
    if snapshot_path(db).exists():
        yield Finding(
            "P041",
            "ok",
            f"a pre-restore copy exists ({snapshot_path(db).name}); "
            "`peregrine backup rollback` swaps it back",
        )


DEFAULT_CHECKS: tuple[Check, ...] = (
    check_settings,
    check_data_folder,
    check_sqlite,
    check_local_database,
)


def run_checks(
    environ: Mapping[str, str] | None = None, extra: Sequence[Check] = ()
) -> list[Finding]:
    """Run every check in order; the settings check feeds the rest through the context."""
    ctx = DoctorContext(environ)
    findings: list[Finding] = []
    for check in (*DEFAULT_CHECKS, *extra):
        try:
            findings.extend(check(ctx))
        except Exception as exc:
            findings.append(
                Finding("P099", "error", f"{check.__name__} failed: {type(exc).__name__}: {exc}")
            )
    return findings
