"""Facts about the bundled SQLite library, checked at start-up and reported by `doctor`."""

from __future__ import annotations

from dataclasses import dataclass

import sqlcipher3

# The WAL-reset bug (concurrent writers on one database could corrupt it after a WAL reset)
# is fixed in 3.51.3 and in the 3.50.7 and 3.44.6 backports.
_FIXED_IN = (3, 51, 3)
_FIXED_BACKPORTS = {(3, 50): 7, (3, 44): 6}


@dataclass(frozen=True)
class SqliteReport:
    version: str
    cipher_version: str | None
    wal_reset_bug: bool

    @property
    def message(self) -> str:
        if self.wal_reset_bug:
            return (
                f"SQLite {self.version} has the WAL-reset bug (fixed in 3.51.3); run one "
                "writer per database (one Peregrine process per data root)"
            )
        return f"SQLite {self.version} (SQLCipher {self.cipher_version or 'none'}) is fine"


def has_wal_reset_bug(version: str) -> bool:
    parts = tuple(int(p) for p in version.split(".")[:3])
    major_minor, patch = parts[:2], parts[2] if len(parts) > 2 else 0
    if major_minor in _FIXED_BACKPORTS:
        return patch < _FIXED_BACKPORTS[major_minor]
    return parts < _FIXED_IN


def sqlite_report() -> SqliteReport:
    conn = sqlcipher3.connect(":memory:")
    try:
        version = str(conn.execute("SELECT sqlite_version()").fetchone()[0])
        row = conn.execute("PRAGMA cipher_version").fetchone()
    finally:
        conn.close()
    cipher = str(row[0]) if row else None
    return SqliteReport(
        version=version, cipher_version=cipher, wal_reset_bug=has_wal_reset_bug(version)
    )
