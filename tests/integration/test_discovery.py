"""A whole discovery run against loopback replay servers and a real database."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from peregrine.lib.clock import now_iso
from peregrine.lib.http import HttpClient, allow_entries
from peregrine.services import discovery
from peregrine.services.discovery_tasks import discover_handler, enrich_handler, score_handler
from peregrine.sources.registry import SourceOptions
from peregrine.storage.queries import jobs as job_q
from peregrine.storage.queries import profile as profile_q
from peregrine.storage.userdb import UserDB
from tests.replay import ReplayServer, fixture, html_reply, json_reply, serve


@pytest.fixture
def replay() -> Iterator[ReplayServer]:
    routes = {
        "/gh/acmerobotics/jobs": json_reply("greenhouse_acme.json"),
        "/ashby/acmerobotics": json_reply("ashby_initech.json"),
        "/lever/acmerobotics": (500, {}, b"internal error"),
        "/rss": (200, {"Content-Type": "application/rss+xml"}, fixture("feed_rss.xml")),
    }
    with serve(routes) as server:
        yield server


def _setup(db: UserDB, replay: ReplayServer) -> None:
    with db.write() as conn:
        profile_q.save_search_profile(
            conn,
            profile=profile_q.SearchProfile(
                name="backend",
                titles=["Senior Backend Engineer"],
                locations=["Austin, TX"],
                sources=["greenhouse", "ashby", "lever", "monster", f"{replay.base}/rss"],
                watch_companies=["Acme Robotics"],
                exclude_keywords=["intern"],
                max_age_days=30,
            ),
            now=now_iso(),
        )
        profile_q.add_resume(
            conn, structured={"skills": ["Python", "Kubernetes"]}, raw_text="", filename="",
            now=now_iso(),
        )  # fmt: skip


def _options(replay: ReplayServer) -> SourceOptions:
    return SourceOptions(
        endpoints={
            "greenhouse": replay.base + "/gh/{token}/jobs",
            "ashby": replay.base + "/ashby/{token}",
            "lever": replay.base + "/lever/{token}",
        }
    )


def test_one_failing_source_does_not_stop_the_others(db: UserDB, replay: ReplayServer) -> None:
    _setup(db, replay)
    stages: list[str] = []
    with HttpClient(allow=allow_entries([replay.host_port]), sleep=lambda _s: None) as http:
        report = discovery.run_discovery(
            db,
            http=http,
            options=_options(replay),
            progress=lambda stage, _f: stages.append(stage),
        )
    health = {s.source: s.health for s in report.sources}
    assert health == {"greenhouse": "ok", "ashby": "ok", "lever": "error", "feeds": "ok"}
    assert any("lever" in e and "500" in e for e in report.errors)
    assert any("unknown source 'monster'" in e for e in report.errors)
    # Greenhouse and Ashby list the same Austin senior backend role: one job, two links.
    assert report.merged == 1
    assert report.filtered["excluded_keyword"] == 1  # "Engineering Intern"
    assert report.invalid >= 2  # entries without a title
    assert report.scored == report.inserted > 0
    assert stages[0] == "fetching"
    assert stages[-1] == "done"
    with db.read() as conn:
        found, _total = job_q.list_jobs(conn, sort="score")
    backend = next(j for j in found if j.title == "Senior Backend Engineer")
    assert set(backend.sources) == {"greenhouse", "ashby"}
    assert backend.match_score is not None
    assert "python" in backend.match_explanation["skills"]["matched"]
    json.dumps(report.as_dict())  # the task result must be JSON


def test_unknown_profile_or_source_gives_a_clear_error(db: UserDB) -> None:
    with pytest.raises(discovery.DiscoveryError, match="no enabled search profile"):
        discovery.run_discovery(db)
    with pytest.raises(discovery.DiscoveryError, match="no search profile named 'nope'"):
        discovery.run_discovery(db, profile_name="nope")
    with pytest.raises(discovery.DiscoveryError, match="unknown source"):
        discovery.run_discovery(db, source="monster")


def test_enrichment_fetches_pages_of_jobs_without_description(db: UserDB) -> None:
    with serve({"/job/1": html_reply(fixture("page_og.html")), "/job/2": (404, {}, b"")}) as rp:
        with db.write() as conn:
            job_q.upsert_jobs(
                conn,
                jobs=[
                    job_q.NewJob(title="ML Engineer", url=f"{rp.base}/job/1"),
                    job_q.NewJob(title="Gone", url=f"{rp.base}/job/2"),
                ],
                now=now_iso(),
            )
        with HttpClient(allow=allow_entries([rp.host_port]), max_retries=0) as http:
            enriched, failed = discovery.enrich_jobs(db, http)
    assert (enriched, failed) == (1, 1)
    with db.read() as conn:
        text = conn.execute("SELECT description FROM jobs WHERE title = 'ML Engineer'").fetchone()[
            0
        ]
    assert "PyTorch" in text


def test_enrichment_in_production_refuses_loopback_links(db: UserDB) -> None:
    with serve({"/": html_reply("secret")}) as canary:
        with db.write() as conn:
            job_q.upsert_jobs(
                conn, jobs=[job_q.NewJob(title="Trap", url=f"{canary.base}/")], now=now_iso()
            )
        with HttpClient() as http:
            assert discovery.enrich_jobs(db, http) == (0, 1)
        assert canary.seen == []


class _Ctx:
    def __init__(self, db: UserDB, params: dict[str, object], job_id: int | None = None) -> None:
        self.db, self.params, self.job_id, self.task_id = db, params, job_id, 1
        self.reports: list[tuple[str, float]] = []

    def report(self, stage: str, progress: float) -> None:
        self.reports.append((stage, progress))

    def cancelled(self) -> bool:
        return False


def test_task_handlers_follow_the_contract(db: UserDB) -> None:
    with db.write() as conn:
        job = job_q.NewJob(title="x", url="https://x.example.org/1", description="python")
        job_q.upsert_jobs(conn, jobs=[job], now=now_iso())
    result = score_handler(_Ctx(db, {}))
    assert result["scored"] == 1
    assert enrich_handler(_Ctx(db, {})) == {"enriched": 0, "failed": 0}
    with pytest.raises(discovery.DiscoveryError, match="must be a short text"):
        discover_handler(_Ctx(db, {"profile": ["not", "text"]}))
