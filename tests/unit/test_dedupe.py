"""Storing listings once each: filters, exact and cross-source duplicates, applied guard."""

from __future__ import annotations

import json

from peregrine.lib.clock import now_iso
from peregrine.services import pipeline
from peregrine.services.dedupe import Filters, same_role, store_listings
from peregrine.services.normalise import to_new_job
from peregrine.sources.base import RawListing
from peregrine.storage.queries import jobs as job_q
from peregrine.storage.queries import profile as profile_q
from peregrine.storage.userdb import UserDB


def _job(source: str, title: str, company: str, url: str, **extra: object) -> job_q.NewJob:
    return to_new_job(RawListing(source=source, title=title, company=company, url=url, **extra))  # type: ignore[arg-type]


def _store(db: UserDB, jobs: list[job_q.NewJob], filters: Filters | None = None):
    with db.write() as conn:
        return store_listings(conn, jobs=jobs, filters=filters or Filters(), now=now_iso())


def _rows(db: UserDB) -> list[dict[str, object]]:
    with db.read() as conn:
        return [dict(r) for r in conn.execute("SELECT * FROM jobs ORDER BY id")]


def test_cross_source_duplicates_merge_into_one_job_keeping_every_link(db: UserDB) -> None:
    report = _store(
        db,
        [
            _job("linkedin", "Sr. Backend Engineer", "Acme, Inc.",
                 "https://www.linkedin.com/jobs/view/4012345678", location="Austin, TX"),
            _job("greenhouse", "Senior Backend Engineer", "ACME Corporation",
                 "https://boards.greenhouse.io/acme/jobs/4012345", location="Austin, Texas, US",
                 description="Python and Go."),
            _job("indeed", "Senior Backend Engineer", "Acme",
                 "https://www.indeed.com/viewjob?jk=abcdef0123456789", location="Boston, MA"),
        ],
    )  # fmt: skip
    assert (report.inserted, report.merged) == (2, 1)
    rows = _rows(db)
    assert len(rows) == 2
    with db.read() as conn:
        links = job_q.source_links(conn, job_id=int(rows[0]["id"]))  # type: ignore[arg-type]
    assert {link["source"] for link in links} == {"linkedin", "greenhouse"}
    assert rows[0]["description"] == "Python and Go."  # the merge filled what was missing


def test_seniority_and_different_roles_are_not_merged() -> None:
    assert same_role("senior backend engineer", "sr backend engineer")
    assert not same_role("senior backend engineer", "backend engineer")
    assert not same_role("director of engineering", "cto")
    assert not same_role("backend engineer", "frontend engineer")
    assert not same_role("engineering intern", "engineer internal tools")


def test_exact_duplicates_by_canonical_url_are_counted_once(db: UserDB) -> None:
    first = _job("feeds", "Engineer", "Acme", "https://x.example.org/j/1?utm_source=rss")
    again = _job("adzuna", "Engineer", "Acme", "https://x.example.org/j/1?gclid=abc")
    report = _store(db, [first, again])
    assert (report.inserted, report.exact_duplicates) == (1, 1)
    report = _store(db, [first])
    assert (report.inserted, report.exact_duplicates) == (0, 1)
    assert len(_rows(db)) == 1


def test_a_repost_of_a_job_already_applied_to_is_flagged_not_silent(db: UserDB) -> None:
    _store(
        db,
        [_job("lever", "Staff Data Engineer", "Globex", "https://jobs.lever.co/globex/1",
              location="New York, NY")],
    )  # fmt: skip
    applied_id = int(_rows(db)[0]["id"])  # type: ignore[arg-type]
    pipeline.move(db, job_id=applied_id, to_status="approved")
    pipeline.move(db, job_id=applied_id, to_status="applied")
    report = _store(
        db, [_job("linkedin", "Staff Data Engineer", "Globex LLC",
                  "https://www.linkedin.com/jobs/view/4099999999", location="Remote, Canada")]
    )  # fmt: skip
    assert (report.inserted, report.already_applied, report.merged) == (1, 1, 0)
    repost = _rows(db)[1]
    assert json.loads(str(repost["flags"])) == ["already_applied"]
    assert repost["applied_match_id"] == applied_id


