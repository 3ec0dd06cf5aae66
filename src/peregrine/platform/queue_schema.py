"""Procrastinate's tables in the platform database, installed and upgraded by our own
migration step.

Why not a numbered ``0002_procrastinate.sql``: the schema belongs to the installed
Procrastinate release, which ships its full ``schema.sql`` plus one delta file per schema
change. Copying either into our migrations would freeze a third-party schema at one version
and break on the next upgrade. Instead ``platform.migrate.migrate`` calls ``ensure`` in the
same transaction and under the same advisory lock as our own migrations:

- a database without ``procrastinate_jobs`` gets the release's ``schema.sql``, and every
  delta file the release ships is recorded as already applied (``schema.sql`` contains them);
- later runs apply, in name order, the delta files a newer release added.

So ``peregrine platform migrate`` stays the one operator command, and running it again does
nothing.
"""

from __future__ import annotations

from importlib import resources

import psycopg

_TABLE = "platform_queue_schema"


def _delta_files() -> dict[str, str]:
    folder = resources.files("procrastinate.sql") / "migrations"
    return {
        entry.name: entry.read_text(encoding="utf-8")
        for entry in folder.iterdir()
        if entry.name.endswith(".sql")
    }


def _full_schema() -> str:
    return (resources.files("procrastinate.sql") / "schema.sql").read_text(encoding="utf-8")


def installed(conn: psycopg.Connection) -> bool:
    row = conn.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL").fetchone()
    return bool(row and row[0])


def ensure(conn: psycopg.Connection) -> list[str]:
    """Install or upgrade the queue schema; returns what was applied (empty when current).

    The caller holds the migration transaction and advisory lock.
    """
    conn.execute(
        f"CREATE TABLE IF NOT EXISTS {_TABLE} ("
        " name text PRIMARY KEY,"
        " applied_at timestamptz NOT NULL DEFAULT now())"
    )
    deltas = _delta_files()
    if not installed(conn):
        # No parameters: psycopg sends the script as-is, so its % signs need no escaping.
        conn.execute(_full_schema().encode())
        for name in sorted(deltas):
            conn.execute(f"INSERT INTO {_TABLE} (name) VALUES (%s) ON CONFLICT DO NOTHING", (name,))
        return ["procrastinate schema"]
    done = {row[0] for row in conn.execute(f"SELECT name FROM {_TABLE}").fetchall()}
    if not done:
        # Installed by hand before this step existed: take it as current.
        done = set(deltas)
        for name in sorted(deltas):
            conn.execute(f"INSERT INTO {_TABLE} (name) VALUES (%s)", (name,))
    applied = []
    for name in sorted(set(deltas) - done):
        conn.execute(deltas[name].encode())
        conn.execute(f"INSERT INTO {_TABLE} (name) VALUES (%s)", (name,))
        applied.append(f"procrastinate {name}")
    return applied
