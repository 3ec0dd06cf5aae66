"""What backup export and restore share: the archive format, errors and the private
work folder.

A backup is a zip with a fixed set of member names (``MEMBERS``): the user's database as
plain SQLite, machine-readable JSON and CSV copies of the user's data, a manifest with a
checksum of every member, and a README. See docs/backup.md.

Decrypted data only ever touches disk inside a work folder made by ``private_workdir``:
mode 0700, removed when the operation ends however it ends, and swept at start-up
(``sweep_workdirs``) in case the process was killed.
"""

from __future__ import annotations

import contextlib
import functools
import os
import secrets
import shutil
import socket
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

FORMAT_VERSION = 1
DB_MEMBER = "peregrine.db"
MANIFEST_MEMBER = "manifest.json"
README_MEMBER = "README.txt"

# Tables exported as JSON and CSV for people and other tools (GDPR Art. 20 portability).
# Keys are file stems under data/; values are tables. Internal bookkeeping (tasks, LLM call
# logs) stays in the database only.
DATA_EXPORTS: dict[str, str] = {
    "jobs": "jobs",
    "job_sources": "job_sources",
    "stages": "job_events",
    "letters": "cover_letters",
    "past_letters": "past_letters",
    "contacts": "contacts",
    "messages": "messages",
    "application_answers": "application_answers",
    "application_snapshots": "application_snapshots",
    "survey_responses": "survey_responses",
    "company_research": "company_research",
    "interview_prep": "interview_prep",
    "profile": "profile",
    "resumes": "resumes",
    "search_profiles": "search_profiles",
    "keywords": "keywords",
    "blocklist": "blocklist",
    "preferences": "preferences",
}

DATA_MEMBERS = tuple(f"data/{stem}.{ext}" for stem in DATA_EXPORTS for ext in ("json", "csv"))
MEMBERS = frozenset({DB_MEMBER, MANIFEST_MEMBER, README_MEMBER, *DATA_MEMBERS})

_WORKDIR_MAX_AGE_S = 24 * 3600


class BackupError(Exception):
    """A backup cannot be made or restored; the message is meant for a person."""


class RestoreInProgressError(BackupError):
    """The user's database is being replaced; the request should be retried shortly."""


# Another host's folders cannot be checked for a live process; they are left alone this
# long (a slow restore upload takes minutes), then taken for a dead process's.
_FOREIGN_WORKDIR_MAX_AGE_S = 2 * 3600


@functools.cache
def _process_nonce(pid: int) -> str:
    # Keyed by pid so a forked child gets its own. A container restarts its app as the same
    # pid (often 1): the nonce tells this process's folders from its predecessor's.
    return secrets.token_hex(4)


def _owner_tag() -> str:
    # Host, pid and nonce let the sweep tell a live operation's folder from a dead one's.
    host = "".join(ch for ch in socket.gethostname() if ch.isalnum() or ch == "-")[:40] or "host"
    pid = os.getpid()
    return f"{host}.{pid}.{_process_nonce(pid)}."


def _ensure_private_root(root: Path) -> None:
    root.mkdir(mode=0o700, parents=True, exist_ok=True)
    if root.is_symlink() or not root.is_dir():
        raise BackupError("the backup work folder is not a plain folder")
    os.chmod(root, 0o700)


@contextlib.contextmanager
def private_workdir(root: Path) -> Iterator[Path]:
    """A fresh 0700 folder under ``root`` that is removed on exit, success or failure."""
    try:
        _ensure_private_root(root)
        path = Path(tempfile.mkdtemp(prefix=_owner_tag(), dir=root))
    except OSError as exc:
        raise BackupError(f"cannot create a private work folder: {exc.strerror}") from exc
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def owner_tag() -> str:
    """``host.pid.nonce.``: put in front of a temporary name, it tells whether the
    process that made it may still be using it (``owner_may_be_alive``)."""
    return _owner_tag()


def owner_may_be_alive(name: str, age: float) -> bool:
    """Whether the process named by the ``owner_tag`` at the front of ``name`` may still
    use it: this process; a live pid on this host; another host's, for two hours. A name
    without a tag has no live owner."""
    host, own_pid, own_nonce = _owner_tag().split(".")[:3]
    parts = name.split(".")
    if len(parts) < 3 or not parts[1].isdigit():
        return False
    if parts[0] != host:
        return age < _FOREIGN_WORKDIR_MAX_AGE_S
    if parts[1] == own_pid:
        # Ours only with our nonce: the same pid with another is a dead predecessor.
        return parts[2] == own_nonce
    return _pid_alive(int(parts[1]))


def sweep_workdirs(root: Path, *, max_age_s: float = _WORKDIR_MAX_AGE_S) -> int:
    """Remove work folders left by killed processes; return how many were removed.

    Called from the app lifespan, the CLI and a user's first open in a process. A folder is
    left alone while the process that made it may still use it (this process; a live pid
    on this host; another host's, for two hours), unless it is older than ``max_age_s``.
    """
    if not root.is_dir():
        return 0
    removed = 0
    now = time.time()
    for entry in root.iterdir():
        try:
            age = now - entry.lstat().st_mtime
        except FileNotFoundError:
            continue
        if owner_may_be_alive(entry.name, age) and age < max_age_s:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry, ignore_errors=True)
        else:
            entry.unlink(missing_ok=True)
        removed += 1
    return removed


def fsync_dir(folder: Path) -> None:
    """Make a rename in ``folder`` durable."""
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
