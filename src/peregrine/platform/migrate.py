"""PostgreSQL migrations for the platform database: numbered SQL files in the package,
applied from one function, in one transaction, under an advisory lock."""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

import psycopg

from peregrine.platform import queue_schema

_NAME = re.compile(r"(\d{4})_[a-z0-9_]+\.sql")
# Any fixed 64-bit number; it only has to be the same in every Peregrine process.
_LOCK_ID = 0x5045_5245_4752_494E  # "PEREGRIN"
_LOCK_KEY = _LOCK_ID - (1 << 64) if _LOCK_ID >= 1 << 63 else _LOCK_ID


class PlatformMigrationError(Exception):
    """The platform schema cannot be brought to the version this code expects."""


@dataclass(frozen=True)
class PlatformMigration:
    version: int
    name: str
    sql: str


def available_migrations() -> list[PlatformMigration]:
    folder = resources.files("peregrine.platform") / "migrations"
    found = []
    for entry in folder.iterdir():
        match = _NAME.fullmatch(entry.name)
        if match:
            found.append(
                PlatformMigration(int(match[1]), entry.name, entry.read_text(encoding="utf-8"))
            )
    found.sort(key=lambda m: m.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise PlatformMigrationError(f"migration files are not numbered 1..N: {migration.name}")
    return found


def applied_versions(conn: psycopg.Connection) -> list[int]:
    exists = conn.execute("SELECT to_regclass('platform_schema_migrations') IS NOT NULL").fetchone()
    if not exists or not exists[0]:
        return []
    rows = conn.execute("SELECT version FROM platform_schema_migrations ORDER BY version")
    return [int(row[0]) for row in rows.fetchall()]


def migrate(conn: psycopg.Connection) -> list[str]:
    """Apply every missing migration; return the names applied (empty when up to date).

    Everything runs in one transaction: either the schema reaches the latest version or
    nothing changes. The advisory lock makes two processes starting together apply each
    migration once (the second waits, then finds nothing to do).
    """
    migrations = available_migrations()
    applied: list[str] = []
    try:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (_LOCK_KEY,))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS platform_schema_migrations ("
                " version integer PRIMARY KEY,"
                " name text NOT NULL,"
                " applied_at timestamptz NOT NULL DEFAULT now())"
            )
            done = set(applied_versions(conn))
            newest = migrations[-1].version if migrations else 0
            if done and max(done) > newest:
                raise PlatformMigrationError(
                    f"the platform database has schema version {max(done)}, newer than this "
                    f"Peregrine supports ({newest}); upgrade Peregrine"
                )
            for migration in migrations:
                if migration.version in done:
                    continue
                # A script without parameters may hold many statements (simple query protocol).
                conn.execute(migration.sql.encode())
                conn.execute(
                    "INSERT INTO platform_schema_migrations (version, name) VALUES (%s, %s)",
                    (migration.version, migration.name),
                )
                applied.append(migration.name)
            # The task queue's tables (Procrastinate); see queue_schema for why they are
            # not a numbered file.
            applied.extend(queue_schema.ensure(conn))
    except psycopg.Error as exc:
        raise PlatformMigrationError(f"platform migration failed: {_first_line(exc)}") from exc
    return applied


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
