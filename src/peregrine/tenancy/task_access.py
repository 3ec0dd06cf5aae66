"""How a background worker reaches a user's database: by user id alone, existing data only.

A queued job names a user id and a task id, nothing else. The worker validates the id,
derives the folder and key the same way the web layer does (tenancy/identity.py), and opens
the database **without provisioning**: a job naming an unknown user must never create a
folder, and a deleted (tombstoned) user's job is dropped. Handles are cached per user in a
bounded LRU and closed when idle, like the web process's.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

from peregrine.settings import Settings
from peregrine.storage.erasure import is_tombstoned, user_ref
from peregrine.storage.migrate import MigrationError
from peregrine.storage.registry import HandleRegistry
from peregrine.storage.userdb import NotADatabaseError, StorageError, UserDB
from peregrine.tenancy.identity import (
    IdentityError,
    TenantLayout,
    canonical_user_id,
    derive_key,
)
from peregrine.tenancy.rotation import rekey

log = logging.getLogger("peregrine.tasks")


class TaskUserRefused(Exception):
    """The job's user cannot be served. ``reason`` is ``invalid`` (not a user id),
    ``deleted``, ``unknown`` (no database) or ``unreadable``. The message is safe to log;
    it never holds a path, an id or a key."""

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


def _file_identity(path: Path) -> tuple[int, int]:
    found = os.stat(path)
    if not stat.S_ISREG(found.st_mode):
        raise FileNotFoundError(path)
    return found.st_dev, found.st_ino


class TaskTenancy:
    def __init__(self, settings: Settings) -> None:
        if settings.cf_server_secret is None:
            raise StorageError("workers need CF_SERVER_SECRET to open users' databases")
        self.layout = TenantLayout(
            settings.cloud_data_root,
            settings.cloud_app_slug,
            settings.cf_server_secret.reveal().encode(),
        )
        previous = settings.cf_server_secret_previous
        self._previous = previous.reveal().encode() if previous else None
        self._opened: dict[str, tuple[int, int]] = {}  # user → (device, inode) at open
        self.registry = HandleRegistry(
            max_open=settings.cloud_db_cache_size, idle_seconds=settings.cloud_db_idle_seconds
        )

    @contextlib.contextmanager
    def lease(self, user_id: object) -> Iterator[UserDB]:
        """The user's existing database for one task; ``TaskUserRefused`` otherwise."""
        try:
            canonical = canonical_user_id(user_id)
            tenant = self.layout.tenant(canonical)
        except (IdentityError, OSError):
            raise TaskUserRefused("the job names no valid user id", reason="invalid") from None
        ref = user_ref(canonical)
        if is_tombstoned(self.layout.root, canonical):
            self.registry.close_user(canonical)
            raise TaskUserRefused(f"user ref={ref} was deleted", reason="deleted")
        try:
            identity = _file_identity(tenant.db_path)
        except FileNotFoundError:
            raise TaskUserRefused(f"user ref={ref} has no database", reason="unknown") from None
        if self._opened.get(canonical, identity) != identity:
            # Replaced since we opened it (a restore swaps the file in another process): a
            # cached handle would write into the old, unlinked file.
            self.registry.close_user(canonical)

        def opener() -> UserDB:
            self._opened[canonical] = _file_identity(tenant.db_path)
            try:
                return UserDB.open(tenant.db_path, key=tenant.key, create=False)
            except NotADatabaseError:
                # Mid-rotation: re-key from the previous secret, as the web layer does.
                if self._previous is None:
                    raise
                try:
                    rekey(
                        tenant.db_path,
                        old_key=derive_key(self._previous, canonical),
                        new_key=tenant.key,
                    )
                    log.info("key rotation: re-keyed the database of user ref=%s", ref)
                except NotADatabaseError:
                    pass  # another process re-keyed it first, or neither key opens it
                return UserDB.open(tenant.db_path, key=tenant.key, create=False)

        try:
            db = self.registry.acquire(canonical, opener)
        except (StorageError, MigrationError, OSError) as exc:
            # StorageError covers a key that does not open the file (wrong secret).
            log.error("user ref=%s: cannot open the database: %s", ref, type(exc).__name__)
            raise TaskUserRefused(
                f"user ref={ref}: the database does not open", reason="unreadable"
            ) from None
        try:
            yield db
        finally:
            self.registry.release(canonical, db)
            # Not kept open between tasks: an open handle would stop the user's restore from
            # swapping the file (it needs the database to itself), and reopening with the
            # raw key costs a couple of milliseconds.
            if not self.registry.in_use(canonical):
                self.registry.close_user(canonical)

    def sweep(self) -> int:
        """Close handles idle for longer than CLOUD_DB_IDLE_SECONDS."""
        return self.registry.sweep()

    def close_user(self, user_id: str) -> None:
        self.registry.close_user(user_id)

    def stop(self) -> None:
        self.registry.close_all()
