"""Platform migrations against a real PostgreSQL: from blank, idempotent, concurrent."""

from __future__ import annotations

import threading

import psycopg
import pytest

from peregrine.platform.migrate import (
    PlatformMigrationError,
    applied_versions,
    available_migrations,
    migrate,
)
from tests.integration.platform.conftest import PgServer

TABLES = {
    "subscriptions",
    "telemetry_consent",
    "usage_events",
    "support_access_grants",
    "pending_deletions",
    "platform_schema_migrations",
    # The task queue (Procrastinate), installed by the same step.
    "platform_queue_schema",
    "procrastinate_jobs",
    "procrastinate_workers",
    "procrastinate_periodic_defers",
    "procrastinate_events",
}


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
    return {r[0] for r in rows}


def test_it_builds_the_schema_from_a_blank_database(pg: PgServer) -> None:
    url = pg.create_database(migrated=False)
    assert _tables(url) == set()
    with psycopg.connect(url) as conn:
        applied = migrate(conn)
        assert applied == [m.name for m in available_migrations()] + ["procrastinate schema"]
        assert applied_versions(conn) == [m.version for m in available_migrations()]
    assert _tables(url) == TABLES


def test_running_it_again_changes_nothing(pg: PgServer) -> None:
    url = pg.create_database(migrated=False)
    with psycopg.connect(url) as conn:
        migrate(conn)
        assert migrate(conn) == []
        assert migrate(conn) == []
        row = conn.execute("SELECT count(*) FROM platform_schema_migrations").fetchone()
    assert row == (len(available_migrations()),)


def test_two_processes_migrating_at_once_apply_each_migration_once(pg: PgServer) -> None:
    url = pg.create_database(migrated=False)
    results: list[list[str]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        try:
            with psycopg.connect(url) as conn:
                barrier.wait()
                results.append(migrate(conn))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(30)
    assert errors == []
    assert sorted(len(r) for r in results) == [0, len(available_migrations()) + 1]


def test_it_refuses_a_schema_newer_than_the_code(platform_url: str) -> None:
    with psycopg.connect(platform_url) as conn:
        conn.execute(
            "INSERT INTO platform_schema_migrations (version, name) VALUES (999, '0999_future.sql')"
        )
        conn.commit()
        with pytest.raises(PlatformMigrationError, match="newer than this Peregrine"):
            migrate(conn)


def test_a_failing_migration_leaves_nothing_half_done(pg: PgServer) -> None:
    url = pg.create_database(migrated=False)
    with psycopg.connect(url) as conn:
        # A table in the way makes 0001 fail part-way; nothing of it may remain.
        conn.execute("CREATE TABLE usage_events (x int)")
        conn.commit()
        with pytest.raises(PlatformMigrationError, match="usage_events"):
            migrate(conn)
    assert _tables(url) == {"usage_events"}


def test_it_applies_only_the_queue_deltas_it_has_not_recorded(pg: PgServer) -> None:
    url = pg.create_database(migrated=False)
    with psycopg.connect(url) as conn:
        migrate(conn)
        # As if the installed Procrastinate release were newer than the recorded schema:
        # forget the newest delta; its statements are idempotent re-creations of functions.
        newest = conn.execute(
            "SELECT name FROM platform_queue_schema ORDER BY name DESC LIMIT 1"
        ).fetchone()
        assert newest is not None
        conn.execute("DELETE FROM platform_queue_schema WHERE name = %s", (newest[0],))
        conn.commit()
        assert migrate(conn) == [f"procrastinate {newest[0]}"]
        assert migrate(conn) == []
