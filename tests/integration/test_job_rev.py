"""Migration 0002: every change to a job, by any writer, gives it a new revision mark."""

from __future__ import annotations

from peregrine.lib.clock import now_iso
from peregrine.storage.queries import jobs as job_q
from peregrine.storage.userdb import UserDB
from tests.integration.web_helpers import add_jobs


def _rev(db: UserDB, job_id: int) -> int:
    return int(db.execute("SELECT rev FROM jobs WHERE id = ?", (job_id,))[0][0])


def test_every_kind_of_change_gives_a_job_a_new_rev(db: UserDB) -> None:
    [job_id] = add_jobs(db, 1)
    seen = {_rev(db, job_id)}
    changes = [
        "UPDATE jobs SET description = 'raw SQL, no updated_at' WHERE id = :id",
        "UPDATE jobs SET status = 'approved' WHERE id = :id",
        "UPDATE jobs SET flags = '[\"already_applied\"]' WHERE id = :id",
        "INSERT INTO job_sources (job_id, source, url, found_at) "
        "VALUES (:id, 'feed', 'https://feed.example.org/1', '2026-11-27')",
        "UPDATE job_sources SET source = 'indeed' WHERE job_id = :id AND source = 'feed'",
        "DELETE FROM job_sources WHERE job_id = :id AND source = 'indeed'",
    ]
    marks = {_changes(db)}
    for sql in changes:
        with db.write() as conn:
            conn.execute(sql, {"id": job_id})
        rev = _rev(db, job_id)
        assert rev not in seen, sql
        seen.add(rev)
        assert _changes(db) not in marks, sql
        marks.add(_changes(db))
    with db.write() as conn:
        job_q.delete_job(conn, job_id=job_id)
    assert _changes(db) not in marks


def _changes(db: UserDB) -> int | None:
    with db.read() as conn:
        return job_q.changes_mark(conn)


def test_a_reused_id_never_brings_back_an_old_rev(db: UserDB) -> None:
    [first] = add_jobs(db, 1, title="Gone soon")
    old = _rev(db, first)
    with db.write() as conn:
        job_q.delete_job(conn, job_id=first)
    [second] = add_jobs(db, 1, title="Newcomer")
    assert second == first  # SQLite hands the highest id out again after a delete
    assert _rev(db, second) != old


def test_page_marks_list_the_page_in_order_with_their_revs(db: UserDB) -> None:
    ids = add_jobs(db, 3)
    with db.write() as conn:
        for n, job_id in enumerate(ids):
            job_q.set_score(
                conn, job_id=job_id, score=50 + n, explanation={}, gaps=[], now=now_iso()
            )
    with db.read() as conn:
        marks, total = job_q.page_marks(conn, sort="score", limit=2)
        jobs = job_q.jobs_by_ids(conn, ids=[m.id for m in marks])
    assert total == 3
    assert [m.id for m in marks] == [ids[2], ids[1]]
    assert [m.rev for m in marks] == [_rev(db, ids[2]), _rev(db, ids[1])]
    assert sorted(jobs) == sorted([ids[2], ids[1]])


def test_distinct_sources_lists_each_source_once_in_order(db: UserDB) -> None:
    with db.read() as conn:
        assert job_q.distinct_sources(conn) == []
    add_jobs(db, 2, source="indeed")
    add_jobs(db, 1, source="feed", title="From a feed")
    with db.read() as conn:
        assert job_q.distinct_sources(conn) == ["feed", "indeed"]
