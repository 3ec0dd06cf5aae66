"""GDPR erasure of one user's data tree, safe against hostile names, links and crashes.

``erase_user`` works in steps that can each be repeated, so re-running after a crash
finishes the job:

1. validate the user id (it becomes a path) and refuse anything that is a link;
2. write a tombstone first, so a still-valid session cannot re-create the folder while we
   delete it (the cloud tenancy checks ``is_tombstoned`` before provisioning);
3. rename the folder to ``.erasing-<id>`` (atomic; the user's path is gone at once), then
   delete that tree without following symlinks;
4. queue the user's platform rows in a journal (``PlatformErasureQueue``); the platform
   wiring drains it against PostgreSQL, and rows stay queued, reported as pending, while
   PostgreSQL is unreachable.

The audit line names a one-way reference to the user, never the id, a name or an e-mail.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import re
import shutil
import stat
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from peregrine.lib.clock import now_iso

log = logging.getLogger("peregrine.audit")

TOMBSTONE_DIR = ".tombstones"
_ERASING_PREFIX = ".erasing-"
# Directus ids are UUIDs; the pattern also admits simple slugs for other identity sources,
# but never dots, slashes or anything a path could be built from.
_USER_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}")


class ErasureError(Exception):
    """Erasure was refused or failed; the message is meant for an operator."""


@dataclass(frozen=True)
class ErasureResult:
    user_ref: str
    files: int
    bytes: int
    dry_run: bool
    already_erased: bool
    platform_pending: int


def user_ref(user_id: str) -> str:
    """A one-way reference for logs and audit lines."""
    return hashlib.sha256(b"peregrine-user-ref\x00" + user_id.encode()).hexdigest()[:12]


def check_user_id(user_id: str) -> str:
    if not _USER_ID.fullmatch(user_id):
        raise ErasureError("not a valid user id (letters, digits, '-' and '_' only)")
    return user_id


def _tombstone(root: Path, user_id: str) -> Path:
    return root / TOMBSTONE_DIR / check_user_id(user_id)


def is_tombstoned(root: Path, user_id: str) -> bool:
    """Whether this account was erased (sessions for it must not re-create a folder)."""
    # Checked several times per request (before and after opening, by every route), so
    # plain os.path instead of building Path objects.
    if not _USER_ID.fullmatch(user_id):
        return False
    return os.path.isfile(os.path.join(root, TOMBSTONE_DIR, user_id))


def _measure(tree: Path) -> tuple[int, int]:
    files = size = 0
    for dirpath, _dirs, names in os.walk(tree, followlinks=False):
        for name in names:
            try:
                info = os.lstat(os.path.join(dirpath, name))
            except FileNotFoundError:
                continue
            files += 1
            if stat.S_ISREG(info.st_mode):
                size += info.st_size
    return files, size


def _user_folder(root: Path, user_id: str) -> Path:
    check_user_id(user_id)
    if root.is_symlink() or not root.is_dir():
        raise ErasureError("the data root is missing or is a link")
    folder = root / user_id
    # The id pattern already excludes separators; this re-checks containment on the real
    # path in case the root itself is reached through a link.
    if folder.parent.resolve() != root.resolve():
        raise ErasureError("the user folder is not inside the data root")
    if folder.is_symlink():
        raise ErasureError("the user folder is a link; refusing to follow it")
    return folder


def _write_file_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with open(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def erase_user(
    root: Path,
    user_id: str,
    *,
    dry_run: bool = False,
    queue: PlatformErasureQueue | None = None,
    close_handles: Callable[[str], None] | None = None,
) -> ErasureResult:
    """Erase ``root/<user_id>`` and everything under it. Idempotent.

    ``close_handles`` lets the caller drop cached database handles for the user first (the
    cloud registry); ``queue`` receives the user's platform rows for deletion.
    """
    folder = _user_folder(root, user_id)
    erasing = root / f"{_ERASING_PREFIX}{user_id}"
    if erasing.is_symlink():
        raise ErasureError("a leftover erasure folder is a link; refusing to follow it")
    ref = user_ref(user_id)
    files = size = 0
    for tree in (folder, erasing):
        if tree.is_dir():
            f, s = _measure(tree)
            files += f
            size += s
    already = is_tombstoned(root, user_id) and not folder.exists() and not erasing.exists()
    pending = len(queue.pending()) if queue is not None else 0
    if dry_run:
        return ErasureResult(ref, files, size, True, already, pending)

    tomb = _tombstone(root, user_id)
    tomb.parent.mkdir(mode=0o700, exist_ok=True)
    if not tomb.is_file():
        _write_file_atomic(tomb, json.dumps({"erased_at": now_iso()}) + "\n")
    if close_handles is not None:
        close_handles(user_id)
    if folder.exists():
        if erasing.exists():
            # An earlier run renamed a folder, then the user came back before the tombstone
            # existed (only possible on the first crash window): delete both.
            shutil.rmtree(folder)
        else:
            os.replace(folder, erasing)
    if erasing.exists():
        # On Linux rmtree works on directory file descriptors and never follows a link
        # planted inside the tree (shutil.rmtree.avoids_symlink_attacks).
        shutil.rmtree(erasing)
    if queue is not None:
        queue.add(user_id)
        pending = len(queue.pending())
    log.info("user erased ref=%s files=%d bytes=%d platform_pending=%d", ref, files, size, pending)
    return ErasureResult(ref, files, size, False, already, pending)


class PlatformErasureQueue:
    """User ids whose platform rows still have to be deleted, kept in a small JSON file.

    The platform wiring calls ``drain(delete_rows)`` after ``erase_user`` and again on a
    schedule; ``delete_rows(user_id)`` deletes subscriptions, consent, usage events and
    support grants in one transaction and raises when PostgreSQL is unreachable, in which
    case the id stays queued.
    """

    def __init__(self, path: Path) -> None:
        self.path = path

    def pending(self) -> list[str]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return []
        except (OSError, json.JSONDecodeError) as exc:
            raise ErasureError(f"the platform erasure queue cannot be read: {exc}") from exc
        return [str(item) for item in data.get("pending", [])]

    def _save(self, ids: list[str]) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        _write_file_atomic(self.path, json.dumps({"pending": ids}) + "\n")

    def add(self, user_id: str) -> None:
        ids = self.pending()
        if check_user_id(user_id) not in ids:
            self._save([*ids, user_id])

    def drain(self, delete_rows: Callable[[str], None]) -> list[str]:
        """Try every queued id; return the ids still pending."""
        tried = self.pending()
        left: list[str] = []
        for user_id in tried:
            try:
                delete_rows(user_id)
            except Exception as exc:
                log.warning(
                    "platform rows not yet erased ref=%s: %s",
                    user_ref(user_id),
                    type(exc).__name__,
                )
                left.append(user_id)
            else:
                log.info("platform rows erased ref=%s", user_ref(user_id))
        # Ids queued by another process while we drained are kept.
        keep = [u for u in self.pending() if u in left or u not in tried]
        self._save(keep)
        return keep
