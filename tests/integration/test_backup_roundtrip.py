"""Backup export and restore round trips on real SQLite and SQLCipher files."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import socket
import sqlite3
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from peregrine.storage.backup import (
    DB_MEMBER,
    MANIFEST_MEMBER,
    MEMBERS,
    BackupError,
    private_workdir,
    sweep_workdirs,
)
from peregrine.storage.backup_export import open_export, write_export
from peregrine.storage.backup_restore import stage_restore
from peregrine.storage.backup_swap import leftover_staged, rollback_files, snapshot_path, swap_in
from peregrine.storage.migrate import Migration, available_migrations, latest_version
from peregrine.storage.userdb import NotADatabaseError, UserDB
from tests.integration.backup_data import job_titles, make_user_db


@pytest.fixture
def alice_db(tmp_path: Path) -> Path:
    path = tmp_path / "alice" / "staging.db"
    make_user_db(path, jobs=3, tag="alice")
    return path


def _export(source: Path, tmp_path: Path, *, key: bytes | None = None) -> Path:
    out = tmp_path / "backup.zip"
    write_export(source, key=key, workdir_root=tmp_path / "work", out=out)
    return out


def _restore(archive: Path, target: Path, tmp_path: Path, *, key: bytes | None = None) -> None:
    staged = stage_restore(archive, target=target, key=key, workdir_root=tmp_path / "work")
    swap_in(staged.path, target, key=key)


def test_a_plain_backup_restores_into_a_new_plain_database(alice_db: Path, tmp_path: Path) -> None:
    archive = _export(alice_db, tmp_path)
    target = tmp_path / "restored" / "staging.db"
    target.parent.mkdir()
    _restore(archive, target, tmp_path)
    assert job_titles(target) == ["Engineer alice1", "Engineer alice2", "Engineer alice3"]
    assert not list((tmp_path / "work").iterdir())


def test_an_encrypted_database_exports_as_plain_sqlite_and_restores_encrypted(
    tmp_path: Path,
) -> None:
    cloud_key, new_key = os.urandom(32), os.urandom(32)
    source = tmp_path / "cloud" / "staging.db"
    make_user_db(source, key=cloud_key, tag="bob")
    archive = _export(source, tmp_path, key=cloud_key)

    with zipfile.ZipFile(archive) as zf:
        plain = tmp_path / "plain.db"
        plain.write_bytes(zf.read(DB_MEMBER))
    # Stock sqlite3, not our binding, must read it.
    conn = sqlite3.connect(plain)
    assert conn.execute("SELECT count(*) FROM jobs").fetchone()[0] == 3
    assert conn.execute("PRAGMA user_version").fetchone()[0] == latest_version()
    conn.close()

    target = tmp_path / "bob2" / "staging.db"
    target.parent.mkdir()
    _restore(archive, target, tmp_path, key=new_key)
    assert job_titles(target, key=new_key)[0] == "Engineer bob1"
    assert not target.read_bytes().startswith(b"SQLite format 3")
    with pytest.raises(NotADatabaseError):
        UserDB.open(target, key=None)


def test_a_plain_local_backup_restores_into_an_encrypted_cloud_database(
    alice_db: Path, tmp_path: Path
) -> None:
    key = os.urandom(32)
    archive = _export(alice_db, tmp_path)
    target = tmp_path / "cloud" / "staging.db"
    make_user_db(target, key=key, jobs=1, tag="old")
    _restore(archive, target, tmp_path, key=key)
    assert len(job_titles(target, key=key)) == 3
    assert job_titles(snapshot_path(target), key=key) == ["Engineer old1"]


def test_the_manifest_describes_every_member_without_server_paths(
    alice_db: Path, tmp_path: Path
) -> None:
    archive = _export(alice_db, tmp_path)
    with zipfile.ZipFile(archive) as zf:
        names = set(zf.namelist())
        manifest = json.loads(zf.read(MANIFEST_MEMBER))
        assert names <= MEMBERS
        assert set(manifest["members"]) == names - {MANIFEST_MEMBER}
        for name, entry in manifest["members"].items():
            data = zf.read(name)
            assert entry["size"] == len(data)
            assert entry["sha256"] == hashlib.sha256(data).hexdigest()
        text = b"".join(zf.read(n) for n in names if n != DB_MEMBER)
    assert manifest["format_version"] == 1
    assert manifest["schema_version"] == latest_version()
    assert manifest["app_version"]
    assert manifest["row_counts"]["jobs"] == 3
    assert manifest["row_counts"]["job_events"] == 3
    assert str(tmp_path).encode() not in text
    assert {"README.txt", "data/jobs.csv", "data/stages.json", "data/letters.csv"} <= names


def test_json_and_csv_exports_hold_the_users_rows(alice_db: Path, tmp_path: Path) -> None:
    archive = _export(alice_db, tmp_path)
    with zipfile.ZipFile(archive) as zf:
        jobs = json.loads(zf.read("data/jobs.json"))
        stages = list(csv.DictReader(io.StringIO(zf.read("data/stages.csv").decode())))
        letters = json.loads(zf.read("data/letters.json"))
        readme = zf.read("README.txt").decode()
    assert [j["title"] for j in jobs] == ["Engineer alice1", "Engineer alice2", "Engineer alice3"]
    assert jobs[0]["description"].startswith('Build things, "quoted", comma, ünïcode')
    assert [s["to_status"] for s in stages] == ["applied"] * 3
    assert letters[2]["body"] == "Dear Acme, letter alice3"
    assert "stages" in readme
    assert "letters" in readme


def test_restore_keeps_the_previous_database_and_rollback_swaps_it_back(
    alice_db: Path, tmp_path: Path
) -> None:
    archive = _export(alice_db, tmp_path)
    target = tmp_path / "bob" / "staging.db"
    make_user_db(target, jobs=1, tag="bob")
    _restore(archive, target, tmp_path)
    assert len(job_titles(target)) == 3
    rollback_files(target, key=None)
    assert job_titles(target) == ["Engineer bob1"]
    rollback_files(target, key=None)
    assert len(job_titles(target)) == 3
    assert leftover_staged(target) == []


def test_export_takes_a_consistent_snapshot_while_the_app_has_the_database_open(
    alice_db: Path, tmp_path: Path
) -> None:
    db = UserDB.open(alice_db)
    try:
        with db.write() as conn:
            conn.execute("UPDATE jobs SET notes = 'in wal' WHERE id = 1")
        with open_export(alice_db, key=None, workdir_root=tmp_path / "work") as export:
            body = b"".join(export.chunks())
        with db.write() as conn:
            conn.execute("UPDATE jobs SET notes = 'after' WHERE id = 1")
    finally:
        db.close()
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        jobs = json.loads(zf.read("data/jobs.json"))
    assert jobs[0]["notes"] == "in wal"


def test_closing_the_stream_early_removes_the_decrypted_snapshot(tmp_path: Path) -> None:
    key = os.urandom(32)
    source = tmp_path / "cloud" / "staging.db"
    make_user_db(source, key=key, jobs=50)
    export = open_export(source, key=key, workdir_root=tmp_path / "work")
    chunks = export.chunks()
    next(chunks)
    assert any((tmp_path / "work").iterdir())
    chunks.close()  # the client went away
    assert not list((tmp_path / "work").iterdir())


def test_an_older_backup_is_migrated_after_its_rows_are_copied(
    alice_db: Path, tmp_path: Path
) -> None:
    archive = _export(alice_db, tmp_path)
    # One past the shipped migrations, whatever their number.
    next_version = latest_version() + 1
    later = Migration(
        next_version,
        f"{next_version:04d}_test_extra.sql",
        "ALTER TABLE jobs ADD COLUMN priority INTEGER NOT NULL DEFAULT 5;\n"
        "CREATE TABLE reminders (id INTEGER PRIMARY KEY, at TEXT NOT NULL);\n",
    )
    target = tmp_path / "new" / "staging.db"
    target.parent.mkdir()
    staged = stage_restore(
        archive,
        target=target,
        key=None,
        workdir_root=tmp_path / "work",
        migrations=[*available_migrations(), later],
    )
    conn = sqlite3.connect(staged.path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == next_version
    assert conn.execute("SELECT count(*), min(priority) FROM jobs").fetchone() == (3, 5)
    conn.close()


def test_swapping_without_a_staged_database_is_refused(tmp_path: Path) -> None:
    with pytest.raises(BackupError, match="no restored database"):
        swap_in(tmp_path / "missing.db", tmp_path / "target.db", key=None)
    assert not (tmp_path / "target.db").exists()


def test_the_startup_sweep_removes_work_folders_of_dead_processes(tmp_path: Path) -> None:
    root = tmp_path / "work"
    root.mkdir()
    # A pid that no longer runs: a finished child's.
    child = subprocess.Popen(["true"])
    child.wait()
    host = socket.gethostname()
    host = "".join(ch for ch in host if ch.isalnum() or ch == "-")[:40] or "host"
    stale = root / f"{host}.{child.pid}.abc"
    stale.mkdir()
    (stale / "snapshot.db").write_bytes(b"decrypted")
    live = root / f"{host}.{os.getppid()}.def"
    live.mkdir()
    assert sweep_workdirs(root) == 1
    assert not stale.exists()
    assert live.exists()


def test_the_sweep_keeps_this_process_and_other_hosts_work_but_not_a_same_pid_predecessor(
    tmp_path: Path,
) -> None:
    root = tmp_path / "work"
    with private_workdir(root) as ours:
        (ours / "snapshot.db").write_bytes(b"an export in flight")
        host, pid = ours.name.split(".")[:2]
        # A container restarts its app under the same pid: the old nonce is a dead process.
        predecessor = root / f"{host}.{pid}.0badf00d.x1"
        predecessor.mkdir()
        elsewhere = root / "othernode.4242.cafe.x2"  # another app node on the shared root
        elsewhere.mkdir()
        abandoned = root / "othernode.4243.beef.x3"
        abandoned.mkdir()
        three_hours_ago = time.time() - 3 * 3600
        os.utime(abandoned, (three_hours_ago, three_hours_ago))
        assert sweep_workdirs(root) == 2
        assert ours.exists()
        assert elsewhere.exists()
        assert not predecessor.exists()
        assert not abandoned.exists()


WAL_WRITER = """
import os, sys
from pathlib import Path
from peregrine.storage.userdb import UserDB
db = UserDB.open(Path(sys.argv[1]))
with db.write() as conn:
    conn.execute("UPDATE jobs SET notes = 'only in the wal' WHERE id = 1")
