"""Crashes and full disks: kill -9 during restore and re-keying, ENOSPC during export."""

from __future__ import annotations

import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from peregrine.storage.backup import BackupError, owner_tag
from peregrine.storage.backup_export import write_export
from peregrine.storage.backup_swap import recover_after_crash, staged_path
from peregrine.storage.rekey import which_key
from peregrine.storage.userdb import UserDB
from tests.integration.backup_data import make_user_db

RESTORE_CHILD = """
import sys
from pathlib import Path
from peregrine.storage.backup_restore import stage_restore
from peregrine.storage.backup_swap import swap_in
archive, target, work, key = Path(sys.argv[1]), Path(sys.argv[2]), Path(sys.argv[3]), sys.argv[4]
key = bytes.fromhex(key)
print("ready", flush=True)
staged = stage_restore(archive, target=target, key=key, workdir_root=work)
swap_in(staged.path, target, key=key)
print("done", flush=True)
"""

REKEY_CHILD = """
import sys
from pathlib import Path
from peregrine.storage.rekey import rekey
print("ready", flush=True)
rekey(Path(sys.argv[1]), old_key=bytes.fromhex(sys.argv[2]), new_key=bytes.fromhex(sys.argv[3]))
print("done", flush=True)
"""


def _bulk(path: Path, *, key: bytes | None, tag: str, rows: int) -> None:
    make_user_db(path, key=key, jobs=1, tag=tag)
    db = UserDB.open(path, key=key)
    with db.write() as conn:
        conn.executemany(
            "INSERT INTO past_letters (title, body, created_at) VALUES (?, ?, 'x')",
            [(tag, os.urandom(600).hex()) for _ in range(rows)],
        )
    db.close()


