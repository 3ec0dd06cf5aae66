"""Local and demo mode: one user, one database in the data folder, no login."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from peregrine.storage.userdb import StorageError, UserDB


class LocalTenancy:
    """Opens the single local database at start-up and hands it to every request."""

    def __init__(self, staging_db: Path) -> None:
        self.staging_db = staging_db
        self._db: UserDB | None = None

    def start(self) -> None:
        folder = self.staging_db.parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise StorageError(f"cannot create the data folder {folder}: {exc.strerror}") from None
        self._db = UserDB.open(self.staging_db, create=True)

    @property
    def db(self) -> UserDB:
        if self._db is None:
            raise StorageError("the database is not open")
        return self._db

    @contextlib.contextmanager
    def lease(self, user_id: str | None = None) -> Iterator[UserDB]:
        """The one database, for work outside a request (same interface as cloud mode)."""
        yield self.db

    def resolve(self, request: Any) -> UserDB:
        """Every request is the one local user's."""
        return self.db

    def release(self, request: Any, db: UserDB) -> None:
        """Nothing to give back: the one handle stays open for the app's lifetime."""

    def ready(self) -> bool:
        try:
            self.db.execute("SELECT 1")
        except Exception:
            return False
        return True

    def stop(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
