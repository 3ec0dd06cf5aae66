"""Restore refuses hostile or broken uploads before touching the user's database."""

from __future__ import annotations

import os
import sqlite3
import stat
import struct
import time
import zipfile
from pathlib import Path

import pytest

from peregrine.storage.backup import DB_MEMBER, MANIFEST_MEMBER, BackupError
from peregrine.storage.backup_export import write_export
from peregrine.storage.backup_restore import RestoreLimits, stage_restore
from peregrine.storage.backup_swap import leftover_staged
from tests.integration.backup_data import job_titles, make_user_db, manifest_for, zip_with_db


@pytest.fixture
def bob_db(tmp_path: Path) -> Path:
    """The victim's current database, which no refused upload may change."""
    path = tmp_path / "bob" / "staging.db"
    make_user_db(path, jobs=2, tag="bob")
    return path


@pytest.fixture
def good_db_bytes(tmp_path: Path) -> bytes:
    path = tmp_path / "mallory" / "staging.db"
    make_user_db(path, jobs=3, tag="mallory")
    out = tmp_path / "mallory.zip"
    write_export(path, key=None, workdir_root=tmp_path / "work", out=out)
    with zipfile.ZipFile(out) as zf:
        return zf.read(DB_MEMBER)


def _refused(archive: Path, bob_db: Path, tmp_path: Path, match: str, **limits: int) -> None:
    before = bob_db.read_bytes()
    with pytest.raises(BackupError, match=match):
        stage_restore(
            archive,
            target=bob_db,
            key=None,
            workdir_root=tmp_path / "work",
            limits=RestoreLimits(**limits),
        )
    assert bob_db.read_bytes() == before
    assert leftover_staged(bob_db) == []
    assert not list((tmp_path / "work").iterdir()) if (tmp_path / "work").exists() else True
    assert job_titles(bob_db) == ["Engineer bob1", "Engineer bob2"]


def _hostile_db(tmp_path: Path, good: bytes, *statements: str) -> bytes:
    path = tmp_path / "hostile.db"
    path.write_bytes(good)
    conn = sqlite3.connect(path)
    for statement in statements:
        conn.execute(statement)
    conn.commit()
    conn.close()
    return path.read_bytes()


@pytest.mark.parametrize("name", ["../escape.db", "/etc/cron.d/x", "data\\jobs.json", "a/../../b"])
def test_it_refuses_member_names_that_leave_the_archive(
    name: str, bob_db: Path, tmp_path: Path, good_db_bytes: bytes
) -> None:
    archive = zip_with_db(tmp_path / "slip.zip", good_db_bytes, extra={name: b"owned"})
    _refused(archive, bob_db, tmp_path, "unsafe file name")
    assert not (tmp_path / "escape.db").exists()


def test_it_refuses_unknown_members(bob_db: Path, tmp_path: Path, good_db_bytes: bytes) -> None:
    archive = zip_with_db(tmp_path / "x.zip", good_db_bytes, extra={"data/evil.sh": b"rm -rf"})
    _refused(archive, bob_db, tmp_path, "unexpected file")


def test_it_refuses_symlink_members(bob_db: Path, tmp_path: Path, good_db_bytes: bytes) -> None:
    archive = tmp_path / "link.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(MANIFEST_MEMBER, manifest_for(good_db_bytes))
        info = zipfile.ZipInfo(DB_MEMBER)
        info.external_attr = (stat.S_IFLNK | 0o777) << 16
        zf.writestr(info, "/home/bob/.ssh/id_ed25519")
    _refused(archive, bob_db, tmp_path, "link or a folder")


def test_it_refuses_a_zip_bomb_while_reading(bob_db: Path, tmp_path: Path) -> None:
    archive = tmp_path / "bomb.zip"
    block = b"\0" * (1024 * 1024)
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(MANIFEST_MEMBER, manifest_for(b"x"))
        with zf.open(DB_MEMBER, "w", force_zip64=True) as member:
            for _ in range(200):
                member.write(block)
    assert archive.stat().st_size < 1024 * 1024
    started = time.monotonic()
    _refused(archive, bob_db, tmp_path, "expands too much")
    # Stopped early: far fewer than 200 MB were inflated (a loose bound, not a speed test).
    assert time.monotonic() - started < 30


