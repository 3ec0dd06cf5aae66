"""New jobs are scored as they are stored: the rows equal those of storing, then scoring.

The mix is the discovery benchmark's (several sources, cross-source duplicates with other
URLs and spellings, HTML and plain descriptions, text and structured salaries), smaller.
"""

from __future__ import annotations

import importlib.util
import random
from datetime import UTC, datetime
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from peregrine.lib.clock import now_iso
from peregrine.services import dedupe, discovery, normalise, scoring
from peregrine.services.dedupe import Filters, store_listings
from peregrine.sources.base import RawListing, SourceResult
from peregrine.storage.queries import jobs as job_q
from peregrine.storage.queries import profile as profile_q
from peregrine.storage.userdb import UserDB

BENCH = Path(__file__).parents[2] / "bench" / "discovery.py"
# Columns written at a different moment, or random marks: everything else must be equal.
VOLATILE = {"id", "updated_at", "date_found", "rev", "applied_match_id"}


def _bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("discovery_bench", BENCH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def listings() -> list[RawListing]:
    bench = _bench()
    bench.N = 1_500  # type: ignore[attr-defined]
    result: list[RawListing] = bench.make_listings(random.Random(7))
    return result


def _profile() -> profile_q.SearchProfile:
    return profile_q.SearchProfile(
        name="mix", titles=["Senior Python Engineer", "Staff Data Engineer"],
        locations=["Austin, TX", "Berlin"], exclude_keywords=["intern", "unpaid"],
        salary_floor=80_000, max_age_days=60,
    )  # fmt: skip


def _open(folder: Path, name: str) -> UserDB:
    db = UserDB.open(folder / name, create=True)
    with db.write() as conn:
        profile_q.add_resume(
            conn, structured={"skills": ["Python", "Go", "SQL", "machine learning"]},
            raw_text="", filename="", now=now_iso(),
        )  # fmt: skip
        profile_q.replace_keywords(conn, entries={"preferred": ["GitHub Actions"]})
        profile_q.save_search_profile(conn, profile=_profile(), now=now_iso())
    return db


def _batches(listings: list[RawListing]) -> list[SourceResult]:
    by_source: dict[str, list[RawListing]] = {}
    for raw in listings:
        by_source.setdefault(raw.source, []).append(raw)
    return [SourceResult(source=name, listings=raws) for name, raws in by_source.items()]


def _one_pass(db: UserDB, listings: list[RawListing]) -> discovery.DiscoveryReport:
    """What run_discovery does once the sources answered."""
    report = discovery.DiscoveryReport()
    today = datetime.now(UTC).date()
    scorer = discovery.load_scorer(db, profile_name=None)
    for result in _batches(listings):
        jobs = discovery.normalise_result(report, _profile(), result, today)
        discovery.store_jobs(db, report, _profile(), jobs, scorer=scorer)
    discovery.rescore_changed(db, report, [], profile_name=None)
    return report


def _two_pass(db: UserDB, listings: list[RawListing]) -> None:
    """Store every batch without scores, then score the new jobs from their stored rows."""
    report = discovery.DiscoveryReport()
    today = datetime.now(UTC).date()
    for result in _batches(listings):
        jobs = discovery.normalise_result(report, _profile(), result, today)
        with db.write() as conn:
            filters = Filters.load(conn, profile=_profile())
            stored = store_listings(conn, jobs=jobs, filters=filters, now=now_iso())
        report.new_ids.extend(stored.new_ids)
    scoring.score_jobs(db, job_ids=report.new_ids)


def _rows(db: UserDB) -> dict[str, dict[str, Any]]:
    with db.read() as conn:
        rows = [dict(r) for r in conn.execute("SELECT * FROM jobs")]
        urls = {r["id"]: r["url"] for r in rows}
        for row in rows:
            # Which job an applied match points at, by URL (ids may differ between runs).
            row["applied_match"] = urls.get(row["applied_match_id"])
        links = conn.execute(
            "SELECT j.url, s.source, s.url FROM job_sources s JOIN jobs j ON j.id = s.job_id"
        ).fetchall()
    out = {r["url"]: {k: v for k, v in r.items() if k not in VOLATILE} for r in rows}
    for job_url, source, url in links:
        out[job_url].setdefault("links", set()).add((source, url))
    return out


def test_scoring_while_storing_gives_the_rows_of_storing_then_scoring(
    tmp_path: Path, listings: list[RawListing]
) -> None:
    one, two = _open(tmp_path, "one.db"), _open(tmp_path, "two.db")
    report = _one_pass(one, listings)
    _two_pass(two, listings)
    expected, got = _rows(two), _rows(one)
    assert report.scored == report.inserted == len(got) > 500
    assert report.merged > 100
    assert set(got) == set(expected)
    for url, row in expected.items():
        assert row["match_score"] is not None
        assert got[url] == row, url
    one.close()
    two.close()


def _raw(source: str, url: str, description: str, **extra: Any) -> RawListing:
    return RawListing(
        source=source, title="Senior Python Engineer", url=url, company="Acme",
        location="Austin, TX", description=description, date_posted="2026-11-20", **extra,
    )  # fmt: skip


@pytest.mark.parametrize(
    "later",
    [
        # The same URL again from another source, now with a description and a salary.
        _raw(
            "feeds",
            "https://jobs.example.org/1",
            "Python, Go and SQL every day.",
            salary_text="$150k - $170k",
        ),
        # A cross-source duplicate (other URL) whose description the job lacked.
        _raw(
            "greenhouse",
            "https://boards.greenhouse.io/acme/jobs/9",
            "Python, Go and SQL every day.",
        ),
    ],
)
def test_a_job_a_later_source_fills_in_is_scored_again(tmp_path: Path, later: RawListing) -> None:
    first = _raw("linkedin", "https://jobs.example.org/1", "")
    one, two = _open(tmp_path, "one.db"), _open(tmp_path, "two.db")
    report = _one_pass(one, [first, later])
    _two_pass(two, [first, later])
    assert report.touched_ids
    rows = _rows(one)
    assert rows == _rows(two)
    job = rows["https://jobs.example.org/1"]
    assert "python" in job["match_explanation"]
    one.close()
    two.close()


def test_text_worked_on_after_de_duplication_gives_the_rows_of_working_on_all_first(
    tmp_path: Path, listings: list[RawListing], monkeypatch: pytest.MonkeyPatch
) -> None:
    worked: list[str] = []

    def counting(job: job_q.NewJob) -> job_q.NewJob:
        if job.raw_text:
            worked.append(job.url)
        return normalise.finish_text(job)

    later, first = _open(tmp_path, "later.db"), _open(tmp_path, "first.db")
    monkeypatch.setattr(dedupe, "finish_text", counting)
    report = _one_pass(later, listings)
    # The text of a listing that de-duplication merged or filtered out is never worked on;
    # each kept one is worked on once.
    assert len(worked) == len(set(worked))
    assert report.inserted <= len(worked) <= report.inserted + len(report.touched_ids)
    assert report.merged > 100
    assert len(worked) < report.received - report.merged
    monkeypatch.setattr(discovery, "read_listing", normalise.to_new_job)
    _one_pass(first, listings)
    assert _rows(later) == _rows(first)
    later.close()
    first.close()


def test_a_merged_duplicate_gives_its_job_the_description_as_text(tmp_path: Path) -> None:
    bare = _raw("linkedin", "https://jobs.example.org/1", "")
    html = _raw(
        "greenhouse",
        "https://boards.greenhouse.io/acme/jobs/9",
        "<div><p>Python &amp; Go.</p><script>track()</script><ul><li>Remote</li></ul></div>",
    )
    db = _open(tmp_path, "one.db")
    report = _one_pass(db, [bare, html])
    assert report.merged == 1
    [row] = _rows(db).values()
    assert row["description"] == "Python & Go.\nRemote"
    db.close()


def test_industries_are_blocked_by_the_text_not_by_its_markup(tmp_path: Path) -> None:
    db = _open(tmp_path, "one.db")
    with db.write() as conn:
        profile_q.replace_blocklist(conn, entries={"industry": ["gambling"]})
    listings = [
        _raw("greenhouse", "https://jobs.example.org/1",
             '<p class="gambling">A bank.</p>'),
        _raw("greenhouse", "https://jobs.example.org/2",
             "<p>We build online gambling &amp; betting apps.</p>"),
    ]  # fmt: skip
    listings[1].title = "Backend Developer"
    report = _one_pass(db, listings)
    assert report.filtered == {"blocked_industry": 1}
    assert list(_rows(db)) == ["https://jobs.example.org/1"]
    db.close()


def test_a_listing_whose_text_was_not_worked_on_is_never_stored(db: UserDB) -> None:
    raw = normalise.read_listing(_raw("feeds", "https://jobs.example.org/1", "<p>Hi</p>"))
    extras = job_q.NewJobExtras("acme", "python engineer", [])
    with db.write() as conn:
        with pytest.raises(ValueError, match="not normalised"):
            job_q.insert_new_jobs(conn, jobs=[(raw, extras)], now=now_iso())
        with pytest.raises(ValueError, match="not normalised"):
            job_q.upsert_jobs(conn, jobs=[raw], now=now_iso())
    assert db.execute("SELECT count(*) FROM jobs")[0][0] == 0
