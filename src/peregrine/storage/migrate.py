"""Schema migrations: numbered SQL files shipped in the package, applied from one function."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from importlib import resources
from typing import Any

import sqlcipher3

_NAME = re.compile(r"(\d{4})_[a-z0-9_]+\.sql")


class MigrationError(Exception):
    """The database's schema cannot be brought to the version this code expects."""


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def available_migrations() -> list[Migration]:
    return list(_shipped_migrations())


@functools.cache
def _shipped_migrations() -> tuple[Migration, ...]:
    # Read once per process: the files ship inside the package and cannot change under a
    # running server, and listing and reading them was a third of a tenant's cold open.
    folder = resources.files("peregrine.storage") / "migrations"
    found: list[Migration] = []
    for entry in folder.iterdir():
        match = _NAME.fullmatch(entry.name)
        if match:
            found.append(Migration(int(match[1]), entry.name, entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    for expected, migration in enumerate(found, start=1):
        if migration.version != expected:
            raise MigrationError(f"migration files are not numbered 1..N: {migration.name}")
    return tuple(found)


def latest_version() -> int:
    migrations = available_migrations()
    return migrations[-1].version if migrations else 0


def split_statements(sql: str) -> list[str]:
    """Split a script into statements (trigger bodies stay whole)."""
    statements: list[str] = []
    buffer = ""
    for line in sql.splitlines(keepends=True):
        buffer += line
        if sqlcipher3.complete_statement(buffer):
            if buffer.strip():
                statements.append(buffer.strip())
            buffer = ""
    if buffer.strip() and not all(
        part.strip().startswith("--") or not part.strip() for part in buffer.splitlines()
    ):
        raise MigrationError(f"incomplete SQL statement at the end of a migration: {buffer!r}")
    return statements


def schema_version(conn: Any) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])


def apply_migrations(conn: Any) -> int:
    """Bring the database to the latest schema; return the number of migrations applied.

    Each migration runs in its own ``BEGIN IMMEDIATE`` transaction and the version is
    re-read inside it, so two processes opening the same new database apply it once.
    (``executescript`` is avoided because it commits before it runs.)
    """
    migrations = available_migrations()
    latest = migrations[-1].version if migrations else 0
    current = schema_version(conn)
    if current > latest:
        raise MigrationError(
            f"this database has schema version {current}, newer than this Peregrine "
            f"supports ({latest}); upgrade Peregrine to open it"
        )
    applied = 0
    for migration in migrations:
        if migration.version <= current:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            if schema_version(conn) >= migration.version:
                conn.execute("ROLLBACK")
                continue
            for statement in split_statements(migration.sql):
                conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {migration.version}")
            conn.execute("COMMIT")
        except BaseException as exc:
            conn.execute("ROLLBACK")
            if isinstance(exc, sqlcipher3.Error):
                raise MigrationError(f"migration {migration.name} failed: {exc}") from exc
            raise
        applied += 1
        current = migration.version
    return applied
