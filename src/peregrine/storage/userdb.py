"""One user's database: opening, preparing and pooling its connections.

Every connection in Peregrine passes through ``prepare_connection``. We use the
``sqlcipher3`` binding in every mode: without a key it reads and writes ordinary SQLite
files (stock ``sqlite3`` opens them), and it bundles a current SQLite (3.53) instead of
whatever the system Python was built with, which may carry the WAL-reset bug fixed in 3.51.3.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import sqlcipher3

from peregrine.storage.migrate import apply_migrations

# sqlcipher3 is a fork of the standard binding with the same API but no type stubs, so the
# standard classes stand in for its connection and row types.
Connection = sqlite3.Connection
Row = sqlite3.Row
DatabaseError = sqlcipher3.DatabaseError
IntegrityError = sqlcipher3.IntegrityError

BUSY_TIMEOUT_MS = 5000
_POOL_IDLE_MAX = 4


class StorageError(Exception):
    """A database cannot be opened or used; the message is meant for a person."""


class NotADatabaseError(StorageError):
    """The file is not SQLite, or (in cloud mode) the key does not open it."""


def prepare_connection(conn: Connection, *, key: bytes | None, name: str = "database") -> None:
    """Apply the key and the per-connection settings every Peregrine connection needs."""
    if key is not None:
        # Raw-key form: SQLCipher uses the 32 bytes directly. A passphrase would run
        # PBKDF2 (256k iterations) on every open, about 100 ms.
        conn.execute("PRAGMA cipher_log_level = NONE")
        conn.execute(f"PRAGMA key = \"x'{key.hex()}'\"")
    conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys = ON")
    try:
        # Reading the schema is the first access that decrypts a page, so a wrong key or a
        # file that is not SQLite fails here rather than halfway through a request.
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except DatabaseError as exc:
        raise NotADatabaseError(
            f"{name} is not a Peregrine database (not SQLite, damaged, or encrypted with "
            "another key)"
        ) from exc
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute("PRAGMA synchronous = NORMAL")
    conn.row_factory = sqlcipher3.Row


def connect(path: Path, *, key: bytes | None, create: bool) -> Connection:
    """Open one prepared connection; never creates a file unless ``create`` is true."""
    mode = "rwc" if create else "rw"
    uri = f"file:{quote(str(path.absolute()))}?mode={mode}"
    try:
        conn: Connection = sqlcipher3.connect(
            uri, uri=True, isolation_level=None, check_same_thread=False, timeout=5.0
        )
    except sqlcipher3.OperationalError as exc:
        if not create and not path.exists():
            raise StorageError(f"database {path.name} does not exist") from exc
        raise StorageError(f"cannot open database {path.name}: {exc}") from exc
    try:
        prepare_connection(conn, key=key, name=path.name)
    except BaseException:
        conn.close()
        raise
    return conn


class UserDB:
    """A handle to one user's database with a small pool of prepared connections.

    Connections are shared between threads only through the pool, one borrower at a time.
    Write transactions start with ``BEGIN IMMEDIATE``: a deferred transaction that reads and
    then writes cannot be retried by the busy handler and fails under concurrency.
    """

    def __init__(self, path: Path, *, key: bytes | None = None) -> None:
        self.path = path
        self._key = key
        self._idle: list[Connection] = []
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self.closed = False

    @classmethod
    def open(cls, path: Path, *, key: bytes | None = None, create: bool = False) -> UserDB:
        """Open (and migrate) a database. ``create`` must be explicit: provisioning is a
        separate decision from opening, so a wrong key or path never yields an empty account.
        """
        if create:
            try:
                path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StorageError(
                    f"cannot create the data folder {path.parent}: {exc.strerror}"
                ) from exc
            if not os.access(path.parent, os.W_OK):
                raise StorageError(f"the data folder {path.parent} is not writable")
        db = cls(path, key=key)
        conn = connect(path, key=key, create=create)
        try:
            apply_migrations(conn)
        except BaseException:
            conn.close()
            raise
        db._release(conn)
        return db

    def _acquire(self) -> Connection:
        if self.closed:
            raise StorageError("database handle is closed")
        with self._lock:
            if self._pid != os.getpid():
                # After a fork the parent's connections must not be used or closed here.
                self._idle = []
                self._pid = os.getpid()
            if self._idle:
                return self._idle.pop()
        return connect(self.path, key=self._key, create=False)

    def _release(self, conn: Connection) -> None:
        with self._lock:
            if (
                not self.closed
                and len(self._idle) < _POOL_IDLE_MAX
                and conn.in_transaction is False
            ):
                self._idle.append(conn)
                return
        conn.close()

    def read(self) -> contextlib.AbstractContextManager[Connection]:
        """A connection for reads (autocommit; each statement sees a consistent snapshot)."""
        return self._lend(self._acquire())

    @contextlib.contextmanager
    def _lend(self, conn: Connection) -> Iterator[Connection]:
        try:
            yield conn
        finally:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            self._release(conn)

    def read_idle(self) -> contextlib.AbstractContextManager[Connection | None]:
        """An idle pooled connection, or None when none is idle: for a read on the event
        loop (the cached-page path in cloud mode), which must not open a file (``read``
        opens a connection when the pool is empty).

        Why no shorter busy timeout for it (measured: two PRAGMAs per use cost as much as
        the read): in WAL mode a reader on an already open connection does not wait on
        writers or checkpoints. SQLite's exceptions are a database in exclusive locking
        mode (never used here) and WAL recovery after a crash, which the first connection
        to open the file runs, long before a handle reaches the pool.
        """
        with self._lock:
            if self.closed or self._pid != os.getpid() or not self._idle:
                return contextlib.nullcontext(None)
            conn = self._idle.pop()
        return self._lend(conn)

    @contextlib.contextmanager
    def write(self) -> Iterator[Connection]:
        """A write transaction: all or nothing."""
        conn = self._acquire()
        try:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            self._release(conn)

    def execute(self, sql: str, params: Any = ()) -> list[Row]:
        with self.read() as conn:
            return list(conn.execute(sql, params).fetchall())

    def close(self) -> None:
        with self._lock:
            self.closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
