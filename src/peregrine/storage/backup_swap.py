"""Swapping a restored database in, and rolling it back, so that a crash at any moment
leaves the database path naming a complete database.

``swap_in`` replaces the user's database with one ``os.replace`` after the caller has
closed its handles; the old file stays as a pre-restore snapshot (a hard link) that
``rollback_files`` swaps back. Staging files get unique names beside the target so two
restores never share one; ``recover_after_crash`` removes leftovers at start-up.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import time
from pathlib import Path

import sqlcipher3

from peregrine.storage.backup import BackupError, fsync_dir, owner_may_be_alive, owner_tag
from peregrine.storage.userdb import NotADatabaseError, StorageError, connect

STAGED_SUFFIX = ".restore-new"
SNAPSHOT_SUFFIX = ".pre-restore"


def staged_path(target: Path) -> Path:
    """A new, unique name beside the target: two restores never share a staging file.

    The name starts with its maker's owner tag, so ``recover_after_crash`` in another
    process leaves a restore that is still running alone."""
    return target.with_name(f"{target.name}{STAGED_SUFFIX}-{owner_tag()}{secrets.token_hex(6)}")


def leftover_staged(target: Path) -> list[Path]:
    """Staging files beside the target (left by an interrupted or running restore)."""
    return sorted(
        p
        for p in target.parent.glob(f"{glob.escape(target.name)}{STAGED_SUFFIX}-*")
        if not p.name.endswith(("-wal", "-shm", "-journal"))
    )


def snapshot_path(target: Path) -> Path:
    return target.with_name(target.name + SNAPSHOT_SUFFIX)


def remove_with_sidecars(path: Path) -> None:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)


def fsync_file(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


# --- 4. swap and rollback ----------------------------------------------------------------


def _settle(target: Path, key: bytes | None) -> None:
    """Fold the target's WAL into the main file so the file alone is the database.

    Requires that nobody else has it open: switching out of WAL mode needs an exclusive
    lock, so a user still holding a connection makes this fail instead of losing writes.
    """
    wal = Path(f"{target}-wal")
    try:
        conn = connect(target, key=key, create=False)
    except NotADatabaseError:
        # A damaged or unreadable current database is exactly when people restore; its
        # side files travel with the snapshot so the snapshot stays as it was.
        for suffix in ("-wal", "-shm"):
            side = Path(f"{target}{suffix}")
            if side.exists():
                side.replace(Path(f"{snapshot_path(target)}{suffix}"))
        return
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        mode = conn.execute("PRAGMA journal_mode = DELETE").fetchone()[0]
    except sqlcipher3.Error as exc:
        raise BackupError(f"the database is still in use ({exc}); try again") from exc
    finally:
        conn.close()
    if str(mode).lower() != "delete" or (wal.exists() and wal.stat().st_size > 0):
        raise BackupError("the database is still in use; try again")
    Path(f"{target}-shm").unlink(missing_ok=True)


def swap_in(staged: Path, target: Path, *, key: bytes | None) -> None:
    """Make ``staged`` the database at ``target``, keeping the old one as the snapshot.

    The caller must have closed every handle on ``target``. Sequence (each step durable):
    settle the old WAL, hard-link the old file as the snapshot, ``os.replace`` the staged
    file over the target. A crash at any point leaves a complete old or new database.
    """
    if not staged.is_file():
        raise BackupError("there is no restored database waiting to be swapped in")
    folder = target.parent
    snap = snapshot_path(target)
    if target.exists():
        _settle(target, key)
        tmp = target.with_name(target.name + ".pre-restore-tmp")
        tmp.unlink(missing_ok=True)
        os.link(target, tmp)
        os.replace(tmp, snap)
        fsync_dir(folder)
    os.replace(staged, target)
    fsync_dir(folder)


def rollback_files(target: Path, *, key: bytes | None) -> None:
    """Put the pre-restore snapshot back; the database it replaces becomes the snapshot,
    so a rollback can itself be undone."""
    snap = snapshot_path(target)
    if not snap.is_file():
        raise BackupError("there is no earlier database to roll back to")
    staged = staged_path(target)
    try:
        probe = connect(snap, key=key, create=False)
        probe.close()
    except StorageError as exc:
        raise BackupError(f"the earlier database cannot be opened: {exc}") from exc
    shutil.copyfile(snap, staged)
    for suffix in ("-wal",):
        side = Path(f"{snap}{suffix}")
        if side.exists():
            shutil.copyfile(side, Path(f"{staged}{suffix}"))
    # Fold any WAL into the copy so the staged file is self-contained before the rename.
    conn = connect(staged, key=key, create=False)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        conn.execute("PRAGMA journal_mode = DELETE")
    finally:
        conn.close()
    fsync_file(staged)
    swap_in(staged, target, key=key)


def recover_after_crash(target: Path) -> None:
    """Remove what an interrupted restore leaves beside the database (never the database).

    A staging file whose maker may still be running (another app node or process restoring
    this user right now) is left for it: removing it would fail that restore."""
    prefix = f"{target.name}{STAGED_SUFFIX}-"
    now = time.time()
    for leftover in leftover_staged(target):
        try:
            age = now - leftover.lstat().st_mtime
        except FileNotFoundError:
            continue
        if not owner_may_be_alive(leftover.name.removeprefix(prefix), age):
            remove_with_sidecars(leftover)
    target.with_name(target.name + ".pre-restore-tmp").unlink(missing_ok=True)