def test_exclude_keywords_match_whole_words_only(db: UserDB) -> None:
    with db.write() as conn:
        profile_q.replace_keywords(conn, entries={"exclude": ["intern", "cat"]})
        filters = Filters.load(conn, profile=None)
    report = _store(
        db,
        [
            _job("x", "Software Engineering Intern", "Acme", "https://x.example.org/1"),
            _job("x", "Engineer, Internal Tools", "Acme", "https://x.example.org/2"),
            _job("x", "Location Data Analyst", "Acme", "https://x.example.org/3"),
            _job("x", "Cat Behaviourist", "Petco", "https://x.example.org/4"),
        ],
        filters,
    )
    assert report.filtered["excluded_keyword"] == 2
    assert {r["title"] for r in _rows(db)} == {"Engineer, Internal Tools", "Location Data Analyst"}


def test_salary_floor_drops_low_pay_and_keeps_unknown_flagged(db: UserDB) -> None:
    profile = profile_q.SearchProfile(name="main", salary_floor=100_000)
    with db.write() as conn:
        filters = Filters.load(conn, profile=profile)
    report = _store(
        db,
        [
            _job("x", "Low", "A", "https://x.example.org/1", salary_text="$20/hr"),
            _job("x", "Unknown", "B", "https://x.example.org/2"),
            _job("x", "Good", "C", "https://x.example.org/3", salary_text="$55/hr"),  # ≈ 114,400
        ],
        filters,
    )
    assert report.filtered["below_salary_floor"] == 1  # $20/hr ≈ 41,600 a year
    flags = {r["title"]: json.loads(str(r["flags"])) for r in _rows(db)}
    assert flags == {"Unknown": ["salary_unknown"], "Good": []}


def test_blocklist_drops_companies_and_locations(db: UserDB) -> None:
    with db.write() as conn:
        profile_q.replace_blocklist(
            conn, entries={"company": ["Initech Inc."], "location": ["Ohio"], "industry": []}
        )
        filters = Filters.load(conn, profile=None)
    report = _store(
        db,
        [
            _job("x", "Engineer", "INITECH", "https://x.example.org/1"),
            _job("x", "Engineer", "Acme", "https://x.example.org/2", location="Columbus, Ohio"),
            _job("x", "Engineer", "Acme", "https://x.example.org/3", location="Idaho"),
        ],
        filters,
    )
    assert report.filtered == {"blocked_company": 1, "blocked_location": 1}
    assert [r["location"] for r in _rows(db)] == ["Idaho"]


def test_a_later_duplicate_fills_only_a_stored_job_without_description(db: UserDB) -> None:
    _store(
        db,
        [
            _job("linkedin", "Sr. Backend Engineer", "Acme, Inc.",
                 "https://www.linkedin.com/jobs/view/1", location="Austin, TX"),
            _job("linkedin", "Data Analyst", "Acme, Inc.",
                 "https://www.linkedin.com/jobs/view/2", location="Austin, TX",
                 description="Spreadsheets."),
            _job("linkedin", "Senior Data Analyst", "Acme, Inc.",
                 "https://www.linkedin.com/jobs/view/3", location="Austin, TX",
                 description="Dashboards."),
        ],
    )  # fmt: skip
    report = _store(
        db,
        [
            _job("greenhouse", "Senior Backend Engineer", "ACME Corporation",
                 "https://boards.greenhouse.io/acme/jobs/1", location="Austin, Texas, US",
                 description="Python and Go."),
            _job("greenhouse", "Data Analyst", "ACME Corporation",
                 "https://boards.greenhouse.io/acme/jobs/2", location="Austin, Texas, US",
                 description="Other words."),
        ],
    )  # fmt: skip
    assert (report.inserted, report.merged) == (0, 2)
    rows = {r["url"]: r for r in _rows(db)}
    assert rows["https://www.linkedin.com/jobs/view/1"]["description"] == "Python and Go."
    assert rows["https://www.linkedin.com/jobs/view/2"]["description"] == "Spreadsheets."
    assert rows["https://www.linkedin.com/jobs/view/3"]["description"] == "Dashboards."
    assert report.touched_ids == {rows["https://www.linkedin.com/jobs/view/1"]["id"]}
