"""Backup restore: check an uploaded archive, rebuild a fresh database from it, swap it in.

Nothing in an upload is trusted. In order:

1. Archive checks before anything is written: total size, member count (read from the
   end-of-central-directory record before ``zipfile`` parses anything), only the known
   member names, no links, no encryption, and a decompression-ratio limit counted on the
   bytes actually read.
2. Database checks on the extracted copy: SQLite header, a read-only connection with
   ``trusted_schema=OFF``, ``quick_check``, a schema version no newer than ours, and every
   table we expect present as a real table (a view or virtual table under one of our
   names is refused).
3. Rows are copied with explicit column lists into a FRESH database built from our own
   migrations (encrypted with the user's key when one is given). Triggers, views and extra
   tables in the upload are never copied, and nothing is ever written to the upload, so its
   triggers never fire.
4. ``backup_swap.swap_in`` replaces the user's database with one ``os.replace`` after the caller has
   closed its handles; the old file stays as a pre-restore snapshot (a hard link) that
   ``rollback`` swaps back. At every instant the database path names a complete database.
"""

from __future__ import annotations

import hashlib
import json
import os
import stat
import struct
import zipfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlcipher3

from peregrine.lib.clock import now_iso
from peregrine.storage.backup import (
    DB_MEMBER,
    FORMAT_VERSION,
    MANIFEST_MEMBER,
    MEMBERS,
    BackupError,
    private_workdir,
)
from peregrine.storage.backup_swap import fsync_file, remove_with_sidecars, staged_path
from peregrine.storage.migrate import Migration, available_migrations, split_statements
from peregrine.storage.userdb import Connection, StorageError, connect

SQLITE_HEADER = b"SQLite format 3\x00"
_READ = 1024 * 1024


@dataclass(frozen=True)
class RestoreLimits:
    max_archive_bytes: int = 2 * 1024**3
    max_members: int = len(MEMBERS)
    max_database_bytes: int = 8 * 1024**3
    # Decompressed bytes per compressed byte. SQLite files of text compress 3-10x; empty
    # pages compress much better, so the first ``ratio_slack`` bytes are not counted.
    max_ratio: int = 100
    ratio_slack: int = 4 * 1024 * 1024
    max_manifest_bytes: int = 1024 * 1024


@dataclass
class StagedRestore:
    """A checked, complete database waiting next to the target for ``swap_in``."""

    path: Path
    schema_version: int
    created_at: str
    row_counts: dict[str, int] = field(default_factory=dict)

    def discard(self) -> None:
        remove_with_sidecars(self.path)


# --- 1. archive checks -------------------------------------------------------------------


def _declared_member_count(archive: Path) -> int:
    """The entry count from the end-of-central-directory record (zip64 aware).

    Read before ``zipfile`` so an archive with 100 000 members is refused without building
    100 000 ZipInfo objects.
    """
    size = archive.stat().st_size
    with archive.open("rb") as fh:
        tail_len = min(size, 65536 + 22)
        fh.seek(size - tail_len)
        tail = fh.read(tail_len)
        at = tail.rfind(b"PK\x05\x06")
        if at < 0 or at + 22 > len(tail):
            raise BackupError("this file is not a zip archive (or it is damaged)")
        total = struct.unpack("<H", tail[at + 10 : at + 12])[0]
        if total != 0xFFFF:
            return int(total)
        loc = tail.rfind(b"PK\x06\x07", 0, at)
        if loc < 0:
            raise BackupError("this zip archive is damaged (bad zip64 record)")
        offset = struct.unpack("<Q", tail[loc + 8 : loc + 16])[0]
        if offset + 56 > size:
            raise BackupError("this zip archive is damaged (bad zip64 record)")
        fh.seek(offset)
        record = fh.read(56)
        if record[:4] != b"PK\x06\x06":
            raise BackupError("this zip archive is damaged (bad zip64 record)")
        return int(struct.unpack("<Q", record[32:40])[0])


