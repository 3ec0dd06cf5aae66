"""The key-check canary: one small encrypted database in the data root.

It is encrypted with a key derived from ``CF_SERVER_SECRET`` exactly like a user's key, so
start-up can prove the secret is the one the data was written with. A wrong secret then
stops the service once, with one clear message, instead of failing user by user (and
instead of ever creating an account's database under the wrong key).
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
from pathlib import Path

from peregrine.storage.userdb import NotADatabaseError, StorageError, connect
from peregrine.tenancy.identity import derive_key
from peregrine.tenancy.rotation import rekey

log = logging.getLogger("peregrine.tenancy")

CANARY_NAME = ".keycheck.db"
# Not a UUID, so it can never equal a user id and yield a user's key.
CANARY_LABEL = "peregrine-keycheck"
_CANARY_TEXT = "peregrine key check v1"


class KeyCheckError(StorageError):
    """``CF_SERVER_SECRET`` does not open the data root's canary."""


def check_canary(
    data_root: Path, secret: bytes, *, previous: bytes | None = None, create: bool = True
) -> bool:
    """Open the canary with ``secret`` (creating it on a fresh data root if ``create``).

    During a rotation, a canary that opens with the ``previous`` secret is re-keyed to the
    current one. Returns True when the canary was created. Raises ``KeyCheckError`` for a
    wrong secret or, without ``create``, a missing canary.
    """
    path = data_root / CANARY_NAME
    key = derive_key(secret, CANARY_LABEL)
    if not path.exists():
        if not create:
            raise KeyCheckError(f"the key-check canary {CANARY_NAME} is missing")
        return _create(path, key)
    try:
        conn = connect(path, key=key, create=False)
    except NotADatabaseError:
        if previous is not None and _rekey_from_previous(path, previous, key):
            return check_canary(data_root, secret, create=False)
        raise KeyCheckError(
            f"CF_SERVER_SECRET does not open the key-check canary {CANARY_NAME} in "
            "CLOUD_DATA_ROOT: the secret is not the one this data was written with. "
            "Refusing to start (no user database was touched)."
        ) from None
    try:
        row = conn.execute("SELECT value FROM keycheck WHERE id = 1").fetchone()
    except Exception as exc:
        raise KeyCheckError(f"the key-check canary {CANARY_NAME} is damaged: {exc}") from None
    finally:
        conn.close()
    if row is None or row[0] != _CANARY_TEXT:
        raise KeyCheckError(f"the key-check canary {CANARY_NAME} is damaged")
    return False


def _rekey_from_previous(path: Path, previous: bytes, key: bytes) -> bool:
    try:
        rekey(path, old_key=derive_key(previous, CANARY_LABEL), new_key=key)
    except NotADatabaseError:
        return False
    log.warning(
        "key rotation: the key-check canary opened with CF_SERVER_SECRET_PREVIOUS and was "
        "re-keyed to CF_SERVER_SECRET; user databases are re-keyed as users sign in"
    )
    return True


def _create(path: Path, key: bytes) -> bool:
    lock_fd = os.open(path.parent / ".keycheck.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(lock_fd, fcntl.LOCK_EX)
        if path.exists():  # another process created it while we waited
            return False
        temp = path.parent / f".keycheck.{secrets.token_hex(6)}.tmp"
        os.close(os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        try:
            conn = connect(temp, key=key, create=False)
            try:
                conn.execute("CREATE TABLE keycheck (id INTEGER PRIMARY KEY, value TEXT)")
                conn.execute("INSERT INTO keycheck VALUES (1, ?)", (_CANARY_TEXT,))
            finally:
                conn.close()
            os.replace(temp, path)
        except BaseException:
            for leftover in (temp, Path(f"{temp}-wal"), Path(f"{temp}-shm")):
                with contextlib.suppress(FileNotFoundError):
                    leftover.unlink()
            raise
    finally:
        os.close(lock_fd)
    log.info("created the key-check canary in the data root")
    return True
