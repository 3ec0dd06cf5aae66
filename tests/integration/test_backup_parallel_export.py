"""The export's worker threads: the same archive as a one-thread export would write, and
no thread or plaintext outlives a failure or a client that goes away; the restore's
batched row copy."""

from __future__ import annotations

import csv
import errno
import io
import json
import os
import sqlite3
import threading
import zipfile
from pathlib import Path

import pytest

from peregrine.storage import backup_restore, backup_text
from peregrine.storage.backup import BackupError
from peregrine.storage.backup_export import open_export, write_export
from peregrine.storage.backup_restore import stage_restore
from peregrine.storage.userdb import UserDB
from tests.integration.backup_data import STAMP, make_user_db

TRICKY = [
    'quote " inside',
    "comma, and\nnewline\r\nand CRLF",
    "",
    "ünïcode – “curly” 😀",
    "%s %w %q printf-looking",
    "back\\slash and 'single'",
]


def _backup_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("backup-")]


def _varied_db(path: Path, *, key: bytes | None, jobs: int) -> None:
    make_user_db(path, key=key, jobs=1, tag="alice")
    db = UserDB.open(path, key=key)
    try:
        with db.write() as conn:
            for n in range(jobs):
                text = TRICKY[n % len(TRICKY)]
                conn.execute(
                    "INSERT INTO jobs (title, company, url, date_found, updated_at, description,"
                    " notes, external_id, match_score, salary_min) VALUES (?, ?, ?, ?, ?, ?, ?,"
                    " ?, ?, ?)",
                    (
                        f"Engineer {n} {text}"[:500],
                        text,
                        f"https://jobs.test/v/{n}",
                        STAMP,
                        STAMP,
                        (text + " ") * (n % 7 * 300),
                        text,
                        None if n % 3 else text,
                        None if n % 2 else (n % 700) / 7,
                        None if n % 5 else n * 1000,
                    ),
                )
    finally:
        db.close()


def _rows(path: Path, table: str) -> tuple[list[str], list[tuple[object, ...]]]:
    conn = sqlite3.connect(path)
    try:
        cursor = conn.execute(f'SELECT * FROM "{table}" ORDER BY rowid')
        return [d[0] for d in cursor.description], cursor.fetchall()
    finally:
        conn.close()


@pytest.mark.parametrize("key", [None, b"k" * 32], ids=["plain", "encrypted"])
def test_the_json_and_csv_members_hold_every_row_of_the_database_member(
    tmp_path: Path, key: bytes | None
) -> None:
    source = tmp_path / "alice" / "staging.db"
    _varied_db(source, key=key, jobs=700)
    out = tmp_path / "backup.zip"
    write_export(source, key=key, workdir_root=tmp_path / "work", out=out)

    with zipfile.ZipFile(out) as zf:
        assert zf.testzip() is None
        (tmp_path / "plain.db").write_bytes(zf.read("peregrine.db"))
        as_json = json.loads(zf.read("data/jobs.json"))
        as_csv = list(csv.reader(io.StringIO(zf.read("data/jobs.csv").decode(), newline="")))
        manifest = json.loads(zf.read("manifest.json"))
    names, rows = _rows(tmp_path / "plain.db", "jobs")
    assert len(rows) == 701 == manifest["row_counts"]["jobs"]
    assert [list(obj.keys()) for obj in as_json] == [names] * len(rows)
    assert [tuple(obj.values()) for obj in as_json] == rows
    assert as_csv[0] == names
    raw_csv = zf_text(out, "data/jobs.csv")
    for line, row in zip(as_csv[1:], rows, strict=True):
        # NULL is an empty field; every other value is quoted, so '' is "" (told apart).
        # SQLite writes REALs with 17 significant digits: compared as numbers.
        assert [
            float(f) if isinstance(v, float) else f for f, v in zip(line, row, strict=True)
        ] == ["" if v is None else v if isinstance(v, float) else str(v) for v in row]
    assert ',"",' in raw_csv
    assert ",," in raw_csv


def zf_text(path: Path, name: str) -> str:
    with zipfile.ZipFile(path) as zf:
        return zf.read(name).decode()


