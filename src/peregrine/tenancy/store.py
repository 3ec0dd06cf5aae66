"""The interface every tenancy hands out per request: one user's storage.

``tenancy.store(request)`` returns an object with:

- ``borrow()`` — a context manager yielding the user's ``UserDB`` for one request; while a
  restore swaps the database it raises ``RestoreInProgressError`` (answered with 409);
- ``location()`` — ``(database path, raw key or None)`` for backup export and restore;
- ``workdir_root`` — private scratch space on the same filesystem as the database;
- ``replace_database(staged)`` / ``rollback_database()`` — exclusive swaps.

Local mode has one store (the tenancy itself), demo mode one per visitor sandbox, cloud
mode one per signed-in user. Code below the web layer sees only these methods.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from pathlib import Path
from typing import Protocol

from peregrine.storage.userdb import UserDB


class UserStore(Protocol):
    @property
    def workdir_root(self) -> Path: ...

    def borrow(self) -> AbstractContextManager[UserDB]: ...

    def location(self) -> tuple[Path, bytes | None]: ...

    def replace_database(self, staged: Path) -> None: ...

    def rollback_database(self) -> None: ...
