"""The user database: migrations from blank, safe opening, pooling and concurrency."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from peregrine.storage import migrate
from peregrine.storage.userdb import NotADatabaseError, StorageError, UserDB


def test_migrations_build_the_latest_schema_from_blank(db_path: Path) -> None:
    db = UserDB.open(db_path, create=True)
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert {
        "jobs",
        "job_sources",
        "job_events",
        "contacts",
        "messages",
        "company_research",
        "interview_prep",
        "tasks",
        "cover_letters",
        "application_answers",
        "application_snapshots",
        "survey_responses",
        "profile",
        "resumes",
        "search_profiles",
        "blocklist",
        "keywords",
        "preferences",
        "past_letters",
        "llm_calls",
    } <= tables
    assert db.execute("PRAGMA user_version")[0][0] == migrate.latest_version()
    db.close()


def test_connections_are_prepared(db: UserDB) -> None:
    with db.read() as conn:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA foreign_keys").fetchone()[0] == 1
        assert conn.execute("PRAGMA busy_timeout").fetchone()[0] >= 1000


def test_reopening_applies_nothing_new(db_path: Path) -> None:
    UserDB.open(db_path, create=True).close()
    db = UserDB.open(db_path)
    with db.read() as conn:
        assert migrate.apply_migrations(conn) == 0
    db.close()


def test_the_plain_database_opens_with_stock_sqlite(db: UserDB, db_path: Path) -> None:
    with sqlite3.connect(db_path) as conn:
        assert conn.execute("SELECT count(*) FROM jobs").fetchone()[0] == 0


def test_opening_a_missing_database_never_creates_it(tmp_path: Path) -> None:
    path = tmp_path / "nobody" / "staging.db"
    with pytest.raises(StorageError, match="does not exist"):
        UserDB.open(path)
    assert not path.exists()
    assert not path.parent.exists()


def test_a_file_that_is_not_sqlite_is_refused_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "staging.db"
    path.write_bytes(b"this is a text file, not a database" * 100)
    before = path.read_bytes()
    with pytest.raises(NotADatabaseError, match="not a Peregrine database"):
        UserDB.open(path)
    assert path.read_bytes() == before


def test_a_newer_schema_is_refused(db_path: Path) -> None:
    UserDB.open(db_path, create=True).close()
    with sqlite3.connect(db_path) as conn:
        conn.execute("PRAGMA user_version = 999")
    with pytest.raises(migrate.MigrationError, match="newer"):
        UserDB.open(db_path)


def test_an_unwritable_folder_is_reported(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(StorageError, match="cannot create the data folder"):
        UserDB.open(blocker / "sub" / "staging.db", create=True)


def test_a_failing_write_transaction_leaves_nothing(db: UserDB) -> None:
    def failing_write() -> None:
        with db.write() as conn:
            conn.execute("INSERT INTO preferences (key, value) VALUES ('a', '1')")
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError):
        failing_write()
    assert db.execute("SELECT count(*) FROM preferences")[0][0] == 0


def test_ten_threads_opening_a_new_database_migrate_it_once(db_path: Path) -> None:
    errors: list[BaseException] = []
    barrier = threading.Barrier(10)

    def opener() -> None:
        try:
            barrier.wait()
            UserDB.open(db_path, create=True).close()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=opener) for _ in range(10)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    db = UserDB.open(db_path)
    assert db.execute("PRAGMA user_version")[0][0] == migrate.latest_version()
    db.close()


def test_concurrent_writers_do_not_fail(db: UserDB) -> None:
    errors: list[BaseException] = []

    def writer(n: int) -> None:
        try:
            for i in range(20):
                with db.write() as conn:
                    value = conn.execute("SELECT count(*) FROM preferences").fetchone()[0]
                    conn.execute(
                        "INSERT INTO preferences (key, value) VALUES (?, ?)", (f"{n}-{i}", value)
                    )
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert db.execute("SELECT count(*) FROM preferences")[0][0] == 120


def test_statements_split_keeps_trigger_bodies_whole() -> None:
    sql = (
        "CREATE TABLE a (x);\n"
        "CREATE TRIGGER t AFTER INSERT ON a BEGIN\n  SELECT 1;\n  SELECT 2;\nEND;\n-- end\n"
    )
    parts = migrate.split_statements(sql)
    assert len(parts) == 2
    assert parts[1].endswith("END;")