def _check_member(info: zipfile.ZipInfo) -> None:
    name = info.filename
    shown = name if name.isprintable() and len(name) <= 80 else repr(name[:80])
    if (
        "\\" in name
        or name.startswith("/")
        or ".." in name.split("/")
        or (len(name) > 1 and name[1] == ":")
    ):
        raise BackupError(f"this backup contains an unsafe file name ({shown}); it was refused")
    if name not in MEMBERS:
        raise BackupError(f"this backup contains an unexpected file ({shown}); it was refused")
    mode = info.external_attr >> 16
    if info.is_dir() or stat.S_IFMT(mode) not in (0, stat.S_IFREG):
        raise BackupError(f"{shown} in this backup is a link or a folder; it was refused")
    if info.flag_bits & 0x1:
        raise BackupError("this backup is password-protected; Peregrine backups are not")
    if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise BackupError(f"{shown} uses an unsupported compression method")


def _open_archive(archive: Path, limits: RestoreLimits) -> zipfile.ZipFile:
    try:
        size = archive.stat().st_size
    except OSError as exc:
        raise BackupError(f"cannot read the backup file: {exc.strerror}") from exc
    if size > limits.max_archive_bytes:
        raise BackupError(
            f"the backup is {size // 1024**2} MB; the limit is "
            f"{limits.max_archive_bytes // 1024**2} MB"
        )
    count = _declared_member_count(archive)
    if count > limits.max_members:
        raise BackupError(
            f"this backup holds {count} files; a Peregrine backup has at most {limits.max_members}"
        )
    try:
        zf = zipfile.ZipFile(archive)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, ValueError) as exc:
        raise BackupError("this file is not a zip archive (or it is damaged)") from exc
    try:
        infos = zf.infolist()
        if len(infos) > limits.max_members:
            raise BackupError(f"this backup holds {len(infos)} files, more than allowed")
        names = [info.filename for info in infos]
        if len(set(names)) != len(names):
            raise BackupError("this backup lists the same file twice; it was refused")
        for info in infos:
            _check_member(info)
        if DB_MEMBER not in names or MANIFEST_MEMBER not in names:
            raise BackupError(
                f"this is not a Peregrine backup ({DB_MEMBER} or {MANIFEST_MEMBER} is missing)"
            )
    except BaseException:
        zf.close()
        raise
    return zf


def _read_limited(
    zf: zipfile.ZipFile,
    info: zipfile.ZipInfo,
    limit: int,
    limits: RestoreLimits,
    sink: Callable[[bytes], None],
) -> tuple[int, str]:
    """Stream one member to ``sink``, enforcing size and ratio limits on the real bytes."""
    allowed = min(limit, max(info.compress_size, 1) * limits.max_ratio + limits.ratio_slack)
    sha = hashlib.sha256()
    total = 0
    try:
        with zf.open(info) as src:
            while block := src.read(_READ):
                total += len(block)
                if total > limit:
                    raise BackupError(f"{info.filename} in this backup is larger than allowed")
                if total > allowed:
                    raise BackupError(
                        f"{info.filename} in this backup expands too much (a zip bomb?); "
                        "it was refused"
                    )
                sha.update(block)
                sink(block)
    except (zipfile.BadZipFile, EOFError, ValueError) as exc:
        raise BackupError(f"{info.filename} in this backup is damaged: {exc}") from exc
    except OSError as exc:
        if isinstance(exc, BackupError):
            raise
        raise BackupError(f"cannot read the backup: {exc.strerror or exc}") from exc
    return total, sha.hexdigest()


def _read_manifest(zf: zipfile.ZipFile, limits: RestoreLimits) -> dict[str, Any]:
    parts: list[bytes] = []
    _read_limited(zf, zf.getinfo(MANIFEST_MEMBER), limits.max_manifest_bytes, limits, parts.append)
    try:
        manifest = json.loads(b"".join(parts))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise BackupError("the backup's manifest.json is not valid JSON") from exc
    if not isinstance(manifest, dict) or manifest.get("format") != "peregrine-backup":
        raise BackupError("this is not a Peregrine backup (manifest.json is not ours)")
    version = manifest.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise BackupError("the backup's manifest.json has no format version")
    if version > FORMAT_VERSION:
        raise BackupError(
            f"this backup uses format {version}, newer than this Peregrine supports "
            f"({FORMAT_VERSION}); upgrade Peregrine to restore it"
        )
    members = manifest.get("members")
    entry = members.get(DB_MEMBER) if isinstance(members, dict) else None
    if (
        not isinstance(entry, dict)
        or not isinstance(entry.get("sha256"), str)
        or not isinstance(entry.get("size"), int)
    ):
        raise BackupError("the backup's manifest.json does not describe the database")
    return manifest


