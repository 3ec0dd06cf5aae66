"""Migration 0003: a job discovery finds is written once, and marks still change whenever
what a card shows changes."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from peregrine.lib.clock import now_iso
from peregrine.services.dedupe import Filters, store_listings
from peregrine.services.normalise import read_listing, to_new_job
from peregrine.sources.base import RawListing
from peregrine.storage.backup_export import write_export
from peregrine.storage.backup_restore import stage_restore
from peregrine.storage.backup_swap import swap_in
from peregrine.storage.queries import jobs as job_q
from peregrine.storage.userdb import UserDB
from tests.integration.web_helpers import add_jobs


def _rev(db: UserDB, job_id: int) -> int:
    return int(db.execute("SELECT rev FROM jobs WHERE id = ?", (job_id,))[0][0])


def _mark(db: UserDB) -> int | None:
    with db.read() as conn:
        return job_q.changes_mark(conn)


def _listing(n: int, source: str = "greenhouse") -> RawListing:
    return RawListing(
        source=source, title=f"Platform Engineer {n}", url=f"https://jobs.example.org/{n}",
        company=f"Company {n}", location="Berlin", date_posted="2026-11-20",
        description=f"<p>Job {n}: Python &amp; SQL.</p><ul><li>Remote in the EU</li></ul>",
    )  # fmt: skip


def test_jobs_stored_by_discovery_are_never_rewritten(db: UserDB) -> None:
    jobs = [read_listing(_listing(n)) for n in range(20)]
    with db.write() as conn:
        # A temporary trigger sees every UPDATE of a job row, ours included.
        conn.execute("CREATE TEMP TABLE rewrites (id INTEGER)")
        conn.execute(
            "CREATE TEMP TRIGGER count_rewrites AFTER UPDATE ON main.jobs "
            "BEGIN INSERT INTO rewrites VALUES (NEW.id); END"
        )
        before = job_q.changes_mark(conn)
        stored = store_listings(conn, jobs=jobs, filters=Filters(), now=now_iso())
        assert stored.inserted == 20
        assert conn.execute("SELECT count(*) FROM rewrites").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM job_sources").fetchone()[0] == 20
        assert job_q.changes_mark(conn) != before
        revs = [r[0] for r in conn.execute("SELECT rev FROM jobs")]
        conn.execute("DROP TRIGGER temp.count_rewrites")
    assert 0 not in revs
    assert len(set(revs)) == 20


def test_other_writers_still_get_a_mark(db: UserDB) -> None:
    ids = add_jobs(db, 3)
    revs = {_rev(db, job_id) for job_id in ids}
    assert 0 not in revs
    assert len(revs) == 3


def _job_without_links(db: UserDB, url: str, source: str) -> int:
    """A job with no source link yet, as discovery's insert leaves it for a moment."""
    with db.write() as conn:
        job_id = conn.execute(
            "INSERT INTO jobs (title, url, source, date_found, updated_at) "
            "VALUES ('Engineer', ?, ?, '2026-11-27', '2026-11-27')",
            (url, source),
        ).lastrowid
    assert isinstance(job_id, int)
    return job_id


def _add_link(db: UserDB, job_id: int, source: str, url: str) -> None:
    with db.write() as conn:
        conn.execute(
            "INSERT INTO job_sources (job_id, source, url, found_at) "
            "VALUES (?, ?, ?, '2026-11-27')",
            (job_id, source, url),
        )


def test_a_source_link_changes_the_mark_only_when_the_card_changes(db: UserDB) -> None:
    job_id = _job_without_links(db, "https://jobs.example.org/no-link", "indeed")
    # The first link naming the job's own source: the card lists "indeed" before and after.
    rev, mark = _rev(db, job_id), _mark(db)
    _add_link(db, job_id, "indeed", "https://indeed.example.org/1")
    assert _rev(db, job_id) == rev
    assert _mark(db) != mark  # the source filter's list reads the links
    # Another source: the card gains it.
    rev, mark = _rev(db, job_id), _mark(db)
    _add_link(db, job_id, "feed", "https://feed.example.org/1")
    assert _rev(db, job_id) != rev
    assert _mark(db) != mark

    other = _job_without_links(db, "https://jobs.example.org/by-hand", "manual")
    rev = _rev(db, other)
    _add_link(db, other, "lever", "https://lever.example.org/1")
    # A first link naming another source replaces the card's "manual" with "lever".
    assert _rev(db, other) != rev
    # Now a link naming the job's own source: the card goes from "lever" to "lever, manual".
    rev = _rev(db, other)
    _add_link(db, other, "manual", "https://jobs.example.org/by-hand")
    assert _rev(db, other) != rev


def test_a_merged_duplicate_still_changes_its_jobs_mark(db: UserDB) -> None:
    first = to_new_job(_listing(1))
    with db.write() as conn:
        store_listings(conn, jobs=[first], filters=Filters(), now=now_iso())
    job_id = int(db.execute("SELECT id FROM jobs")[0][0])
    rev = _rev(db, job_id)
    twin = _listing(1, source="lever")
    twin.url = "https://jobs.lever.co/company1/abc"
    with db.write() as conn:
        stored = store_listings(conn, jobs=[read_listing(twin)], filters=Filters(), now=now_iso())
    assert stored.merged == 1
    assert _rev(db, job_id) != rev


def test_a_restore_gives_every_job_a_new_mark(db_path: Path, tmp_path: Path) -> None:
    db = UserDB.open(db_path, create=True)
    ids = add_jobs(db, 5)
    before = {job_id: _rev(db, job_id) for job_id in ids}
    db.close()
    archive = tmp_path / "backup.zip"
    write_export(db_path, key=None, workdir_root=tmp_path / "work", out=archive)
    target = tmp_path / "restored" / "staging.db"
    target.parent.mkdir()
    staged = stage_restore(archive, target=target, key=None, workdir_root=tmp_path / "work")
    swap_in(staged.path, target, key=None)
    conn = sqlite3.connect(target)
    after = dict(conn.execute("SELECT id, rev FROM jobs").fetchall())
    conn.close()
    assert sorted(after) == sorted(before)
    # A cache that saw the old rows must not take the restored ones for them.
    assert all(after[job_id] not in (0, before[job_id]) for job_id in before)
