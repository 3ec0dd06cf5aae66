"""First-login provisioning of a tenant's folder and database, race-safely.

Ten simultaneous first requests must produce one database with migrations applied once.
A per-tenant ``flock`` serialises provisioning across threads and processes; the database
is built under a temporary name and renamed into place, so ``staging.db`` either does not
exist or is complete. The ``.provisioned`` marker is written last: once it exists, a
missing database is an error, never a reason to create an empty account over lost data.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
from collections.abc import Iterator
from pathlib import Path

from peregrine.storage.userdb import StorageError, UserDB
from peregrine.tenancy.identity import SUBFOLDERS, Tenant

log = logging.getLogger("peregrine.tenancy")

FOLDER_MODE = 0o700
FILE_MODE = 0o600
LOCK_NAME = ".provision.lock"


class TenantDataMissingError(StorageError):
    """The tenant was provisioned but its database is gone; nothing is recreated."""


def _mkdir_private(path: Path) -> None:
    with contextlib.suppress(FileExistsError):
        path.mkdir(mode=FOLDER_MODE)
    # mkdir's mode is filtered by the umask; chmod states it exactly.
    os.chmod(path, FOLDER_MODE)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _tenant_lock(folder: Path) -> Iterator[None]:
    fd = os.open(folder / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, FILE_MODE)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def is_provisioned(tenant: Tenant) -> bool:
    return tenant.marker.exists()


def check_present(tenant: Tenant) -> None:
    """Raise when the marker says the tenant exists but its database does not."""
    if is_provisioned(tenant) and not tenant.db_path.exists():
        log.error(
            "user %s is provisioned but %s is missing; not creating a new database "
            "(restore it from backup)",
            tenant.user_id,
            tenant.db_path.name,
        )
        raise TenantDataMissingError("this account's database is missing")


def provision(tenant: Tenant) -> bool:
    """Create the tenant's folders and database if needed; True if this call created them.

    The parent ``<root>/<user id>/`` folder is created here too, so the caller must have
    validated the id (``TenantLayout.tenant``) first.
    """
    if is_provisioned(tenant):
        check_present(tenant)
        return False
    _mkdir_private(tenant.folder.parent)
    _mkdir_private(tenant.folder)
    with _tenant_lock(tenant.folder):
        if is_provisioned(tenant):  # another request won the race while we waited
            check_present(tenant)
            return False
        for name in SUBFOLDERS:
            _mkdir_private(tenant.folder / name)
        if not tenant.db_path.exists():
            _build_database(tenant)
        marker_fd = os.open(
            tenant.marker, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_NOFOLLOW, FILE_MODE
        )
        os.close(marker_fd)
        _fsync_dir(tenant.folder)
    log.info("provisioned user %s", tenant.user_id)
    return True


def _build_database(tenant: Tenant) -> None:
    temp = tenant.folder / f".{tenant.db_path.name}.{secrets.token_hex(6)}.tmp"
    # Pre-creating the empty file fixes its mode at 0600 without touching the process-wide
    # umask; SQLite gives its -wal and -shm files the database file's mode.
    os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, FILE_MODE))
    try:
        # Closing the last connection checkpoints and removes the -wal file, so the rename
        # moves one self-contained file.
        UserDB.open(temp, key=tenant.key, create=False).close()
        os.replace(temp, tenant.db_path)
    except BaseException:
        for leftover in (temp, Path(f"{temp}-wal"), Path(f"{temp}-shm")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
        raise
