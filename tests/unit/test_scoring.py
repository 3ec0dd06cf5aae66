"""Match scoring: skills and gaps, word-based seniority, location, salary, weights."""

from __future__ import annotations

import json
from datetime import date

import pytest

from peregrine.lib.clock import now_iso
from peregrine.services import scoring
from peregrine.services.scoring import ScoringContext, ScoringError, parse_weights, score_job
from peregrine.services.titles import seniority, tokenise
from peregrine.storage.queries import jobs as job_q
from peregrine.storage.queries import preferences as pref_q
from peregrine.storage.queries import profile as profile_q
from peregrine.storage.queries.discovery import ScoringRow
from peregrine.storage.userdb import UserDB

TODAY = date(2026, 11, 27)


def _row(title: str, description: str = "", **extra: object) -> ScoringRow:
    data: dict[str, object] = {
        "id": 1, "title": title, "company": "Acme", "location": "", "work_mode": "unknown",
        "description": description, "salary_annual_min": None, "salary_annual_max": None,
        "date_posted": None, "date_found": "2026-11-27T00:00:00Z",
    }  # fmt: skip
    data.update(extra)
    return ScoringRow(**data)  # type: ignore[arg-type]


def test_the_tokeniser_keeps_programming_terms_whole() -> None:
    tokens = tokenise("C++, C#, .NET, Node.js and CI/CD; TCP/IP. F# too.")
    for term in ("c++", "c#", ".net", "node.js", "ci/cd", "tcp/ip", "f#"):
        assert term in tokens


def test_seniority_is_read_from_words_not_substrings() -> None:
    assert seniority(tokenise("Director of Engineering")) == (5, "director")
    assert seniority(tokenise("CTO")) == (7, "executive")
    assert seniority(tokenise("Engineer, Internal Tools")) is None  # not "intern"
    assert seniority(tokenise("Software Engineering Intern")) == (0, "intern")
    assert seniority(tokenise("Software Engineer III")) == (3, "senior")


def test_a_director_role_is_not_a_fit_for_someone_seeking_cto() -> None:
    ctx = ScoringContext.build(skills=[], titles=["CTO"], today=TODAY)
    director = score_job(ctx, _row("Director of Engineering"))
    cto = score_job(ctx, _row("CTO"))
    assert director.explanation["seniority"]["score"] == 0.0
    assert cto.explanation["seniority"]["score"] == 1.0
    assert cto.score > director.score


def test_matched_skills_and_gaps_are_listed() -> None:
    ctx = ScoringContext.build(
        skills=["Python", "C++", "Node.js", "CI/CD", "Machine Learning"], today=TODAY
    )
    result = score_job(
        ctx,
        _row(
            "Backend Engineer",
            "Python, C++ and Node.js services; CI/CD on Kubernetes; some Rust. Catalogue.",
        ),
    )
    skills = result.explanation["skills"]
    assert skills["matched"] == ["python", "c++", "node.js", "ci/cd"]
    assert set(skills["missing"]) == {"kubernetes", "rust"}
    assert result.gaps == sorted(skills["missing"])
    assert "machine learning" not in skills["matched"]


def test_skills_are_not_found_inside_other_words() -> None:
    ctx = ScoringContext.build(skills=["Go", "R", "Java"], today=TODAY)
    result = score_job(ctx, _row("Engineer", "Google JavaScript Ruby; cargo and Rwanda"))
    assert result.explanation["skills"]["matched"] == []


def test_remote_preference_and_salary_floor_shape_the_score() -> None:
    ctx = ScoringContext.build(
        skills=["python"], remote_preference="remote", salary_floor=120_000, today=TODAY
    )
    remote_rich = score_job(
        ctx, _row("Engineer", "python", work_mode="remote", salary_annual_max=150_000)
    )
    onsite_poor = score_job(
        ctx, _row("Engineer", "python", work_mode="onsite", salary_annual_max=60_000)
    )
    assert remote_rich.explanation["location"]["score"] == 1.0
    assert onsite_poor.explanation["location"]["score"] == 0.0
    assert onsite_poor.explanation["salary"]["reason"] == "below your floor"
    assert remote_rich.score > onsite_poor.score
    assert 0 <= onsite_poor.score <= remote_rich.score <= 100


def test_freshness_falls_with_age() -> None:
    ctx = ScoringContext.build(skills=[], today=TODAY)
    new = score_job(ctx, _row("x", date_posted="2026-11-27"))
    old = score_job(ctx, _row("x", date_posted="2026-09-01"))
    assert new.explanation["freshness"]["score"] == 1.0
    assert old.explanation["freshness"]["score"] == 0.0


def test_weights_are_configurable_and_validated() -> None:
    assert parse_weights({"skills": 100})["skills"] == 100.0
    with pytest.raises(ScoringError, match="unknown scoring weight"):
        parse_weights({"vibes": 3})
    with pytest.raises(ScoringError, match="number from 0 to 1000"):
        parse_weights({"skills": "lots"})
    with pytest.raises(ScoringError, match="above 0"):
        parse_weights(dict.fromkeys(scoring.DEFAULT_WEIGHTS, 0))
    only_skills = ScoringContext.build(
        skills=["python"], weights={**dict.fromkeys(scoring.DEFAULT_WEIGHTS, 0.0), "skills": 1.0}
    )
    assert score_job(only_skills, _row("x", "python")).score == 100.0


def test_score_jobs_stores_score_explanation_and_gaps(db: UserDB) -> None:
    with db.write() as conn:
        profile_q.add_resume(
            conn, structured={"skills": ["Python", "SQL"]}, raw_text="", filename="", now=now_iso()
        )
        profile_q.save_search_profile(
            conn,
            profile=profile_q.SearchProfile(name="main", titles=["Data Engineer"]),
            now=now_iso(),
        )
        pref_q.set_preference(conn, key="scoring_weights", value={"freshness": 0})
        job_q.upsert_jobs(
            conn,
            jobs=[
                job_q.NewJob(
                    title="Senior Data Engineer",
                    url="https://x.example.org/1",
                    description="Python, SQL and Spark",
                )
            ],
            now=now_iso(),
        )
    summary = scoring.score_jobs(db)
    assert summary.scored == 1
    with db.read() as conn:
        row = conn.execute(
            "SELECT match_score, match_explanation, keyword_gaps FROM jobs"
        ).fetchone()
    explanation = json.loads(row[1])
    assert row[0] == explanation["score"]
    assert explanation["skills"]["matched"] == ["python", "sql"]
    assert json.loads(row[2]) == ["spark"]
    assert explanation["weights"]["freshness"] == 0.0
    assert explanation["title"]["best_match"] == "Data Engineer"
