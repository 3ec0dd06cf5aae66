"""Changing the key of an encrypted database (server-secret rotation).

``rekey`` re-encrypts a database in place with SQLCipher's ``PRAGMA rekey`` (raw-key form).
It first leaves WAL mode: in rollback-journal mode the re-encryption is one ordinary
transaction, so a crash at any moment leaves a file that opens with the old key (the hot
journal is rolled back) or with the new one (the transaction committed). The tests kill a
re-keying process at random moments to hold us to that.

``open_with_rotation`` is the dual-key open the cloud tenancy uses while
``CF_SERVER_SECRET_PREVIOUS`` is set; ``rotate_all`` is the machinery behind
``peregrine admin rotate-secret``: resumable through a journal file, and it reports what
failed instead of stopping at the first failure.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import sqlcipher3

from peregrine.storage.userdb import NotADatabaseError, StorageError, UserDB, connect


class RekeyError(StorageError):
    """A database could not be re-keyed; the message is meant for a person."""


def opens_with(path: Path, key: bytes) -> bool:
    """Whether ``key`` opens the database (an existing file is required)."""
    try:
        conn = connect(path, key=key, create=False)
    except NotADatabaseError:
        return False
    conn.close()
    return True


def which_key(path: Path, keys: Sequence[bytes]) -> int | None:
    """The index of the first key in ``keys`` that opens the database, or None."""
    for index, key in enumerate(keys):
        if opens_with(path, key):
            return index
    return None


def rekey(path: Path, *, old_key: bytes, new_key: bytes) -> None:
    """Re-encrypt ``path`` from ``old_key`` to ``new_key``. Nobody else may have it open."""
    if len(old_key) != 32 or len(new_key) != 32:
        raise RekeyError("database keys are 32 bytes")
    conn = connect(path, key=old_key, create=False)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        mode = conn.execute("PRAGMA journal_mode = DELETE").fetchone()[0]
        if str(mode).lower() != "delete":
            raise RekeyError(f"{path.name} is in use; close it before re-keying")
        conn.execute("PRAGMA synchronous = FULL")
        conn.execute(f"PRAGMA rekey = \"x'{new_key.hex()}'\"")
        conn.execute("PRAGMA journal_mode = WAL")
    except sqlcipher3.Error as exc:
        raise RekeyError(f"cannot re-key {path.name}: {exc}") from exc
    finally:
        conn.close()


def open_with_rotation(path: Path, *, key: bytes, previous_key: bytes | None) -> UserDB:
    """Open with the current key; if only the previous key opens it, re-key it first.

    Two processes may race here: the loser's re-key attempt finds the previous key no
    longer opens the file (the winner finished), so it simply opens with the current key.
    """
    try:
        return UserDB.open(path, key=key)
    except NotADatabaseError:
        if previous_key is None:
            raise
    with contextlib.suppress(NotADatabaseError):
        rekey(path, old_key=previous_key, new_key=key)
    return UserDB.open(path, key=key)


@dataclass(frozen=True)
class RotationTarget:
    """One database to rotate. ``name`` identifies it in the journal and the report (the
    cloud wiring uses the user id, which is a random UUID, not personal data)."""

    name: str
    path: Path
    old_key: bytes = field(repr=False)
    new_key: bytes = field(repr=False)


@dataclass
class RotationReport:
    rekeyed: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)
    resumed: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failed


def key_id(key: bytes) -> str:
    """A one-way tag for a key, so a journal from an earlier rotation is not reused."""
    return hashlib.sha256(b"peregrine-key-id\x00" + key).hexdigest()[:16]


def _journal_done(journal: Path) -> set[tuple[str, str]]:
    done: set[tuple[str, str]] = set()
    if not journal.exists():
        return done
    for line in journal.read_text(encoding="utf-8").splitlines():
        try:
            entry = json.loads(line)
        except json.JSONDecodeError:
            continue  # a torn last line from a crash
        if isinstance(entry, dict) and entry.get("outcome") in ("rekeyed", "already"):
            done.add((str(entry.get("name")), str(entry.get("key_id"))))
    return done


def rotate_all(
    targets: Iterable[RotationTarget],
    *,
    journal: Path,
    progress: Callable[[RotationTarget, str], None] | None = None,
) -> RotationReport:
    """Re-key every target to its new key; safe to re-run after a crash or a failure.

    Outcomes: ``rekeyed``, ``already`` (opens with the new key), ``resumed`` (the journal
    says an earlier run did it), ``failed`` (reason kept in the report; the database is left
    as it was and the next run retries it).
    """
    report = RotationReport()
    done = _journal_done(journal)
    fd = os.open(journal, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    with open(fd, "a", encoding="utf-8") as log:
        for target in targets:
            tag = key_id(target.new_key)
            if (target.name, tag) in done:
                outcome = "resumed"
                report.resumed.append(target.name)
            else:
                outcome = _rotate_one(target, report)
                if outcome in ("rekeyed", "already"):
                    log.write(
                        json.dumps({"name": target.name, "outcome": outcome, "key_id": tag}) + "\n"
                    )
                    log.flush()
                    os.fsync(log.fileno())
            if progress is not None:
                progress(target, outcome)
    return report


def _rotate_one(target: RotationTarget, report: RotationReport) -> str:
    if not target.path.is_file():
        report.failed[target.name] = "database file is missing"
        return "failed"
    try:
        if opens_with(target.path, target.new_key):
            report.already.append(target.name)
            return "already"
        if not opens_with(target.path, target.old_key):
            report.failed[target.name] = "opens with neither the old nor the new key"
            return "failed"
        rekey(target.path, old_key=target.old_key, new_key=target.new_key)
    except StorageError as exc:
        report.failed[target.name] = str(exc)
        return "failed"
    report.rekeyed.append(target.name)
    return "rekeyed"
