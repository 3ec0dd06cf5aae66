"""Local and demo mode: one user, one database in the data folder, no login."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request

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

    def resolve(self, request: Request) -> UserDB:
        """Every request gets the one local database."""
        return self.db

    def stop(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