# --- 2. database checks ------------------------------------------------------------------


def _looks_encrypted(head: bytes) -> bool:
    # SQLCipher files start with a random salt: many distinct byte values and no header.
    return len(set(head[:1024])) > 180


def _inspect_upload(path: Path, expected: dict[str, list[str]], latest: int) -> int:
    """Check the extracted upload defensively; return its schema version."""
    with path.open("rb") as fh:
        head = fh.read(1024)
    if not head.startswith(SQLITE_HEADER):
        if _looks_encrypted(head):
            raise BackupError(
                "the database in this backup is encrypted; Peregrine backups hold a plain "
                "SQLite database (make a new backup with Peregrine's export)"
            )
        raise BackupError("the database in this backup is not a SQLite file")
    try:
        conn = sqlcipher3.connect(
            f"file:{quote(str(path))}?mode=ro", uri=True, isolation_level=None
        )
    except sqlcipher3.Error as exc:
        raise BackupError(f"the database in this backup cannot be opened: {exc}") from exc
    try:
        conn.execute("PRAGMA trusted_schema = OFF")
        conn.execute("PRAGMA cell_size_check = ON")
        try:
            check = [row[0] for row in conn.execute("PRAGMA quick_check(20)")]
        except sqlcipher3.Error as exc:
            raise BackupError(f"the database in this backup is damaged ({exc})") from exc
        if check != ["ok"]:
            raise BackupError(f"the database in this backup is damaged ({'; '.join(check[:3])})")
        version = int(conn.execute("PRAGMA user_version").fetchone()[0])
        if version == 0:
            raise BackupError("the database in this backup holds no Peregrine data")
        if version > latest:
            raise BackupError(
                f"this backup has schema version {version}, newer than this Peregrine "
                f"supports ({latest}); upgrade Peregrine to restore it"
            )
        kinds = {
            name: (kind, sql or "")
            for kind, name, sql in conn.execute("SELECT type, name, sql FROM sqlite_schema")
        }
        for table, columns in expected.items():
            kind, sql = kinds.get(table, ("", ""))
            if kind != "table" or sql.lstrip().upper().startswith("CREATE VIRTUAL"):
                raise BackupError(
                    f"the database in this backup has no usable table {table!r}; it was refused"
                )
            have = {row[1] for row in conn.execute("SELECT * FROM pragma_table_info(?)", (table,))}
            missing = [c for c in columns if c not in have]
            if missing:
                raise BackupError(
                    f"table {table!r} in this backup lacks column(s) {', '.join(missing)}"
                )
    except sqlcipher3.Error as exc:
        raise BackupError(f"the database in this backup cannot be read ({exc})") from exc
    finally:
        conn.close()
    return version


# --- 3. fresh database -------------------------------------------------------------------


def _apply(conn: Connection, migrations: Sequence[Migration], *, after: int, upto: int) -> None:
    for migration in migrations:
        if not after < migration.version <= upto:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in split_statements(migration.sql):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {migration.version}")
            conn.execute("COMMIT")
        except BaseException:
            conn.execute("ROLLBACK")
            raise


def _tables(conn: Connection) -> dict[str, list[str]]:
    names = [
        row[0]
        for row in conn.execute(
            "SELECT name FROM sqlite_schema WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
            "ORDER BY name"
        )
    ]
    return {
        name: [row[1] for row in conn.execute("SELECT * FROM pragma_table_info(?)", (name,))]
        for name in names
    }


