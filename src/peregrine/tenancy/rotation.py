"""Server-secret rotation: re-key a database from the previous secret's key to the current.

During a rotation ``CF_SERVER_SECRET`` holds the new secret and ``CF_SERVER_SECRET_PREVIOUS``
the old one. A database that does not open with the new key is opened with the old key and
re-keyed in place (SQLCipher ``PRAGMA rekey``, which works in WAL mode), one user at a time
as they sign in. Every process serving the data root must run with the new secret first.
"""

from __future__ import annotations

from pathlib import Path

from peregrine.storage.userdb import connect


def rekey(path: Path, *, old_key: bytes, new_key: bytes) -> None:
    """Re-encrypt ``path`` under ``new_key``; raises ``NotADatabaseError`` if ``old_key``
    does not open it either (the file is then left untouched)."""
    conn = connect(path, key=old_key, create=False)
    try:
        conn.execute(f"PRAGMA rekey = \"x'{new_key.hex()}'\"")
    finally:
        conn.close()
