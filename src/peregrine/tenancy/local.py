"""Local and demo mode: one user, one database in the data folder, no login."""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator
from pathlib import Path

from starlette.requests import Request

from peregrine.storage.backup import RestoreInProgressError
from peregrine.storage.backup_swap import recover_after_crash, rollback_files, swap_in
from peregrine.storage.userdb import StorageError, UserDB

log = logging.getLogger(__name__)

WORKDIR_NAME = ".backup-tmp"


class LocalTenancy:
    """Opens the single local database at start-up and hands it to every request.

    Replacing the database (restore, rollback) is exclusive: ``replace_database`` stops new
    borrowers (they get ``RestoreInProgressError``, answered with 409), waits for the
    requests in flight to return their handle, closes the handle, swaps the file and opens
    the new one. No request ever sees a half-restored database.

    The cloud tenancy must offer the same surface per user: ``borrow``, ``location``,
    ``workdir_root``, ``replace_database`` and ``rollback_database`` (see docs/backup.md).
    """

    # Borrowing is a lock and a counter, never I/O: read-only handlers may borrow on the
    # event loop (web/deps.py ``read_with``) instead of hopping to a worker thread.
    borrows_without_io = True

    def __init__(self, staging_db: Path, *, drain_timeout_s: float = 30.0) -> None:
        self.staging_db = staging_db
        self.key: bytes | None = None
        self._db: UserDB | None = None
        self._cond = threading.Condition()
        self._in_flight = 0
        self._replacing = False
        self._drain_timeout_s = drain_timeout_s
        # Told (old handle, new handle) after a restore or rollback reopens the database,
        # so holders of the old handle (the task queue) can follow the new one.
        self.on_reopen: list[Callable[[UserDB | None, UserDB], None]] = []

    @property
    def workdir_root(self) -> Path:
        """Private scratch space for backups, on the same filesystem as the database."""
        return self.staging_db.parent / WORKDIR_NAME

    def location(self) -> tuple[Path, bytes | None]:
        """The database path and key, for backup export and restore."""
        return self.staging_db, self.key

    def start(self) -> None:
        folder = self.staging_db.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create the data folder {folder}: {exc.strerror}") from None
        recover_after_crash(self.staging_db)
        self._db = UserDB.open(self.staging_db, create=True)

    @property
    def db(self) -> UserDB:
        if self._db is None:
            raise StorageError("the database is not open")
        return self._db

    def resolve(self, request: Request) -> UserDB:
        """Every request gets the one local database."""
        return self.db

    @contextlib.contextmanager
    def lease(self, user_id: str | None = None) -> Iterator[UserDB]:
        """The one database, for work outside a request (same interface as cloud mode)."""
        with self.borrow() as db:
            yield db

    def ready(self) -> bool:
        try:
            self.db.execute("SELECT 1")
        except Exception:
            return False
        return True

    def store(self, request: Request) -> LocalTenancy:
        """The requester's storage: in local mode there is one user, so it is this object."""
        return self

    @property
    def replacing(self) -> bool:
        """Whether a restore or rollback is swapping the database right now."""
        return self._replacing

    @contextlib.contextmanager
    def borrow(self) -> Iterator[UserDB]:
        """The database for one request; refused while it is being replaced."""
        with self._cond:
            if self._replacing:
                raise RestoreInProgressError("your data is being restored; try again in a moment")
            self._in_flight += 1
        try:
            yield self.db
        finally:
            with self._cond:
                self._in_flight -= 1
                self._cond.notify_all()

    def replace_database(self, staged: Path) -> None:
        """Swap a staged, checked database in (see ``backup_swap.swap_in``)."""
        self._exclusive(lambda: swap_in(staged, self.staging_db, key=self.key))

    def rollback_database(self) -> None:
        """Put back the database from before the last restore."""
        self._exclusive(lambda: rollback_files(self.staging_db, key=self.key))

    def _exclusive(self, action: Callable[[], None]) -> None:
        with self._cond:
            if self._replacing:
                raise RestoreInProgressError("a restore is already running; try again later")
            self._replacing = True
            drained = self._cond.wait_for(
                lambda: self._in_flight == 0, timeout=self._drain_timeout_s
            )
            if not drained:
                self._replacing = False
                self._cond.notify_all()
                raise RestoreInProgressError("the database is busy; try the restore again")
        old = self._db
        try:
            if self._db is not None:
                self._db.close()
                self._db = None
            try:
                action()
            finally:
                # Whatever happened, the path names a complete database: reopen it.
                self._db = UserDB.open(self.staging_db, create=True)
                for callback in list(self.on_reopen):
                    try:
                        callback(old, self._db)
                    except Exception:
                        # The swap itself succeeded; a listener must not undo it.
                        log.exception("a reopen listener failed")
        finally:
            with self._cond:
                self._replacing = False
                self._cond.notify_all()

    def stop(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