def stage_restore(
    archive: Path,
    *,
    target: Path,
    key: bytes | None,
    workdir_root: Path,
    limits: RestoreLimits | None = None,
    migrations: Sequence[Migration] | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> StagedRestore:
    """Check ``archive`` and build the database it holds next to ``target``.

    Nothing about the user's current database changes. ``progress(done, total)`` receives
    database bytes extracted. ``migrations`` defaults to the shipped ones (tests pass a
    longer list to exercise the upgrade of an older backup).
    """
    limits = limits or RestoreLimits()
    migrations = list(migrations) if migrations is not None else available_migrations()
    latest = migrations[-1].version if migrations else 0
    staged = staged_path(target)
    with _open_archive(archive, limits) as zf, private_workdir(workdir_root) as work:
        manifest = _read_manifest(zf, limits)
        info = zf.getinfo(DB_MEMBER)
        upload = work / "upload.db"
        fd = os.open(upload, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        total_hint = int(manifest["members"][DB_MEMBER]["size"])
        with open(fd, "wb") as out:
            written = 0

            def sink(block: bytes) -> None:
                nonlocal written
                out.write(block)
                written += len(block)
                if progress is not None:
                    progress(written, total_hint)

            try:
                size, digest = _read_limited(zf, info, limits.max_database_bytes, limits, sink)
            except OSError as exc:
                if isinstance(exc, BackupError):
                    raise
                raise BackupError(f"cannot unpack the backup: {exc.strerror}") from exc
        entry = manifest["members"][DB_MEMBER]
        if size != entry["size"] or digest != entry["sha256"]:
            raise BackupError(
                "the database in this backup does not match its checksum (damaged or altered)"
            )
        # The expected tables at the upload's version come from a scratch build of our own
        # migrations, so the upload's schema is never the reference.
        probe = connect(work / "probe.db", key=None, create=True)
        try:
            upload_version_guess = int(_peek_version(upload) if upload.stat().st_size >= 100 else 0)
            _apply(probe, migrations, after=0, upto=min(max(upload_version_guess, 1), latest))
            expected = _tables(probe)
        finally:
            probe.close()
        version = _inspect_upload(upload, expected, latest)
        try:
            counts = _build_fresh(staged, upload, key=key, migrations=migrations, at=version)
        except BaseException:
            remove_with_sidecars(staged)
            raise
    created = manifest.get("created_at")
    return StagedRestore(
        staged, version, created if isinstance(created, str) else "", row_counts=counts
    )


def _peek_version(path: Path) -> int:
    # user_version lives at byte offset 60 of the header (big-endian).
    with path.open("rb") as fh:
        head = fh.read(100)
    if not head.startswith(SQLITE_HEADER):
        return 0
    return int(struct.unpack(">i", head[60:64])[0])


# Kept by our own triggers in the fresh database: a backup's rows would only grow the table
# (every job write updates all of its rows).
_NOT_COPIED = frozenset({"job_changes"})
# Columns made anew instead of copied. A job's change mark: a copied one could be a mark a
# cache has already seen with other content. Given in the INSERT, it spares each restored
# job (description included) the trigger's second write of its row (0003); a random() of 0
# still gets one from the trigger.
_FRESH_VALUES = {"jobs": {"rev": "random()"}}


# Rows per INSERT … SELECT when copying a table (see _copy_rows).
_COPY_BATCH = 2000


def _copy_rows(conn: Connection, table: str, columns: list[str]) -> int:
    """Copy ``table`` from the attached upload in rowid order, a batch per statement.

    Our tables have triggers (0002_job_rev), and SQLite runs an INSERT … SELECT on a table
    with triggers through a temporary table holding every selected row; SQLCipher keeps
    temporary tables in memory (TEMP_STORE=2, so no plaintext temp file), which made one
    statement for 100 MB of jobs cost ~115 MB of RSS. Batches keep memory constant.
    """
    cols = ", ".join(f'"{c}"' for c in columns)
    fresh = _FRESH_VALUES.get(table, {})
    values = ", ".join(fresh.get(c, f'"{c}"') for c in columns)
    insert = f'INSERT INTO main."{table}" ({cols}) SELECT {values} FROM upload."{table}"'
    kind = conn.execute(
        "SELECT wr FROM pragma_table_list WHERE schema = 'upload' AND name = ?", (table,)
    ).fetchone()
    if kind is None or kind[0]:
        return int(conn.execute(insert).rowcount)
    copied, last = 0, None
    while True:
        after = "" if last is None else f"WHERE rowid > {int(last)}"
        high = conn.execute(
            f'SELECT max(rowid) FROM (SELECT rowid FROM upload."{table}" {after} '
            f"ORDER BY rowid LIMIT {_COPY_BATCH})"
        ).fetchone()[0]
        if high is None:
            return copied
        low = "" if last is None else f"rowid > {int(last)} AND "
        cursor = conn.execute(f"{insert} WHERE {low}rowid <= {int(high)} ORDER BY rowid")
        copied += cursor.rowcount
        last = high


def _build_fresh(
    staged: Path, upload: Path, *, key: bytes | None, migrations: Sequence[Migration], at: int
) -> dict[str, int]:
    latest = migrations[-1].version
    try:
        conn = connect(staged, key=key, create=True)
    except StorageError as exc:
        raise BackupError(f"cannot create the restored database: {exc}") from exc
    counts: dict[str, int] = {}
    try:
        os.chmod(staged, 0o600)
        conn.execute("PRAGMA trusted_schema = OFF")
        # The staged file is not the user's database until swap_in renames it, and it is
        # fsynced before that; a crash before then leaves a leftover removed at start-up.
        # So no WAL (it would write every page twice: WAL, then checkpoint) and no fsync
        # while building. An in-memory journal keeps ROLLBACK working; it holds only the
        # few pages that existed before the copy, since a fresh database grows by appending.
        conn.execute("PRAGMA journal_mode = MEMORY").fetchall()
        conn.execute("PRAGMA synchronous = OFF")
        _apply(conn, migrations, after=0, upto=at)
        tables = _tables(conn)
        conn.execute("PRAGMA foreign_keys = OFF")
        conn.execute("ATTACH DATABASE ? AS upload KEY ''", (f"file:{quote(str(upload))}?mode=ro",))
        try:
            conn.execute("BEGIN IMMEDIATE")
            for table, columns in tables.items():
                if table in _NOT_COPIED:
                    continue
                counts[table] = _copy_rows(conn, table, columns)
            # Unfinished tasks in a backup belong to the install that made it: no queue here
            # holds them, so they could never run (and in local mode they would start again
            # unasked). They are shown as interrupted, which the user can retry.
            conn.execute(
                "UPDATE main.tasks SET status = 'interrupted', finished_at = ?, error = ? "
                "WHERE status IN ('queued', 'running')",
                (now_iso(), "restored from a backup before it finished; start it again"),
            )
            problems = conn.execute("PRAGMA main.foreign_key_check").fetchall()
            if problems:
                raise BackupError(
                    f"the database in this backup has {len(problems)} broken reference(s) "
                    f"(first in table {problems[0][0]!r}); it was refused"
                )
            conn.execute("COMMIT")
        except sqlcipher3.IntegrityError as exc:
            raise BackupError(f"the database in this backup holds invalid rows ({exc})") from exc
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            conn.execute("DETACH DATABASE upload")
        conn.execute("PRAGMA foreign_keys = ON")
        _apply(conn, migrations, after=at, upto=latest)
        # No second quick_check here: the upload passed one, every row went in through
        # SQLite's own INSERT with our constraints and the foreign-key check, and the
        # previous database stays as the pre-restore copy. Reading back every page of the
        # fresh file would cost a third of the restore (bench/RESULTS.md).
        # A self-contained file (no -wal beside it) is what makes the later rename atomic.
        conn.execute("PRAGMA journal_mode = DELETE").fetchall()
    except sqlcipher3.Error as exc:
        raise BackupError(f"cannot restore this backup: {exc}") from exc
    finally:
        conn.close()
    fsync_file(staged)
    return counts