def _run_once(args: list[str]) -> float:
    started = time.monotonic()
    proc = subprocess.run(args, capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr
    return time.monotonic() - started


def _kill_at_random(args: list[str], window: float) -> None:
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None
    assert proc.stdout.readline().strip() == "ready"
    time.sleep(random.uniform(0, window))
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    proc.stdout.close()


def _tag(path: Path, key: bytes) -> str:
    db = UserDB.open(path, key=key)
    try:
        assert db.execute("PRAGMA quick_check")[0][0] == "ok"
        return str(db.execute("SELECT full_name FROM profile")[0][0])
    finally:
        db.close()


def test_kill_9_at_any_moment_of_a_restore_leaves_the_old_or_the_new_database(
    tmp_path: Path,
) -> None:
    key = os.urandom(32)
    source = tmp_path / "backup-source.db"
    _bulk(source, key=None, tag="new", rows=3000)
    archive = tmp_path / "backup.zip"
    write_export(source, key=None, workdir_root=tmp_path / "work", out=archive)

    pristine = tmp_path / "pristine.db"
    _bulk(pristine, key=key, tag="old", rows=1500)
    target = tmp_path / "user" / "staging.db"
    target.parent.mkdir()
    args = [
        sys.executable,
        "-c",
        RESTORE_CHILD,
        str(archive),
        str(target),
        str(tmp_path / "w"),
        key.hex(),
    ]

    shutil.copyfile(pristine, target)
    duration = _run_once(args)
    assert _tag(target, key) == "Alice new"

    outcomes: dict[str, int] = {}
    for _ in range(10):
        for side in target.parent.iterdir():
            side.unlink()
        shutil.copyfile(pristine, target)
        _kill_at_random(args, duration)
        recover_after_crash(target)
        # The killed restore's staging file is gone (its owner is dead), sidecars too.
        assert not [p for p in target.parent.iterdir() if ".restore-new" in p.name]
        tag = _tag(target, key)
        assert tag in ("Alice old", "Alice new")
        outcomes[tag] = outcomes.get(tag, 0) + 1
    print("restore kill outcomes", outcomes)
    # Both outcomes are legitimate; the point is that nothing else ever is.
    assert sum(outcomes.values()) == 10


def test_kill_9_during_rekey_leaves_a_database_that_one_of_the_keys_opens(
    tmp_path: Path,
) -> None:
    old, new = os.urandom(32), os.urandom(32)
    pristine = tmp_path / "pristine.db"
    _bulk(pristine, key=old, tag="alice", rows=3000)
    path = tmp_path / "alice.db"
    shutil.copyfile(pristine, path)
    args = [sys.executable, "-c", REKEY_CHILD, str(path), old.hex(), new.hex()]
    duration = _run_once(args)
    assert which_key(path, [old, new]) == 1

    seen: set[int] = set()
    for _ in range(10):
        for side in tmp_path.glob("alice.db*"):
            side.unlink()
        shutil.copyfile(pristine, path)
        _kill_at_random(args, duration)
        # The worst order: try the new key first on a file that may hold a hot journal.
        found = which_key(path, [new, old])
        assert found is not None
        seen.add(found)
        print("rekey kill outcome", found)
        assert _tag(path, [new, old][found]) == "Alice alice"
        db = UserDB.open(path, key=[new, old][found])
        assert db.execute("SELECT count(*) FROM past_letters")[0][0] == 3000
        db.close()


EXPORT_CHILD = """
import resource, signal, sys
from pathlib import Path
from peregrine.storage.backup import BackupError, owner_tag
from peregrine.storage.backup_export import write_export
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
limit = int(sys.argv[4])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
try:
    write_export(Path(sys.argv[1]), key=bytes.fromhex(sys.argv[2]), workdir_root=Path(sys.argv[3]),
                 out=Path(sys.argv[5]))
except Exception as exc:
    print(type(exc).__name__, exc, flush=True)
    sys.exit(3)
"""


def _no_plaintext_left(work: Path, out: Path) -> None:
    leftovers = list(work.rglob("*")) if work.exists() else []
    assert leftovers == []
    assert not out.exists()
    assert not list(out.parent.glob(f".{out.name}.partial"))


@pytest.mark.parametrize("stage", ["snapshot", "zip"])
def test_a_write_failure_during_export_leaves_no_decrypted_data(tmp_path: Path, stage: str) -> None:
    key = os.urandom(32)
    source = tmp_path / "cloud" / "staging.db"
    _bulk(source, key=key, tag="alice", rows=1500)
    size = source.stat().st_size
    # RLIMIT_FSIZE caps each file: below the database size the snapshot fails; above it
    # (the zip holds incompressible data twice over) the archive write fails.
    limit = size // 2 if stage == "snapshot" else int(size * 1.2)
    work, out = tmp_path / "work", tmp_path / "out" / "backup.zip"
    out.parent.mkdir()
    proc = subprocess.run(
        [
            sys.executable,
            "-c",
            EXPORT_CHILD,
            str(source),
            key.hex(),
            str(work),
            str(limit),
            str(out),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 3, proc.stdout + proc.stderr
    assert "BackupError" in proc.stdout
    _no_plaintext_left(work, out)


def _mount_tmpfs(where: Path, size: str) -> bool:
    if os.geteuid() != 0 or shutil.which("mount") is None:
        return False
    where.mkdir()
    proc = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(where)],
        capture_output=True,
        check=False,
    )
    return proc.returncode == 0


def test_a_full_disk_during_export_leaves_no_decrypted_data(tmp_path: Path) -> None:
    key = os.urandom(32)
    source = tmp_path / "cloud" / "staging.db"
    _bulk(source, key=key, tag="alice", rows=1500)
    small = tmp_path / "small"
    if not _mount_tmpfs(small, "1m"):
        pytest.skip("cannot mount a tmpfs here (needs root); the RLIMIT_FSIZE test covers it")
    try:
        work, out = small / "work", small / "backup.zip"
        with pytest.raises(BackupError, match=r"No space left|cannot"):
            write_export(source, key=key, workdir_root=work, out=out)
        _no_plaintext_left(work, out)
        assert sum(p.stat().st_size for p in small.rglob("*") if p.is_file()) == 0
    finally:
        subprocess.run(["umount", str(small)], check=False)
    assert resource.getrlimit(resource.RLIMIT_FSIZE)  # the parent was never limited


def test_recovery_leaves_a_running_restores_staging_file_alone(tmp_path: Path) -> None:
    target = tmp_path / "staging.db"
    target.write_bytes(b"the user's database")
    running = staged_path(target)  # this process: a restore still in progress
    running.write_bytes(b"half written")
    dead = target.with_name(
        f"{target.name}.restore-new-{owner_tag().split('.')[0]}.999999999.ab12.ff"
    )
    untagged = target.with_name(f"{target.name}.restore-new-0123456789ab")
    elsewhere = target.with_name(f"{target.name}.restore-new-otherhost.12.cd34.ee")
    stale_elsewhere = target.with_name(f"{target.name}.restore-new-otherhost.13.cd34.ee")
    for path in (dead, untagged, elsewhere, stale_elsewhere):
        path.write_bytes(b"left over")
        Path(f"{path}-journal").write_bytes(b"side file")
    three_hours_ago = time.time() - 3 * 3600
    os.utime(stale_elsewhere, (three_hours_ago, three_hours_ago))

    recover_after_crash(target)

    left = sorted(p.name for p in tmp_path.iterdir())
    assert left == sorted([target.name, running.name, elsewhere.name, f"{elsewhere.name}-journal"])
    assert target.read_bytes() == b"the user's database"