def test_a_failing_worker_ends_the_export_with_no_plaintext_and_no_thread_left(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "cloud" / "staging.db"
    key = os.urandom(32)
    _varied_db(source, key=key, jobs=300)

    def disk_full(columns: list[backup_text.Column]) -> bytes:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    # The CSV reader fails on its first table while the other threads are busy.
    monkeypatch.setattr(backup_text, "csv_header", disk_full)
    work, out = tmp_path / "work", tmp_path / "backup.zip"
    with pytest.raises(BackupError):
        write_export(source, key=key, workdir_root=work, out=out)
    assert _backup_threads() == []
    assert list(work.rglob("*")) == []
    assert not out.exists()
    assert not list(tmp_path.glob(".backup.zip.partial"))


def test_a_failing_encoder_lane_is_reported_as_the_export_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "alice" / "staging.db"
    _varied_db(source, key=None, jobs=300)
    real_open = Path.open

    def no_space_for_csv(self: Path, mode: str = "r", *args: object, **kw: object) -> object:
        if mode == "xb" and self.name.endswith(".csv"):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        return real_open(self, mode, *args, **kw)  # type: ignore[call-overload]

    monkeypatch.setattr(Path, "open", no_space_for_csv)
    work = tmp_path / "work"
    with pytest.raises(BackupError, match="No space left"):
        write_export(source, key=None, workdir_root=work, out=tmp_path / "backup.zip")
    assert _backup_threads() == []
    assert list(work.rglob("*")) == []


def test_a_client_going_away_mid_download_stops_every_worker(tmp_path: Path) -> None:
    source = tmp_path / "cloud" / "staging.db"
    key = os.urandom(32)
    _varied_db(source, key=key, jobs=1500)
    work = tmp_path / "work"
    export = open_export(source, key=key, workdir_root=work)
    chunks = export.chunks()
    next(chunks)
    assert _backup_threads() != []
    chunks.close()  # the client went away
    assert _backup_threads() == []
    assert list(work.iterdir()) == []


def test_an_export_closed_before_streaming_stops_its_workers(tmp_path: Path) -> None:
    source = tmp_path / "alice" / "staging.db"
    _varied_db(source, key=None, jobs=300)
    work = tmp_path / "work"
    with open_export(source, key=None, workdir_root=work):
        pass
    assert _backup_threads() == []
    assert list(work.iterdir()) == []


def test_a_restore_copies_every_row_in_batches_whatever_the_rowid_gaps(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    source = tmp_path / "alice" / "staging.db"
    _varied_db(source, key=None, jobs=60)
    db = UserDB.open(source)
    try:
        with db.write() as conn:
            conn.execute("DELETE FROM jobs WHERE id % 4 = 0 OR id BETWEEN 20 AND 33")
            conn.execute("UPDATE jobs SET id = id + 1000000 WHERE id > 50")
    finally:
        db.close()
    archive = tmp_path / "backup.zip"
    write_export(source, key=None, workdir_root=tmp_path / "work", out=archive)
    # Batches far smaller than the table, so every boundary case is crossed.
    monkeypatch.setattr(backup_restore, "_COPY_BATCH", 7)
    target = tmp_path / "bob" / "staging.db"
    make_user_db(target, key=None, jobs=1, tag="bob")
    staged = stage_restore(archive, target=target, key=None, workdir_root=tmp_path / "work")
    assert staged.row_counts["jobs"] == len(_rows(source, "jobs")[1])
    columns = ("id", "title", "company", "description", "notes", "match_score", "salary_min")
    wanted = ", ".join(columns)
    conn_a, conn_b = sqlite3.connect(source), sqlite3.connect(staged.path)
    try:
        expected = conn_a.execute(f"SELECT {wanted} FROM jobs ORDER BY id").fetchall()
        assert conn_b.execute(f"SELECT {wanted} FROM jobs ORDER BY id").fetchall() == expected
        assert max(row[0] for row in expected) > 1000000
    finally:
        conn_a.close()
        conn_b.close()
