"""Backup export: a zip any Peregrine install can restore, streamed with constant memory.

``open_export`` takes a consistent plain-SQLite snapshot of the user's database into a
private work folder (decrypting it when a key is given), then ``BackupExport.chunks()``
yields the zip a piece at a time so the web layer can stream it and the CLI can write it.
Closing the export (or the generator) removes the snapshot; nothing decrypted outlives it.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlcipher3

from peregrine import __version__
from peregrine.lib.clock import now_iso
from peregrine.storage.backup import (
    DATA_EXPORTS,
    DB_MEMBER,
    FORMAT_VERSION,
    MANIFEST_MEMBER,
    README_MEMBER,
    BackupError,
    private_workdir,
)
from peregrine.storage.migrate import schema_version
from peregrine.storage.userdb import Connection, StorageError, connect
from peregrine.storage.zipstream import ZipMember, ZipStream

CHUNK = 1024 * 1024
# Rows per fetch for the JSON and CSV text: a few hundred KB of text per zip chunk.
_BATCH = 256

README_TEXT = """\
Peregrine backup
================

This archive holds everything Peregrine stores for you.

peregrine.db   Your database as plain SQLite 3. Any SQLite tool opens it, and
               "Settings -> Data -> Restore" (or `peregrine backup import FILE`)
               loads it into Peregrine again.
manifest.json  Format and schema versions, when the backup was made, the size and
               SHA-256 checksum of every file, and how many rows each table holds.