os._exit(0)  # no close: the write stays in the -wal file, as after a crash
"""


def test_a_swap_folds_the_old_wal_into_the_kept_snapshot(alice_db: Path, tmp_path: Path) -> None:
    archive = _export(alice_db, tmp_path)
    subprocess.run([sys.executable, "-c", WAL_WRITER, str(alice_db)], check=True)
    wal = Path(f"{alice_db}-wal")
    assert wal.exists()
    assert wal.stat().st_size > 0
    _restore(archive, alice_db, tmp_path)
    assert not wal.exists()
    conn = sqlite3.connect(snapshot_path(alice_db))
    assert conn.execute("SELECT notes FROM jobs WHERE id = 1").fetchone() == ("only in the wal",)
    conn.close()
    restored = sqlite3.connect(alice_db)
    assert restored.execute("SELECT notes FROM jobs WHERE id = 1").fetchone() == ("",)
    restored.close()


def test_a_swap_is_refused_while_someone_still_has_the_database_open(
    alice_db: Path, tmp_path: Path
) -> None:
    archive = _export(alice_db, tmp_path)
    staged = stage_restore(archive, target=alice_db, key=None, workdir_root=tmp_path / "work")
    holder = UserDB.open(alice_db)
    try:
        with holder.read() as conn:
            conn.execute("BEGIN")
            conn.execute("SELECT count(*) FROM jobs").fetchone()
            with pytest.raises(BackupError, match="in use"):
                swap_in(staged.path, alice_db, key=None)
    finally:
        holder.close()
    assert job_titles(alice_db)[0] == "Engineer alice1"
    staged.discard()


def test_csv_and_json_rows_match_the_database_field_for_field(
    alice_db: Path, tmp_path: Path
) -> None:
    db = UserDB.open(alice_db)
    try:
        with db.write() as conn:
            conn.execute(
                "UPDATE jobs SET notes = ?, match_score = 0.25 WHERE id = 2",
                ('two\nlines, a "quote" and 100%s %w',),
            )
    finally:
        db.close()
    archive = _export(alice_db, tmp_path)
    plain = tmp_path / "plain.db"
    with zipfile.ZipFile(archive) as zf:
        plain.write_bytes(zf.read(DB_MEMBER))
        csv_text = zf.read("data/jobs.csv").decode()
        jobs_json = json.loads(zf.read("data/jobs.json"))
    conn = sqlite3.connect(plain)
    try:
        columns = [row[1] for row in conn.execute("PRAGMA table_info(jobs)")]
        texts = conn.execute(
            "SELECT " + ", ".join(f'CAST("{c}" AS TEXT)' for c in columns) + " FROM jobs"
        ).fetchall()
        values = conn.execute("SELECT * FROM jobs").fetchall()
    finally:
        conn.close()
    # Every non-NULL field quoted with inner quotes doubled; NULL an empty field.
    expected = [",".join(columns)] + [
        ",".join("" if v is None else '"' + v.replace('"', '""') + '"' for v in row)
        for row in texts
    ]
    assert csv_text == "\n".join(expected) + "\n"
    parsed = list(csv.DictReader(io.StringIO(csv_text)))
    assert parsed[1]["notes"] == 'two\nlines, a "quote" and 100%s %w'
    assert jobs_json == [dict(zip(columns, row, strict=True)) for row in values]
    assert jobs_json[1]["match_score"] == 0.25


def test_a_staged_restore_is_one_self_contained_encrypted_file(
    alice_db: Path, tmp_path: Path
) -> None:
    archive = _export(alice_db, tmp_path)
    key = os.urandom(32)
    target = tmp_path / "bob" / "staging.db"
    target.parent.mkdir()
    staged = stage_restore(archive, target=target, key=key, workdir_root=tmp_path / "work")
    # No -wal or -journal beside it: the rename in swap_in moves the whole database.
    assert sorted(p.name for p in target.parent.iterdir()) == [staged.path.name]
    assert not staged.path.read_bytes()[:16].startswith(b"SQLite format 3")
    swap_in(staged.path, target, key=key)
    assert job_titles(target, key=key) == ["Engineer alice1", "Engineer alice2", "Engineer alice3"]
    db = UserDB.open(target, key=key)
    try:
        assert db.execute("PRAGMA quick_check")[0][0] == "ok"
    finally:
        db.close()


def test_unfinished_tasks_in_a_backup_come_back_interrupted_and_change_marks_are_not_copied(
    alice_db: Path, tmp_path: Path
) -> None:
    db = UserDB.open(alice_db)
    with db.write() as conn:
        conn.execute(
            "INSERT INTO tasks (type, status, created_at) VALUES "
            "('score', 'queued', '2026-11-01T10:00:00'), "
            "('discover', 'running', '2026-11-01T10:00:00'), "
            "('enrich', 'succeeded', '2026-11-01T10:00:00')"
        )
        # A crafted backup could carry many marks; each would slow every later job write.
        conn.executemany("INSERT INTO job_changes (mark) VALUES (?)", [(i,) for i in range(500)])
    db.close()
    target = tmp_path / "restored" / "staging.db"
    target.parent.mkdir()
    _restore(_export(alice_db, tmp_path), target, tmp_path)
    restored = sqlite3.connect(target)
    try:
        statuses = dict(restored.execute("SELECT type, status FROM tasks").fetchall())
        errors = {r[0] for r in restored.execute("SELECT error FROM tasks WHERE error IS NOT NULL")}
        marks = restored.execute("SELECT count(*) FROM job_changes").fetchone()[0]
    finally:
        restored.close()
    assert statuses == {"score": "interrupted", "discover": "interrupted", "enrich": "succeeded"}
    assert errors == {"restored from a backup before it finished; start it again"}
    assert marks == 1
