"""The members of a backup, made by worker threads and staged in the private work folder.

Making an export costs several times a plain copy's CPU (decrypting, writing the data a
second and third time as JSON and CSV, hashing and compressing all of it), so once
``backup_export.open_export`` has decrypted the plain snapshot the rest is spread over
threads that run on different cores: SQLite releases the GIL while it steps a statement
(where ``json_object`` and ``printf`` build the text), ISA-L and hashlib release it on
large buffers. One ``Lane`` encodes the database member (CRC-32, SHA-256, deflate); two
readers (``produce_text``) each read the snapshot through their own read-only connection,
one making the JSON text and one the CSV text, and feed one encoding lane each. Every
member is encoded in order into a staged file; the zip is then copied from those files in
the archive's fixed order while the later members are still being made.

Memory stays constant: rows are fetched a batch at a time and each lane holds at most a
few batches. The staged files hold personal data, so they live only in the export's
private work folder; the stop flag and ``Lane.close`` end every thread (each checks the
flag between batches) before that folder is removed.
"""

from __future__ import annotations

import csv
import io
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO
from urllib.parse import quote

import sqlcipher3

from peregrine.storage.backup import DATA_EXPORTS, BackupError
from peregrine.storage.zipstream import MemberEncoder

# Rows per fetch: about half a megabyte of text per batch on long job descriptions.
_BATCH = 128
# Batches a lane may hold before the producer waits for it.
_LANE_DEPTH = 2
_POLL_S = 0.1


class Stopped(Exception):
    """The export ended (an error elsewhere, or the client went away) before this work."""


@dataclass(frozen=True)
class Column:
    name: str
    # NOT NULL, or the INTEGER PRIMARY KEY (the rowid): the CSV can quote it without a test.
    never_null: bool


def table_columns(conn: sqlcipher3.Connection, table: str) -> list[Column]:
    rows = conn.execute("SELECT * FROM pragma_table_info(?)", (table,)).fetchall()
    keys = [row for row in rows if row[5]]
    rowid = keys[0][1] if len(keys) == 1 and str(keys[0][2]).upper() == "INTEGER" else None
    return [Column(row[1], bool(row[3]) or row[1] == rowid) for row in rows]


# JSON and CSV text is produced by SQLite itself (json_object, printf), in C: the Python
# json and csv modules made the data exports cost several times the database copy. It comes
# back as BLOBs (UTF-8 bytes: no decode into str and encode back per row). JSON and CSV are
# read in two passes by two threads: one pass making both costs less CPU in all (~0.5 s
# against ~0.7 s per 100 MB) but leaves a single thread as the longest chain.
def json_expression(columns: list[Column]) -> str:
    pairs = ", ".join(f"'{c.name}', \"{c.name}\"" for c in columns)
    return f"CAST(json_object({pairs}) AS BLOB)"


def csv_expression(columns: list[Column]) -> str:
    # Every non-NULL field is quoted (RFC 4180: printf's %w doubles the double quotes);
    # NULL becomes an empty field. One printf per row builds the line; a column that cannot
    # be NULL goes straight into it as "%w", the others through a nested printf only when
    # not NULL (a third less time than nesting every column).
    line = ",".join('"%w"' if c.never_null else "%s" for c in columns)
    fields = ", ".join(
        f'"{c.name}"'
        if c.never_null
        else f"""iif("{c.name}" IS NULL, '', printf('"%w"', "{c.name}"))"""
        for c in columns
    )
    return f"CAST(printf('{line}', {fields}) AS BLOB)"


def csv_header(columns: list[Column]) -> bytes:
    header = io.StringIO()
    csv.writer(header, lineterminator="\n").writerow([c.name for c in columns])
    return header.getvalue().encode()