def test_it_refuses_an_archive_with_100k_members_before_parsing_them(
    bob_db: Path, tmp_path: Path, good_db_bytes: bytes
) -> None:
    archive = tmp_path / "many.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(DB_MEMBER, good_db_bytes)
        zf.writestr(MANIFEST_MEMBER, manifest_for(good_db_bytes))
    _append_empty_members(archive, 100_000)
    with zipfile.ZipFile(archive) as zf:
        assert len(zf.infolist()) == 100_002
    _refused(archive, bob_db, tmp_path, "100002 files")


def _append_empty_members(archive: Path, count: int) -> None:
    """Add ``count`` empty stored members (zipfile.writestr takes ~10 s for 100 000)."""
    with zipfile.ZipFile(archive) as zf:
        infos = zf.infolist()
    data = archive.read_bytes()
    eocd = data.rfind(b"PK\x05\x06")
    cd_size, cd_offset = struct.unpack("<II", data[eocd + 12 : eocd + 20])
    body = bytearray(data[:cd_offset])
    central = bytearray(data[cd_offset : cd_offset + cd_size])
    for n in range(count):
        name = f"f{n}".encode()
        offset = len(body)
        body += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, 0, 0, 0, 0, 0, 0, len(name), 0)
        body += name
        central += struct.pack(
            "<IHHHHHHIIIHHHHHII",
            0x02014B50,
            20,
            20,
            0,
            0,
            0,
            0,
            0,
            0,
            0,
            len(name),
            0,
            0,
            0,
            0,
            0,
            offset,
        )
        central += name
    total = len(infos) + count
    # More than 65535 entries needs the zip64 end records.
    zip64_eocd_offset = len(body) + len(central)
    tail = struct.pack(
        "<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, total, total, len(central), len(body)
    )
    tail += struct.pack("<IIQI", 0x07064B50, 0, zip64_eocd_offset, 1)
    tail += struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    archive.write_bytes(bytes(body + central + tail))


def test_it_refuses_an_archive_larger_than_the_limit(
    bob_db: Path, tmp_path: Path, good_db_bytes: bytes
) -> None:
    archive = zip_with_db(tmp_path / "big.zip", good_db_bytes + os.urandom(2 * 1024 * 1024))
    _refused(archive, bob_db, tmp_path, "limit is 1 MB", max_archive_bytes=1024 * 1024)


def test_it_refuses_a_file_that_is_not_a_zip(bob_db: Path, tmp_path: Path) -> None:
    archive = tmp_path / "notes.zip"
    archive.write_text("just some text, not a zip\n" * 100)
    _refused(archive, bob_db, tmp_path, "not a zip archive")


def test_it_refuses_a_database_member_that_is_not_sqlite(bob_db: Path, tmp_path: Path) -> None:
    archive = zip_with_db(tmp_path / "txt.zip", b"hello, this is a text file\n" * 200)
    _refused(archive, bob_db, tmp_path, "not a SQLite file")


def test_it_refuses_an_encrypted_database_inside_the_zip(bob_db: Path, tmp_path: Path) -> None:
    encrypted = tmp_path / "enc" / "staging.db"
    make_user_db(encrypted, key=os.urandom(32))
    archive = zip_with_db(tmp_path / "enc.zip", encrypted.read_bytes())
    _refused(archive, bob_db, tmp_path, "encrypted")


def test_it_refuses_a_checksum_mismatch(bob_db: Path, tmp_path: Path, good_db_bytes: bytes) -> None:
    archive = tmp_path / "tampered.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr(DB_MEMBER, good_db_bytes[:-1] + b"\x01")
        zf.writestr(MANIFEST_MEMBER, manifest_for(good_db_bytes))
    _refused(archive, bob_db, tmp_path, "checksum")


def test_it_refuses_a_newer_schema(bob_db: Path, tmp_path: Path, good_db_bytes: bytes) -> None:
    newer = _hostile_db(tmp_path, good_db_bytes, "PRAGMA user_version = 99")
    _refused(archive := zip_with_db(tmp_path / "n.zip", newer), bob_db, tmp_path, "newer")
    assert archive.exists()


def test_it_refuses_corrupted_pages(bob_db: Path, tmp_path: Path, good_db_bytes: bytes) -> None:
    damaged = bytearray(good_db_bytes)
    page = 4096
    assert len(damaged) > 6 * page
    damaged[3 * page + 8 : 4 * page] = os.urandom(page - 8)
    damaged[5 * page + 8 : 6 * page] = os.urandom(page - 8)
    archive = zip_with_db(tmp_path / "bad.zip", bytes(damaged))
    _refused(archive, bob_db, tmp_path, "damaged|cannot be read|malformed")


