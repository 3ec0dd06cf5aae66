"""Backup export: a zip any Peregrine install can restore, streamed with constant memory.

``open_export`` takes a consistent plain-SQLite snapshot of the user's database into a
private work folder (decrypting it when a key is given), then ``BackupExport.chunks()``
yields the zip a piece at a time so the web layer can stream it and the CLI can write it.
Closing the export (or the generator) removes the snapshot; nothing decrypted outlives it.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import zipfile
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass, field
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

CHUNK = 1024 * 1024
# Level 1 deflate: SQLite pages compress well even at the fastest level, and higher levels
# cost several times the CPU for a few percent (see bench/backup.py).
_LEVEL = 1

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


class _Sink(io.RawIOBase):
    """A write-only stream that hands its bytes to the consumer between writes."""

    def __init__(self) -> None:
        self._chunks: list[bytes] = []
        self._pos = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        chunk = bytes(data)
        self._chunks.append(chunk)
        self._pos += len(chunk)
        return len(chunk)

    def tell(self) -> int:
        return self._pos

    def take(self) -> bytes:
        out = b"".join(self._chunks)
        self._chunks.clear()
        return out


@dataclass
class _MemberLog:
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)


class _HashingWriter:
    """Writes into one zip member while counting its size and sha256."""

    def __init__(self, target: Any) -> None:
        self._target = target
        self.sha = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> None:
        self.sha.update(data)
        self.size += len(data)
        self._target.write(data)


def snapshot_plain(source: Path, *, key: bytes | None, dest: Path) -> int:
    """Copy ``source`` into a new plain SQLite file ``dest``; return its schema version.

    ``sqlcipher_export`` is used because ``Connection.backup()`` cannot copy from an
    encrypted database into a plain one. It runs inside one read transaction, so the copy
    is consistent while the app keeps writing. ``user_version`` is not copied by it.
    """
    conn = connect(source, key=key, create=False)
    try:
        conn.execute("BEGIN")
        version = schema_version(conn)
        conn.execute("ATTACH DATABASE ? AS plain KEY ''", (str(dest),))
        try:
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
        sink = _Sink()
        log = _MemberLog()
        with zipfile.ZipFile(
            sink, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=_LEVEL
        ) as zf:

            def member(name: str) -> Any:
                # A name (not a ZipInfo) makes zipfile apply the archive's compresslevel.
                return zf.open(name, "w", force_zip64=True)

            def finish(name: str, writer: _HashingWriter) -> None:
                log.entries[name] = {"size": writer.size, "sha256": writer.sha.hexdigest()}

            with member(DB_MEMBER) as raw, self._snapshot.open("rb") as src:
                writer = _HashingWriter(raw)
                while block := src.read(CHUNK):
                    writer.write(block)
                    if progress is not None:
                        progress(writer.size)
                    yield sink.take()
            finish(DB_MEMBER, writer)

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
                    with member(f"data/{stem}.json") as raw:
                        writer = _HashingWriter(raw)
                        yield from _write_json(conn, table, columns, writer, sink)
                    finish(f"data/{stem}.json", writer)
                    with member(f"data/{stem}.csv") as raw:
                        writer = _HashingWriter(raw)
                        count = yield from _write_csv(conn, table, columns, writer, sink)
                    finish(f"data/{stem}.csv", writer)
                    self.row_counts[table] = count
                for table in ("tasks", "llm_calls"):
                    if _columns(conn, table):
                        self.row_counts[table] = conn.execute(
                            f'SELECT count(*) FROM "{table}"'
                        ).fetchone()[0]
            finally:
                conn.close()

            with member(README_MEMBER) as raw:
                writer = _HashingWriter(raw)
                writer.write(README_TEXT.encode())
            finish(README_MEMBER, writer)

            manifest = {
                "format": "peregrine-backup",
                "format_version": FORMAT_VERSION,
                "app_version": __version__,
                "schema_version": self.schema_version,
                "created_at": now_iso(),
                "members": log.entries,
                "row_counts": self.row_counts,
            }
            zf.writestr(MANIFEST_MEMBER, json.dumps(manifest, indent=2, sort_keys=True))
            yield sink.take()
        yield sink.take()


def _quoted(columns: list[str]) -> str:
    return ", ".join(f'"{c}"' for c in columns)


# JSON and CSV text is produced by SQLite itself (json_object, replace), in C: the Python
# json and csv modules made the data exports cost several times the database copy.
def _json_rows_sql(table: str, columns: list[str]) -> str:
    pairs = ", ".join(f"'{c}', \"{c}\"" for c in columns)
    return f'SELECT json_object({pairs}) FROM "{table}" ORDER BY rowid'


def _csv_rows_sql(table: str, columns: list[str]) -> str:
    # Every non-NULL field is quoted (RFC 4180); NULL becomes an empty field.
    fields = " || ',' || ".join(
        f"""CASE WHEN "{c}" IS NULL THEN '' ELSE '"' || replace(CAST("{c}" AS TEXT), '"', '""') """
        f"""|| '"' END"""
        for c in columns
    )
    return f'SELECT {fields} FROM "{table}" ORDER BY rowid'


def _write_json(
    conn: Connection, table: str, columns: list[str], writer: _HashingWriter, sink: _Sink
) -> Iterator[bytes]:
    cursor = conn.execute(_json_rows_sql(table, columns))
    prefix = "[\n"
    while rows := cursor.fetchmany(256):
        writer.write((prefix + ",\n".join(row[0] for row in rows)).encode())
        prefix = ",\n"
        yield sink.take()
    writer.write(b"[]\n" if prefix == "[\n" else b"\n]\n")
    yield sink.take()


def _write_csv(
    conn: Connection, table: str, columns: list[str], writer: _HashingWriter, sink: _Sink
) -> Generator[bytes, None, int]:
    header = io.StringIO()
    csv.writer(header, lineterminator="\n").writerow(columns)
    writer.write(header.getvalue().encode())
    cursor = conn.execute(_csv_rows_sql(table, columns))
    count = 0
    while rows := cursor.fetchmany(256):
        count += len(rows)
        writer.write(("\n".join(row[0] for row in rows) + "\n").encode())
        yield sink.take()
    yield sink.take()
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