class Lane:
    """One thread that runs what it is given in order; at most a few items wait."""

    def __init__(self, name: str, stop: threading.Event, depth: int = _LANE_DEPTH) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix=f"backup-{name}")
        self._slots = threading.Semaphore(depth)
        self._stop = stop

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        while not self._slots.acquire(timeout=_POLL_S):
            if self._stop.is_set():
                raise Stopped
        try:
            future = self._pool.submit(fn, *args)
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(lambda _: self._slots.release())
        return future

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class StagedMember:
    """One member encoded by a lane into a file; ``done`` resolves when it is complete.

    Only the lane's thread touches the file and the encoder until ``done``; a failed write
    is kept and raised by ``done`` (and seen by the producer through ``failed``).
    """

    def __init__(self, name: str, folder: Path, lane: Lane) -> None:
        self.name = name
        self.path = folder / name.replace("/", "_")
        self.rows = 0
        self.encoder: MemberEncoder | None = None
        self._lane = lane
        self._fh: BinaryIO | None = None
        self._error: BaseException | None = None
        # Resolved by the lane when the member is complete (or failed); never left pending
        # once the export is closed (``discard``).
        self.done: Future[None] = Future()

    @property
    def failed(self) -> bool:
        return self._error is not None

    def raise_error(self) -> None:
        if self._error is not None:
            raise _as_backup_error(self._error) from self._error

    def write(self, data: bytes) -> None:
        self._lane.submit(self._write, data)

    def _opened(self) -> MemberEncoder | None:
        """The encoder, opening the staged file on first use (in the lane's thread)."""
        if self.encoder is None and self._error is None:
            try:
                self._fh = self.path.open("xb")
                self.encoder = MemberEncoder(self._fh.write)
            except BaseException as exc:
                self._error = exc
        return self.encoder

    def finish(self) -> None:
        self._lane.submit(self._finish)

    def _write(self, data: bytes) -> None:
        encoder = self._opened()
        if encoder is None or self._error is not None:
            return
        try:
            encoder.write(data)
        except BaseException as exc:
            self._error = exc

    def _finish(self) -> None:
        try:
            encoder = self._opened()
            if encoder is not None and self._error is None:
                encoder.finish()
        except BaseException as exc:
            self._error = exc
        finally:
            self._close_file()
        if self._error is not None:
            self.done.set_exception(_as_backup_error(self._error))
        else:
            self.done.set_result(None)

    def discard(self) -> None:
        """Close the staged file (the export's work folder removal deletes it); a member
        left unfinished by a stopped export fails."""
        self._close_file()
        if not self.done.done():
            self.done.set_exception(Stopped())

    def _close_file(self) -> None:
        if self._fh is not None:
            try:
                self._fh.close()
            except OSError as exc:  # the last buffered write failed (disk full)
                if self._error is None:
                    self._error = exc

    def run_alone(self, fill: Callable[[MemberEncoder], None]) -> None:
        """Encode the whole member in one lane call (the database member)."""

        def job() -> None:
            encoder = self._opened()
            if encoder is not None:
                try:
                    fill(encoder)
                except BaseException as exc:
                    self._error = exc
            self._finish()

        self._lane.submit(job)


def _as_backup_error(exc: BaseException) -> BaseException:
    if isinstance(exc, OSError):
        return BackupError(f"cannot write the backup: {exc.strerror}")
    if isinstance(exc, sqlcipher3.Error):
        return BackupError(f"cannot read the database for the backup: {exc}")
    return exc


def open_snapshot(snapshot: Path) -> sqlcipher3.Connection:
    """A read-only connection to the plain snapshot, for the thread that opens it."""
    return sqlcipher3.connect(
        f"file:{quote(str(snapshot))}?mode=ro", uri=True, isolation_level=None
    )


@dataclass(frozen=True)
class TextTable:
    """One exported table and the two members its rows go to."""

    table: str
    columns: list[Column]
    as_json: StagedMember
    as_csv: StagedMember


def plan_text(snapshot: Path, folder: Path, json_lane: Lane, csv_lane: Lane) -> list[TextTable]:
    """The exported tables that exist in the snapshot, with their members (archive order)."""
    conn = open_snapshot(snapshot)
    try:
        plan = []
        for stem, table in DATA_EXPORTS.items():
            columns = table_columns(conn, table)
            if columns:
                as_json = StagedMember(f"data/{stem}.json", folder, json_lane)
                as_csv = StagedMember(f"data/{stem}.csv", folder, csv_lane)
                plan.append(TextTable(table, columns, as_json, as_csv))
        return plan
    finally:
        conn.close()


def produce_text(
    snapshot: Path, plan: list[TextTable], kind: str, stop: threading.Event
) -> dict[str, int]:
    """Read every exported table of the plain snapshot, hand its ``kind`` ("json" or
    "csv") text to the members' lane, and return the row counts (internal tables too)."""
    counts: dict[str, int] = {}
    try:
        conn = open_snapshot(snapshot)
        try:
            # One read transaction: the snapshot never changes, but a statement outside one
            # takes and drops the file lock every time.
            conn.execute("BEGIN")
            for item in plan:
                produce = _produce_json if kind == "json" else _produce_csv
                counts[item.table] = produce(conn, item, stop)
            for table in ("tasks", "llm_calls"):
                if table_columns(conn, table):
                    counts[table] = conn.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0]
        finally:
            conn.close()
    except sqlcipher3.Error as exc:
        raise BackupError(f"cannot read the backup snapshot: {exc}") from exc
    return counts


def _batches(
    conn: sqlcipher3.Connection, sql: str, member: StagedMember, stop: threading.Event
) -> Iterator[list[Any]]:
    cursor = conn.execute(sql)
    while rows := cursor.fetchmany(_BATCH):
        if stop.is_set():
            raise Stopped
        member.raise_error()
        yield rows


def _produce_json(conn: sqlcipher3.Connection, item: TextTable, stop: threading.Event) -> int:
    sql = f'SELECT {json_expression(item.columns)} FROM "{item.table}" ORDER BY rowid'
    member, prefix, count = item.as_json, b"[\n", 0
    for rows in _batches(conn, sql, member, stop):
        count += len(rows)
        member.write(prefix + b",\n".join(row[0] for row in rows))
        prefix = b",\n"
    member.write(b"[]\n" if count == 0 else b"\n]\n")
    member.finish()
    return count


def _produce_csv(conn: sqlcipher3.Connection, item: TextTable, stop: threading.Event) -> int:
    sql = f'SELECT {csv_expression(item.columns)} FROM "{item.table}" ORDER BY rowid'
    member, count = item.as_csv, 0
    member.write(csv_header(item.columns))
    for rows in _batches(conn, sql, member, stop):
        count += len(rows)
        member.write(b"\n".join(row[0] for row in rows) + b"\n")
    member.finish()
    return count