def test_it_refuses_a_view_that_shadows_one_of_our_tables(
    bob_db: Path, tmp_path: Path, good_db_bytes: bytes
) -> None:
    hostile = _hostile_db(
        tmp_path,
        good_db_bytes,
        "DROP TABLE keywords",
        "CREATE VIEW keywords AS SELECT id, 'skill' AS kind, title AS term FROM jobs",
    )
    _refused(zip_with_db(tmp_path / "v.zip", hostile), bob_db, tmp_path, "no usable table")


def test_hostile_triggers_views_and_tables_never_reach_the_restored_database(
    bob_db: Path, tmp_path: Path, good_db_bytes: bytes
) -> None:
    outside = tmp_path / "outside.db"
    hostile = _hostile_db(
        tmp_path,
        good_db_bytes,
        "CREATE TABLE evil (payload TEXT)",
        "INSERT INTO evil VALUES ('x')",
        "CREATE VIEW spy AS SELECT * FROM profile",
        # Would copy every new job into another table, and a trigger on the user's letters.
        "CREATE TRIGGER leak AFTER INSERT ON jobs BEGIN INSERT INTO evil VALUES (new.url); END",
        "CREATE TRIGGER wipe AFTER INSERT ON cover_letters BEGIN DELETE FROM jobs; END",
        "CREATE INDEX sneaky ON jobs (notes)",
    )
    archive = zip_with_db(tmp_path / "h.zip", hostile)
    staged = stage_restore(archive, target=bob_db, key=None, workdir_root=tmp_path / "work")
    conn = sqlite3.connect(staged.path)
    names = {row[0] for row in conn.execute("SELECT name FROM sqlite_schema")}
    fresh = sqlite3.connect(bob_db)
    ours = {row[0] for row in fresh.execute("SELECT name FROM sqlite_schema")}
    fresh.close()
    assert names == ours
    assert not {"evil", "spy", "leak", "wipe", "sneaky"} & names
    assert conn.execute("SELECT count(*) FROM jobs").fetchone()[0] == 3
    conn.close()
    assert not outside.exists()
    staged.discard()


def test_a_trigger_that_writes_to_an_attached_file_cannot_run(
    bob_db: Path, tmp_path: Path, good_db_bytes: bytes
) -> None:
    # A TEMP trigger cannot be stored in a file, and a stored trigger only sees its own
    # schema; the copy reads the upload read-only, so nothing in it can write anywhere.
    hostile = _hostile_db(
        tmp_path,
        good_db_bytes,
        "CREATE TABLE log (x)",
        "CREATE TRIGGER t BEFORE DELETE ON jobs BEGIN INSERT INTO log VALUES (old.id); END",
    )
    archive = zip_with_db(tmp_path / "t.zip", hostile)
    staged = stage_restore(archive, target=bob_db, key=None, workdir_root=tmp_path / "work")
    triggers = "SELECT name FROM sqlite_schema WHERE type = 'trigger' ORDER BY name"
    conn = sqlite3.connect(staged.path)
    restored = [row[0] for row in conn.execute(triggers)]
    conn.close()
    fresh = sqlite3.connect(bob_db)
    ours = [row[0] for row in fresh.execute(triggers)]
    fresh.close()
    # Only the triggers our own migrations create (change marks, migration 0002).
    assert restored == ours
    assert "t" not in restored
    staged.discard()


def test_it_refuses_rows_that_break_our_constraints(
    bob_db: Path, tmp_path: Path, good_db_bytes: bytes
) -> None:
    hostile = _hostile_db(
        tmp_path,
        good_db_bytes,
        "PRAGMA ignore_check_constraints = ON",
        "UPDATE jobs SET status = 'pwned' WHERE id = 1",
    )
    _refused(zip_with_db(tmp_path / "c.zip", hostile), bob_db, tmp_path, "invalid rows")


def test_it_refuses_broken_references(bob_db: Path, tmp_path: Path, good_db_bytes: bytes) -> None:
    hostile = _hostile_db(
        tmp_path,
        good_db_bytes,
        "INSERT INTO job_events (job_id, to_status, at) VALUES (999, 'x', 'y')",
    )
    _refused(zip_with_db(tmp_path / "r.zip", hostile), bob_db, tmp_path, "broken reference")
