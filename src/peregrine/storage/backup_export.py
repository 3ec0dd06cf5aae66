"""Backup export: a zip any Peregrine install can restore, streamed with constant memory.

``open_export`` takes a consistent plain-SQLite snapshot of the user's database into a
private work folder (decrypting it when a key is given) and sets worker threads making the
members from it (``backup_text``); ``BackupExport.chunks()`` then yields the zip a piece at
a time so the web layer can stream it and the CLI can write it. Closing the export (or the
generator) stops the workers and removes the snapshot; nothing decrypted outlives it.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, wait
from pathlib import Path
from typing import Any

import sqlcipher3

from peregrine import __version__
from peregrine.lib.clock import now_iso
from peregrine.storage.backup import (
    DB_MEMBER,
    FORMAT_VERSION,
    MANIFEST_MEMBER,
    README_MEMBER,
    BackupError,
    private_workdir,
)
from peregrine.storage.backup_text import Lane, StagedMember, Stopped, plan_text, produce_text
from peregrine.storage.migrate import schema_version
from peregrine.storage.userdb import Connection, StorageError, connect
from peregrine.storage.zipstream import MemberEncoder, ZipStream

CHUNK = 1024 * 1024

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


def _export_plain(conn: Connection, version: int) -> None:
    """Copy the database ``conn`` reads (inside its read transaction) into the attached
    plain file with ``sqlcipher_export``: ``Connection.backup()`` cannot copy from an
    encrypted database into a plain one. ``user_version`` is not copied by it."""
    conn.execute("SELECT sqlcipher_export('plain')")
    conn.execute(f"PRAGMA plain.user_version = {int(version)}")
    conn.execute("COMMIT")


def _attach_plain(conn: Connection, dest: Path) -> None:
    conn.execute("ATTACH DATABASE ? AS plain KEY ''", (str(dest),))
    # The plain copy is throw-away until the zip is complete (a crash leaves it to
    # sweep_workdirs), so it needs no rollback journal and no fsync: about a third of the
    # snapshot's time (bench/RESULTS.md).
    conn.execute("PRAGMA plain.journal_mode = OFF").fetchall()
    conn.execute("PRAGMA plain.synchronous = OFF")


def snapshot_plain(source: Path, *, key: bytes | None, dest: Path) -> int:
    """Copy ``source`` into a new plain SQLite file ``dest``; return its schema version.

    Runs inside one read transaction, so the copy is consistent while the app keeps
    writing.
    """
    conn = connect(source, key=key, create=False)
    try:
        _attach_plain(conn, dest)
        conn.execute("BEGIN")
        version = schema_version(conn)
        _export_plain(conn, version)
    except sqlcipher3.Error as exc:
        raise BackupError(f"cannot copy the database for the backup: {exc}") from exc
    finally:
        conn.close()
    return version


class BackupExport:
    """One export in progress. Use as a context manager, or iterate ``chunks()`` to the end
    (the generator cleans up when exhausted, closed or garbage-collected)."""

    def __init__(
        self,
        stack: contextlib.ExitStack,
        staged: list[StagedMember],
        version: int,
        readers: list[Future[dict[str, int]]],
    ) -> None:
        self._stack = stack
        self._staged = staged
        # The JSON reader's counts are the manifest's (both readers count the same rows).
        self._readers = readers
        self.schema_version = version
        # Filled in when the zip is complete.
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

    def _wait_for(self, staged: StagedMember) -> None:
        # A reader may fail before it finishes the member: its error is the one to raise.
        pending: set[Future[Any]] = {staged.done, *self._readers}
        while not staged.done.done():
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                if future is not staged.done and future.exception() is not None:
                    future.result()
        staged.done.result()

    def _build(self, progress: Callable[[int], None] | None) -> Iterator[bytes]:
        pending: list[bytes] = []
        members: dict[str, dict[str, Any]] = {}

        def take() -> bytes:
            out = b"".join(pending)
            pending.clear()
            return out

        zs = ZipStream(pending.append)
        # The web layer pulls this generator from a thread pool one chunk at a time, never
        # concurrently, so successive chunks may run on different threads. The members are
        # still being encoded by the lanes: each is copied once it is complete.
        for staged in self._staged:
            self._wait_for(staged)
            encoder = staged.encoder
            assert encoder is not None
            copy = zs.copy_staged(staged.name, encoder)
            copied = 0
            with staged.path.open("rb") as fh:
                while block := fh.read(CHUNK):
                    copy.write(block)
                    copied += len(block)
                    if progress is not None and staged.name == DB_MEMBER:
                        progress(encoder.size * copied // max(encoder.compress_size, 1))
                    yield take()
            copy.close()
            staged.path.unlink()
            members[staged.name] = {"size": encoder.size, "sha256": encoder.sha256}

        self.row_counts.update(self._readers[0].result())
        readme = zs.writestr(README_MEMBER, README_TEXT.encode())
        members[README_MEMBER] = {"size": readme.size, "sha256": readme.sha256}
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


def _encode_file(path: Path, stop: threading.Event) -> Callable[[MemberEncoder], None]:
    def fill(encoder: MemberEncoder) -> None:
        with path.open("rb") as src:
            while block := src.read(CHUNK):
                if stop.is_set():
                    raise Stopped
                encoder.write(block)

    return fill


def _discard_all(staged: list[StagedMember]) -> None:
    for member in staged:
        member.discard()


def open_export(source: Path, *, key: bytes | None, workdir_root: Path) -> BackupExport:
    """Snapshot the database now (errors surface here, before any byte is sent); the
    members are then made by worker threads from the snapshot while the zip streams."""
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
        members = workdir / "members"
        members.mkdir(mode=0o700)
        stop = threading.Event()
        staged: list[StagedMember] = []
        # Unwound in reverse: stop every thread and wait for it, then close the staged
        # files, then (private_workdir) remove the folder.
        stack.callback(_discard_all, staged)
        names = ("database", "json", "csv", "read-json", "read-csv")
        lanes = [Lane(name, stop) for name in names]
        for lane in lanes:
            stack.callback(lane.close)
        stack.callback(stop.set)
        db_lane, json_lane, csv_lane, json_reader, csv_reader = lanes
        # Decrypting cannot be spread over cores (two SQLCipher connections decrypting at
        # once take as long as one after the other: bench/RESULTS.md), so the parallel
        # work starts from the plain snapshot: the database member in one lane, a reader
        # for the JSON text and one for the CSV text, each feeding its own encoding lane.
        staged.append(StagedMember(DB_MEMBER, members, db_lane))
        staged[0].run_alone(_encode_file(snapshot, stop))
        try:
            plan = plan_text(snapshot, members, json_lane, csv_lane)
        except sqlcipher3.Error as exc:
            raise BackupError(f"cannot read the backup snapshot: {exc}") from exc
        for item in plan:
            staged += [item.as_json, item.as_csv]
        readers = [
            json_reader.submit(produce_text, snapshot, plan, "json", stop),
            csv_reader.submit(produce_text, snapshot, plan, "csv", stop),
        ]
    except BaseException:
        stack.close()
        raise
    return BackupExport(stack, staged, version, readers)


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
