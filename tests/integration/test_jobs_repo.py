"""Storing, merging, filtering and sorting jobs."""

from __future__ import annotations

import pytest

from peregrine.lib.clock import now_iso
from peregrine.services import jobs as job_service
from peregrine.storage.queries import jobs as job_q
from peregrine.storage.userdb import UserDB


def store(db: UserDB, *jobs: job_q.NewJob) -> job_q.UpsertResult:
    with db.write() as conn:
        return job_q.upsert_jobs(conn, jobs=jobs, now=now_iso())


def test_a_repeat_url_merges_and_keeps_every_source(db: UserDB) -> None:
    first = job_q.NewJob(
        title="Data Engineer", url="https://x.example/1", company="Acme", source="indeed"
    )
    again = job_q.NewJob(
        title="Data Engineer (repost)",
        url="https://x.example/1",
        company="Acme",
        source="linkedin",
        description="Now with text",
        location="Berlin",
    )
    assert store(db, first) == job_q.UpsertResult(inserted=1, updated=0)
    assert store(db, again) == job_q.UpsertResult(inserted=0, updated=1)
    with db.read() as conn:
        jobs, total = job_q.list_jobs(conn)
    assert total == 1
    job = jobs[0]
    assert job.title == "Data Engineer"  # what we had is never overwritten
    assert job.description == "Now with text"  # what we lacked is filled in
    assert job.location == "Berlin"
    assert job.sources == ["indeed", "linkedin"]


def test_filters_and_paging(db: UserDB) -> None:
    store(
        db,
        *[
            job_q.NewJob(
                title=f"Role {i}",
                url=f"https://x.example/{i}",
                company=f"Co{i % 3}",
                work_mode="remote" if i % 2 else "onsite",
                source="feed" if i < 5 else "csv",
                description="Python and SQL" if i % 4 == 0 else "Java",
            )
            for i in range(10)
        ],
    )
    with db.write() as conn:
        for i, (job_id,) in enumerate(conn.execute("SELECT id FROM jobs ORDER BY id")):
            job_q.set_score(conn, job_id=job_id, score=i * 10, explanation={}, gaps=[], now="x")
    with db.read() as conn:
        remote, total = job_q.list_jobs(conn, flt=job_q.JobFilter(remote_only=True))
        assert total == 5
        assert all(j.work_mode == "remote" for j in remote)
        _, total = job_q.list_jobs(conn, flt=job_q.JobFilter(source="feed"))
        assert total == 5
        high, total = job_q.list_jobs(conn, flt=job_q.JobFilter(min_score=70))
        assert total == 3
        assert [j.match_score for j in high] == [90, 80, 70]
        _, total = job_q.list_jobs(conn, flt=job_q.JobFilter(text="python"))
        assert total == 3
        page, total = job_q.list_jobs(conn, limit=4, offset=8)
        assert (len(page), total) == (2, 10)
        _, total = job_q.list_jobs(conn, flt=job_q.JobFilter(text="100%_"))
        assert total == 0


@pytest.mark.parametrize("sort", list(job_q.SORT_ORDERS))
def test_every_sort_order_runs(db: UserDB, sort: str) -> None:
    store(
        db,
        job_q.NewJob(title="B", url="https://x.example/b", company="Zeta"),
        job_q.NewJob(title="A", url="https://x.example/a", company="Alpha"),
    )
    with db.read() as conn:
        jobs, _ = job_q.list_jobs(conn, sort=sort)
    assert len(jobs) == 2
    if sort == "company":
        assert [j.company for j in jobs] == ["Alpha", "Zeta"]
    if sort == "title":
        assert [j.title for j in jobs] == ["A", "B"]


def test_unknown_sort_is_refused(db: UserDB) -> None:
    with db.read() as conn, pytest.raises(ValueError, match="unknown sort"):
        job_q.list_jobs(conn, sort="random")


def test_counts_by_status(db: UserDB) -> None:
    store(db, job_q.NewJob(title="A", url="https://x.example/a"))
    with db.read() as conn:
        assert job_q.counts_by_status(conn) == {"pending": 1}


def test_csv_import_reports_every_bad_row_with_its_line() -> None:
    data = (
        b"title,url,company,date_posted\n"
        b"Good,https://a.example/1,A,2026-01-05\n"
        b",https://a.example/2,B,\n"
        b"Bad URL,notaurl,C,\n"
        b"Bad date,https://a.example/3,D,yesterday\n"
        b"Good again,https://a.example/1?utm_source=x,A,\n"
    )
    parsed = job_service.parse_csv(data)
    assert parsed.errors == [
        "line 3: the title is empty",
        "line 4: invalid URL: only http and https links are accepted, not 'notaurl'",
        "line 5: date must look like 2026-01-31, got 'yesterday'",
    ]
    assert len(parsed.jobs) == 2
    assert parsed.duplicates_in_file == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty"),
        (b"\xff\xfe\x00bad", "not UTF-8"),
        (b"name,link2\nx,y\n", "header needs columns title, url"),
        (b'title,url\n"unterminated,https://a.example\n', "line"),
    ],
)
def test_csv_import_refuses_malformed_files(data: bytes, message: str) -> None:
    parsed = job_service.parse_csv(data)
    assert parsed.errors
    assert message in parsed.errors[0]


def test_csv_import_stores_all_rows_in_one_transaction(db: UserDB) -> None:
    parsed = job_service.parse_csv(b"title,url\nA,https://a.example/1\nB,https://a.example/2\n")
    summary = job_service.store_imported(db, parsed.jobs)
    assert (summary.inserted, summary.merged) == (2, 0)
    summary = job_service.store_imported(db, parsed.jobs)
    assert (summary.inserted, summary.merged) == (0, 2)


def test_best_match_puts_unscored_jobs_last_and_sorts_by_the_index(db: UserDB) -> None:
    store(db, *[job_q.NewJob(title=f"R{i}", url=f"https://x.example/{i}") for i in range(4)])
    with db.write() as conn:
        # Jobs 1 and 3 scored, 2 and 4 not: unscored go last, newest first among them.
        for job_id, score in ((1, 40.0), (3, 75.5)):
            job_q.set_score(conn, job_id=job_id, score=score, explanation={}, gaps=[], now="x")
    with db.read() as conn:
        jobs, _ = job_q.list_jobs(conn, flt=job_q.JobFilter(statuses=("pending",)))
        plan = " ".join(
            r[3]
            for r in conn.execute(
                "EXPLAIN QUERY PLAN SELECT id FROM jobs WHERE status IN (?) "
                f"ORDER BY {job_q.SORT_ORDERS['score']} LIMIT 50",
                ["pending"],
            )
        )
    assert [j.id for j in jobs] == [3, 1, 4, 2]
    assert "jobs_status_score" in plan
    assert "TEMP B-TREE FOR ORDER BY" not in plan


def test_a_job_row_keeps_its_stored_explanation_gaps_and_flags(db: UserDB) -> None:
    store(db, job_q.NewJob(title="R", url="https://x.example/r"))
    with db.write() as conn:
        job_q.set_score(
            conn, job_id=1, score=5, explanation={"matched": ["sql"]}, gaps=["go"], now="x"
        )
        bare = job_q.list_jobs(conn)[0][0]
    assert bare.match_explanation == {"matched": ["sql"]}
    assert bare.keyword_gaps == ["go"]
    assert bare.flags == []
    assert bare.is_remote is False
    assert bare.sources == ["manual"]