data/*.json    The same data for people and other programs: one JSON array per
data/*.csv     table and one CSV file (UTF-8, header row) with the same rows.
               jobs: the jobs you found, with status, scores and notes;
               stages: every status change (stage history);
               letters: every cover-letter version; past_letters: your samples;
               contacts, messages, application_answers, application_snapshots,
               survey_responses, company_research, interview_prep, profile,
               resumes, search_profiles, keywords, blocklist, preferences.

Fields holding lists or objects are JSON text. Times are ISO-8601 in UTC.
"""


def snapshot_plain(source: Path, *, key: bytes | None, dest: Path) -> int:
    """Copy ``source`` into a new plain SQLite file ``dest``; return its schema version.

    ``sqlcipher_export`` is used because ``Connection.backup()`` cannot copy from an
    encrypted database into a plain one. It runs inside one read transaction, so the copy
    is consistent while the app keeps writing. ``user_version`` is not copied by it.
    """
    conn = connect(source, key=key, create=False)
    try:
        conn.execute("ATTACH DATABASE ? AS plain KEY ''", (str(dest),))
        try:
            # The plain copy is throw-away until the zip is complete (a crash leaves it to
            # sweep_workdirs), so it needs no rollback journal and no fsync: about a third
            # of the snapshot's time (bench/RESULTS.md).
            conn.execute("PRAGMA plain.journal_mode = OFF").fetchall()
            conn.execute("PRAGMA plain.synchronous = OFF")
            conn.execute("BEGIN")
            version = schema_version(conn)
            conn.execute("SELECT sqlcipher_export('plain')")
            conn.execute(f"PRAGMA plain.user_version = {int(version)}")
            conn.execute("COMMIT")
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            conn.execute("DETACH DATABASE plain")
    except sqlcipher3.Error as exc:
        raise BackupError(f"cannot copy the database for the backup: {exc}") from exc
    finally:
        conn.close()
    return version


def _columns(conn: Connection, table: str) -> list[str]:
    return [row[1] for row in conn.execute("SELECT * FROM pragma_table_info(?)", (table,))]


class BackupExport:
    """One export in progress. Use as a context manager, or iterate ``chunks()`` to the end
    (the generator cleans up when exhausted, closed or garbage-collected)."""

    def __init__(self, stack: contextlib.ExitStack, snapshot: Path, version: int) -> None:
        self._stack = stack
        self._snapshot = snapshot
        self.schema_version = version
        self.row_counts: dict[str, int] = {}
        self.filename = f"peregrine-backup-{now_iso()[:10]}.zip"

    def __enter__(self) -> BackupExport:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._stack.close()

    def chunks(self, progress: Callable[[int], None] | None = None) -> Iterator[bytes]:
        """The zip, piece by piece. ``progress`` receives the database bytes written so far."""
        try:
            yield from self._build(progress)
        finally:
            self.close()

    def _build(self, progress: Callable[[int], None] | None) -> Iterator[bytes]:
        pending: list[bytes] = []
        members: dict[str, dict[str, Any]] = {}

        def take() -> bytes:
            out = b"".join(pending)
            pending.clear()
            return out

        def finish(name: str, member: ZipMember) -> None:
            member.close()
            members[name] = {"size": member.size, "sha256": member.sha256}

        zs = ZipStream(pending.append)
        db = zs.member(DB_MEMBER)
        with self._snapshot.open("rb") as src:
            while block := src.read(CHUNK):
                db.write(block)
                if progress is not None:
                    progress(db.size)
                yield take()
        finish(DB_MEMBER, db)

        # The web layer pulls this generator from a thread pool one chunk at a time, never
        # concurrently, so successive chunks may run on different threads.
        conn = sqlcipher3.connect(
            f"file:{quote(str(self._snapshot))}?mode=ro",
            uri=True,
            isolation_level=None,
            check_same_thread=False,
        )
        try:
            conn.execute("BEGIN")
            for stem, table in DATA_EXPORTS.items():
                columns = _columns(conn, table)
                if not columns:
                    continue
                member = zs.member(f"data/{stem}.json")
                yield from _write_json(conn, table, columns, member, take)
                finish(f"data/{stem}.json", member)
                member = zs.member(f"data/{stem}.csv")
                count = yield from _write_csv(conn, table, columns, member, take)
                finish(f"data/{stem}.csv", member)
                self.row_counts[table] = count
            for table in ("tasks", "llm_calls"):
                if _columns(conn, table):
                    self.row_counts[table] = conn.execute(
                        f'SELECT count(*) FROM "{table}"'
                    ).fetchone()[0]
        finally:
            conn.close()

        finish(README_MEMBER, zs.writestr(README_MEMBER, README_TEXT.encode()))
        manifest = {
            "format": "peregrine-backup",
            "format_version": FORMAT_VERSION,
            "app_version": __version__,
            "schema_version": self.schema_version,
            "created_at": now_iso(),
            "members": members,
            "row_counts": self.row_counts,
        }
        zs.writestr(MANIFEST_MEMBER, json.dumps(manifest, indent=2, sort_keys=True).encode())
        zs.close()
        yield take()


def _quoted(columns: list[str]) -> str:
    return ", ".join(f'"{c}"' for c in columns)


# JSON and CSV text is produced by SQLite itself (json_object, printf), in C: the Python
# json and csv modules made the data exports cost several times the database copy.
def _json_rows_sql(table: str, columns: list[str]) -> str:
    pairs = ", ".join(f"'{c}', \"{c}\"" for c in columns)
    return f'SELECT json_object({pairs}) FROM "{table}" ORDER BY rowid'


def _csv_rows_sql(table: str, columns: list[str]) -> str:
    # Every non-NULL field is quoted (RFC 4180: printf's %w doubles the double quotes);
    # NULL becomes an empty field. One printf per row builds the line without the
    # intermediate strings that chained || concatenations make (half the time).
    line = ",".join("%s" for _ in columns)
    fields = ", ".join(f"""iif("{c}" IS NULL, '', printf('"%w"', "{c}"))""" for c in columns)
    return f"SELECT printf('{line}', {fields}) FROM \"{table}\" ORDER BY rowid"


def _write_json(
    conn: Connection,
    table: str,
    columns: list[str],
    member: ZipMember,
    take: Callable[[], bytes],
) -> Iterator[bytes]:
    cursor = conn.execute(_json_rows_sql(table, columns))
    prefix = "[\n"
    while rows := cursor.fetchmany(_BATCH):
        member.write((prefix + ",\n".join(row[0] for row in rows)).encode())
        prefix = ",\n"
        yield take()
    member.write(b"[]\n" if prefix == "[\n" else b"\n]\n")
    yield take()


def _write_csv(
    conn: Connection,
    table: str,
    columns: list[str],
    member: ZipMember,
    take: Callable[[], bytes],
) -> Generator[bytes, None, int]:
    header = io.StringIO()
    csv.writer(header, lineterminator="\n").writerow(columns)
    member.write(header.getvalue().encode())
    cursor = conn.execute(_csv_rows_sql(table, columns))
    count = 0
    while rows := cursor.fetchmany(_BATCH):
        count += len(rows)
        member.write(("\n".join(row[0] for row in rows) + "\n").encode())
        yield take()
    yield take()
    return count


def open_export(source: Path, *, key: bytes | None, workdir_root: Path) -> BackupExport:
    """Snapshot the database now (errors surface here, before any byte is sent)."""
    stack = contextlib.ExitStack()
    try:
        workdir = stack.enter_context(private_workdir(workdir_root))
        snapshot = workdir / "snapshot.db"
        try:
            version = snapshot_plain(source, key=key, dest=snapshot)
        except StorageError as exc:
            raise BackupError(f"cannot read the database for the backup: {exc}") from exc
        except OSError as exc:
            raise BackupError(f"cannot write the backup: {exc.strerror}") from exc
    except BaseException:
        stack.close()
        raise
    return BackupExport(stack, snapshot, version)


def write_export(
    source: Path,
    *,
    key: bytes | None,
    workdir_root: Path,
    out: Path,
    progress: Callable[[int], None] | None = None,
) -> BackupExport:
    """Write a backup to ``out`` atomically: a partial file never remains on failure."""
    partial = out.with_name(f".{out.name}.partial")
    export = open_export(source, key=key, workdir_root=workdir_root)
    try:
        fd = _create_private(partial)
        with open(fd, "wb") as fh:
            for chunk in export.chunks(progress):
                fh.write(chunk)
            fh.flush()
            os.fsync(fh.fileno())
        partial.replace(out)
    except BaseException as exc:
        export.close()
        partial.unlink(missing_ok=True)
        if isinstance(exc, OSError):
            raise BackupError(f"cannot write the backup to {out.name}: {exc.strerror}") from exc
        raise
    return export


def _create_private(path: Path) -> int:
    path.unlink(missing_ok=True)
    return os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
