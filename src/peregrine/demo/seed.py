"""Seeding and resetting the demo folder, and recognising a demo database.

The seed is built in a temporary file beside the target and moved into place with one
rename, so a visitor's sandbox copy never sees a half-written seed, and a failed build
leaves the previous seed untouched.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from peregrine.demo.generate import DEMO_MARKER_KEY, SeedSummary, fill
from peregrine.storage.queries import preferences as pref_q
from peregrine.storage.userdb import StorageError, UserDB, connect

SANDBOX_DIRNAME = "sandboxes"


class DemoSeedError(StorageError):
    """The demo folder cannot be seeded as asked; nothing was changed."""


@dataclass(frozen=True)
class SeedPlan:
    seed_path: Path
    replaces_seed: bool
    sandboxes_removed: int


def is_demo_database(path: Path) -> bool:
    """True when the file is a Peregrine database carrying the demo marker."""
    conn = connect(path, key=None, create=False)
    try:
        has_prefs = conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'preferences'"
        ).fetchone()
        if not has_prefs:
            return False
        return pref_q.get_preference(conn, key=DEMO_MARKER_KEY) is not None
    finally:
        conn.close()


def check_seeded(seed_path: Path) -> None:
    """Refuse to serve the demo from a folder that holds no demo seed (or real data)."""
    if not seed_path.exists():
        raise DemoSeedError(
            f"the demo folder has no seed ({seed_path} is missing); run `peregrine demo seed`"
        )
    if not is_demo_database(seed_path):
        raise DemoSeedError(
            f"{seed_path} is not a demo database; demo mode serves only seeded demo data "
            "(point PEREGRINE_DATA_DIR at an empty folder and run `peregrine demo seed`)"
        )


def plan(seed_path: Path, *, reset: bool) -> SeedPlan:
    """Check what seeding would do, refusing anything that could touch real data."""
    exists = seed_path.exists()
    if exists and not is_demo_database(seed_path):
        raise DemoSeedError(
            f"{seed_path} holds a database that is not the demo; refusing to overwrite it "
            "(demo data must never mix with real data)"
        )
    if exists and not reset:
        raise DemoSeedError(
            f"the demo is already seeded at {seed_path}; use `peregrine demo reset` to rebuild it"
        )
    if not exists and reset:
        raise DemoSeedError(f"there is no demo seed at {seed_path}; use `peregrine demo seed`")
    sandboxes = sandbox_root(seed_path)
    count = sum(1 for p in sandboxes.iterdir() if p.is_dir()) if sandboxes.is_dir() else 0
    return SeedPlan(seed_path, replaces_seed=exists, sandboxes_removed=count if reset else 0)


def sandbox_root(seed_path: Path) -> Path:
    return seed_path.parent / SANDBOX_DIRNAME


def build_seed(seed_path: Path, *, today: date, reset: bool = False) -> SeedSummary:
    """Build the demo database and move it into place; on reset, drop every sandbox."""
    plan(seed_path, reset=reset)
    seed_path.parent.mkdir(parents=True, exist_ok=True)
    building = seed_path.with_name(f".{seed_path.name}.building-{os.getpid()}")
    _remove_database(building)
    try:
        db = UserDB.open(building, create=True)
        try:
            with db.write() as conn:
                summary = fill(conn, today=today)
        finally:
            db.close()
        # Closing the last connection checkpoints the WAL into the main file, so the one
        # file is the whole database; make sure before it is copied for visitors.
        for suffix in ("-wal", "-shm"):
            if Path(f"{building}{suffix}").exists():
                conn = connect(building, key=None, create=False)
                conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
                conn.close()
        # A stale WAL beside the old seed would be replayed into the new one.
        _remove_database_sidecars(seed_path)
        os.replace(building, seed_path)
    finally:
        _remove_database(building)
    if reset:
        shutil.rmtree(sandbox_root(seed_path), ignore_errors=True)
    return summary


def _remove_database_sidecars(path: Path) -> None:
    for suffix in ("-wal", "-shm"):
        with contextlib.suppress(FileNotFoundError):
            Path(f"{path}{suffix}").unlink()


def _remove_database(path: Path) -> None:
    for candidate in (path, Path(f"{path}-wal"), Path(f"{path}-shm")):
        with contextlib.suppress(FileNotFoundError):
            candidate.unlink()
