"""Secret rotation and GDPR erasure on real files."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import pytest

from peregrine.storage.erasure import (
    ErasureError,
    PlatformErasureQueue,
    erase_user,
    is_tombstoned,
    user_ref,
)
from peregrine.storage.rekey import (
    RotationTarget,
    open_with_rotation,
    opens_with,
    rekey,
    rotate_all,
)
from peregrine.storage.userdb import NotADatabaseError
from tests.integration.backup_data import job_titles, make_user_db

ALICE = "6f1c2a8e-0b7d-4c1e-9a55-2f1d3c4b5a60"
BOB = "0d9e8f7a-6b5c-4d3e-8f21-a0b1c2d3e4f5"


def test_rekey_moves_a_database_to_the_new_key(tmp_path: Path) -> None:
    old, new = os.urandom(32), os.urandom(32)
    path = tmp_path / "alice.db"
    make_user_db(path, key=old)
    rekey(path, old_key=old, new_key=new)
    assert opens_with(path, new)
    assert not opens_with(path, old)
    assert len(job_titles(path, key=new)) == 3


def test_the_dual_key_open_rekeys_a_database_still_on_the_previous_secret(
    tmp_path: Path,
) -> None:
    previous, current = os.urandom(32), os.urandom(32)
    path = tmp_path / "alice.db"
    make_user_db(path, key=previous)
    db = open_with_rotation(path, key=current, previous_key=previous)
    db.close()
    assert opens_with(path, current)
    assert not opens_with(path, previous)
    # Already rotated: the second open does not need the previous key at all.
    open_with_rotation(path, key=current, previous_key=None).close()


def test_the_dual_key_open_never_falls_back_to_an_empty_database(tmp_path: Path) -> None:
    path = tmp_path / "alice.db"
    make_user_db(path, key=os.urandom(32))
    before = path.read_bytes()
    with pytest.raises(NotADatabaseError):
        open_with_rotation(path, key=os.urandom(32), previous_key=os.urandom(32))
    assert path.read_bytes() == before


def test_rotate_all_reports_failures_and_resumes_from_its_journal(tmp_path: Path) -> None:
    old, new = os.urandom(32), os.urandom(32)
    targets = []
    for name in ("alice", "bob", "carol"):
        path = tmp_path / f"{name}.db"
        make_user_db(path, key=old, jobs=1, tag=name)
        targets.append(RotationTarget(name, path, old, new))
    mallory = tmp_path / "mallory.db"
    make_user_db(mallory, key=os.urandom(32), jobs=1)
    targets.append(RotationTarget("mallory", mallory, old, new))
    targets.append(RotationTarget("ghost", tmp_path / "ghost.db", old, new))
    journal = tmp_path / "rotation.journal"

    seen: list[tuple[str, str]] = []
    first = rotate_all(targets[:2], journal=journal, progress=lambda t, o: seen.append((t.name, o)))
    assert first.rekeyed == ["alice", "bob"]
    assert seen == [("alice", "rekeyed"), ("bob", "rekeyed")]

    # A re-run after a "crash" skips what the journal holds and carries on.
    second = rotate_all(targets, journal=journal)
    assert second.resumed == ["alice", "bob"]
    assert second.rekeyed == ["carol"]
    assert set(second.failed) == {"mallory", "ghost"}
    assert "neither" in second.failed["mallory"]
    assert not second.ok
    for name in ("alice", "bob", "carol"):
        assert opens_with(tmp_path / f"{name}.db", new)
    assert old.hex() not in journal.read_text()
    assert new.hex() not in journal.read_text()


def test_rotate_all_counts_a_database_already_on_the_new_key(tmp_path: Path) -> None:
    old, new = os.urandom(32), os.urandom(32)
    path = tmp_path / "alice.db"
    make_user_db(path, key=new, jobs=1)
    report = rotate_all([RotationTarget("alice", path, old, new)], journal=tmp_path / "j")
    assert report.already == ["alice"]
    assert report.ok


@pytest.fixture
def root(tmp_path: Path) -> Path:
    root = tmp_path / "data"
    for user in (ALICE, BOB):
        make_user_db(root / user / "peregrine" / "staging.db", jobs=1, tag=user[:4])
        (root / user / "peregrine" / "resume.pdf").write_bytes(b"%PDF" + b"x" * 100)
    return root


def test_erasure_removes_the_users_tree_and_leaves_a_tombstone(
    root: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    queue = PlatformErasureQueue(tmp_path / "erasure-queue.json")
    closed: list[str] = []
    with caplog.at_level(logging.INFO, logger="peregrine.audit"):
        result = erase_user(root, ALICE, queue=queue, close_handles=closed.append)
    assert not (root / ALICE).exists()
    assert is_tombstoned(root, ALICE)
    assert not is_tombstoned(root, BOB)
    assert (root / BOB / "peregrine" / "staging.db").exists()
    assert closed == [ALICE]
    assert result.files >= 2
    assert result.platform_pending == 1
    assert queue.pending() == [ALICE]
    audit = caplog.text
    assert user_ref(ALICE) in audit
    assert ALICE not in audit


def test_a_dry_run_changes_nothing(root: Path) -> None:
    result = erase_user(root, ALICE, dry_run=True)
    assert result.dry_run
    assert result.files >= 2
    assert (root / ALICE / "peregrine" / "staging.db").exists()
    assert not is_tombstoned(root, ALICE)


def test_erasure_is_idempotent_and_finishes_after_a_crash(root: Path) -> None:
    # A crash after the rename but before the delete finished leaves this behind.
    (root / ALICE).rename(root / f".erasing-{ALICE}")
    erase_user(root, ALICE)
    assert not (root / f".erasing-{ALICE}").exists()
    again = erase_user(root, ALICE)
    assert again.already_erased
    assert again.files == 0


def test_erasure_does_not_follow_links_out_of_the_tree(root: Path, tmp_path: Path) -> None:
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "keep.txt").write_text("not alice's")
    (root / ALICE / "peregrine" / "link").symlink_to(precious)
    erase_user(root, ALICE)
    assert (precious / "keep.txt").read_text() == "not alice's"


def test_erasure_refuses_a_user_folder_that_is_a_link(root: Path, tmp_path: Path) -> None:
    mallory = "mallory-1"
    (root / mallory).symlink_to(root / BOB)
    with pytest.raises(ErasureError, match="link"):
        erase_user(root, mallory)
    assert (root / BOB / "peregrine" / "staging.db").exists()


@pytest.mark.parametrize("user_id", ["../etc", "a/b", ".", "", ".tombstones", "x" * 65, "é"])
def test_erasure_refuses_ids_that_are_not_plain_names(root: Path, user_id: str) -> None:
    with pytest.raises(ErasureError, match="not a valid user id"):
        erase_user(root, user_id)
    assert (root / BOB).exists()


def test_platform_rows_stay_queued_while_postgres_is_down(tmp_path: Path) -> None:
    queue = PlatformErasureQueue(tmp_path / "queue.json")
    queue.add(ALICE)
    queue.add(BOB)
    queue.add(ALICE)

    def down(user_id: str) -> None:
        raise ConnectionError("connection refused")

    assert queue.drain(down) == [ALICE, BOB]
    deleted: list[str] = []
    assert queue.drain(deleted.append) == []
    assert deleted == [ALICE, BOB]
    assert queue.pending() == []
