"""The demo: a deterministic fictional seed, and a private sandbox per visitor."""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from peregrine.app import create_app
from peregrine.cli.main import cli
from peregrine.demo.seed import DemoSeedError, build_seed, check_seeded, is_demo_database
from peregrine.services.pipeline import STATUSES
from peregrine.settings import Settings
from peregrine.storage.userdb import UserDB
from peregrine.tenancy.demo import VISITOR_COOKIE

TODAY = date(2026, 11, 27)


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("demo-seed") / "staging.db"
    build_seed(path, today=TODAY)
    return path


def _rows(path: Path, sql: str) -> list[dict[str, object]]:
    db = UserDB.open(path)
    try:
        return [dict(row) for row in db.execute(sql)]
    finally:
        db.close()


def test_the_seed_covers_every_status(seeded: Path) -> None:
    rows = _rows(seeded, "SELECT status, count(*) AS n FROM jobs GROUP BY status")
    counts = {str(r["status"]): int(str(r["n"])) for r in rows}
    assert set(counts) == set(STATUSES)
    assert 35 <= sum(counts.values()) <= 45


def test_every_job_is_scored_with_an_explanation(seeded: Path) -> None:
    jobs = _rows(seeded, "SELECT match_score, match_explanation, keyword_gaps FROM jobs")
    for job in jobs:
        assert job["match_score"] is not None
        explanation = json.loads(str(job["match_explanation"]))
        assert {"matched_skills", "missing_skills", "summary", "components"} <= set(explanation)
        assert json.loads(str(job["keyword_gaps"])) == explanation["missing_skills"]
    assert any(json.loads(str(job["keyword_gaps"])) for job in jobs)


def test_stage_history_ends_at_each_jobs_status(seeded: Path) -> None:
    jobs = _rows(
        seeded,
        "SELECT j.status, (SELECT to_status FROM job_events e WHERE e.job_id = j.id "
        "ORDER BY e.id DESC LIMIT 1) AS last FROM jobs j",
    )
    assert all(job["status"] == job["last"] for job in jobs)
    rejected = _rows(seeded, "SELECT rejection_stage FROM jobs WHERE status = 'rejected'")
    assert {r["rejection_stage"] for r in rejected} == {"applied", "phone_screen", "interviewing"}


def test_the_seed_has_the_whole_search_around_the_jobs(seeded: Path) -> None:
    def count(table: str) -> int:
        return int(str(_rows(seeded, f"SELECT count(*) AS n FROM {table}")[0]["n"]))

    assert count("profile") == 1
    assert count("resumes") == 1
    for table in (
        "cover_letters",
        "company_research",
        "interview_prep",
        "contacts",
        "messages",
        "keywords",
        "search_profiles",
        "application_snapshots",
    ):
        assert count(table) > 0, table
    versions = _rows(seeded, "SELECT max(version) AS v FROM cover_letters")
    assert versions[0]["v"] == 2
    upcoming = _rows(seeded, "SELECT interview_at FROM jobs WHERE status = 'interviewing'")
    assert all(str(r["interview_at"]) > TODAY.isoformat() for r in upcoming)


def test_the_seed_uses_reserved_example_domains_only(seeded: Path) -> None:
    urls = _rows(seeded, "SELECT url FROM jobs UNION ALL SELECT email FROM contacts")
    for row in urls:
        value = str(next(iter(row.values())))
        host = value.rsplit("@", maxsplit=1)[-1] if "@" in value else value.split("/")[2]
        assert host.endswith(".example"), value


def test_the_seed_is_the_same_every_time(tmp_path: Path, seeded: Path) -> None:
    again = tmp_path / "staging.db"
    build_seed(again, today=TODAY)
    dump = "SELECT * FROM jobs ORDER BY id"

    def content(path: Path) -> list[dict[str, object]]:
        # `rev` is a random cache mark (migration 0002), not content.
        return [{k: v for k, v in row.items() if k != "rev"} for row in _rows(path, dump)]

    assert content(again) == content(seeded)
    letters = "SELECT job_id, version, body FROM cover_letters ORDER BY id"
    assert _rows(again, letters) == _rows(seeded, letters)


def test_it_refuses_to_seed_over_a_real_database(tmp_path: Path) -> None:
    real = tmp_path / "staging.db"
    UserDB.open(real, create=True).close()
    before = hashlib.sha256(real.read_bytes()).hexdigest()
    with pytest.raises(DemoSeedError, match="not the demo"):
        build_seed(real, today=TODAY, reset=True)
    with pytest.raises(DemoSeedError, match="not the demo"):
        build_seed(real, today=TODAY)
    assert hashlib.sha256(real.read_bytes()).hexdigest() == before
    assert not is_demo_database(real)
    with pytest.raises(DemoSeedError, match="not a demo database"):
        check_seeded(real)


def test_seed_refuses_a_seeded_folder_and_reset_rebuilds_it(tmp_path: Path) -> None:
    path = tmp_path / "staging.db"
    build_seed(path, today=TODAY)
    with pytest.raises(DemoSeedError, match="already seeded"):
        build_seed(path, today=TODAY)
    db = UserDB.open(path)
    with db.write() as conn:
        conn.execute("DELETE FROM jobs")
    db.close()
    (tmp_path / "sandboxes" / "abc").mkdir(parents=True)
    build_seed(path, today=TODAY, reset=True)
    assert len(_rows(path, "SELECT id FROM jobs")) == 40
    assert not (tmp_path / "sandboxes").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["staging.db"]


# -- CLI ----------------------------------------------------------------------------------


def _cli(tmp_path: Path, *args: str, demo: bool = True):  # type: ignore[no-untyped-def]
    env = {"PEREGRINE_DATA_DIR": str(tmp_path / "demo"), "DEMO_MODE": "true" if demo else ""}
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def test_demo_commands_refuse_to_run_outside_demo_mode(tmp_path: Path) -> None:
    result = _cli(tmp_path, "demo", "seed", demo=False)
    assert result.exit_code == 1
    assert "DEMO_MODE=true" in result.output
    assert not (tmp_path / "demo").exists()


def test_demo_seed_and_reset_from_the_command_line(tmp_path: Path) -> None:
    seeded = _cli(tmp_path, "demo", "seed")
    assert seeded.exit_code == 0, seeded.output
    assert "seeded 40 jobs" in seeded.output
    again = _cli(tmp_path, "demo", "seed")
    assert again.exit_code == 1
    assert again.output.startswith("error: the demo is already seeded")
    (tmp_path / "demo" / "sandboxes" / "visitor").mkdir(parents=True)
    dry = _cli(tmp_path, "demo", "reset", "--dry-run")
    assert dry.exit_code == 0
    assert "remove 1 visitor sandbox" in dry.output
    assert (tmp_path / "demo" / "sandboxes" / "visitor").exists()
    done = _cli(tmp_path, "demo", "reset")
    assert done.exit_code == 0, done.output
    assert not (tmp_path / "demo" / "sandboxes").exists()


def test_serve_refuses_an_unseeded_demo_folder(tmp_path: Path) -> None:
    result = _cli(tmp_path, "serve")
    assert result.exit_code == 1
    assert "run `peregrine demo seed`" in result.output
    assert not (tmp_path / "demo" / "staging.db").exists()


# -- visitors -----------------------------------------------------------------------------


def _demo_settings(folder: Path, **extra: str) -> Settings:
    return Settings.from_env({"DEMO_MODE": "true", "PEREGRINE_DATA_DIR": str(folder), **extra})


@pytest.fixture
def demo_folder(tmp_path: Path, seeded: Path) -> Path:
    folder = tmp_path / "demo"
    folder.mkdir()
    (folder / "staging.db").write_bytes(seeded.read_bytes())
    return folder


@pytest.fixture
def demo_app(demo_folder: Path) -> Iterator[TestClient]:
    app = create_app(_demo_settings(demo_folder, DEMO_MAX_SANDBOXES="3"))
    with TestClient(app, base_url="http://127.0.0.1:8504") as client:
        yield client


def _visitor(demo_app: TestClient) -> TestClient:
    """Another browser: same app, its own cookie jar."""
    return TestClient(demo_app.app, base_url="http://127.0.0.1:8504")


def _sandboxes(folder: Path) -> list[str]:
    root = folder / "sandboxes"
    return sorted(p.name for p in root.iterdir()) if root.exists() else []


def test_visitors_never_see_each_others_changes(demo_app: TestClient, demo_folder: Path) -> None:
    alice, bob = demo_app, _visitor(demo_app)
    seed_before = hashlib.sha256((demo_folder / "staging.db").read_bytes()).hexdigest()
    pending = alice.get("/api/v1/jobs", params={"status": "pending"}).json()["items"][0]
    moved = alice.post(f"/api/v1/jobs/{pending['id']}/move", json={"status": "approved"})
    assert moved.status_code == 200, moved.text
    assert alice.get(f"/api/v1/jobs/{pending['id']}").json()["status"] == "approved"
    assert bob.get(f"/api/v1/jobs/{pending['id']}").json()["status"] == "pending"
    assert len(_sandboxes(demo_folder)) == 2
    assert hashlib.sha256((demo_folder / "staging.db").read_bytes()).hexdigest() == seed_before


def test_the_visitor_cookie_is_http_only_and_sent_with_a_new_sandbox(
    demo_app: TestClient,
) -> None:
    first = demo_app.get("/api/v1/jobs")
    cookie = _visitor_cookie(first)
    assert cookie is not None
    assert "HttpOnly" in cookie
    assert "SameSite=Lax" in cookie
    assert _visitor_cookie(demo_app.get("/api/v1/jobs")) is None


def test_the_visitor_cookie_is_secure_over_https(demo_app: TestClient) -> None:
    visitor = TestClient(demo_app.app, base_url="https://127.0.0.1")
    assert "; Secure" in (_visitor_cookie(visitor.get("/api/v1/jobs")) or "")


def test_health_probes_do_not_create_sandboxes(demo_app: TestClient, demo_folder: Path) -> None:
    assert demo_app.get("/healthz").status_code == 200
    assert _sandboxes(demo_folder) == []


def test_a_forged_cookie_gets_a_fresh_sandbox_not_a_path(
    demo_app: TestClient, demo_folder: Path
) -> None:
    mallory = _visitor(demo_app)
    mallory.cookies.set(VISITOR_COOKIE, "../../staging.db")
    response = mallory.get("/api/v1/jobs")
    assert response.status_code == 200
    assert response.json()["total"] == 40
    assert all(len(name) == 32 and name.isalnum() for name in _sandboxes(demo_folder))
    assert (_visitor_cookie(response) or "").split(";")[0] != f"{VISITOR_COOKIE}=../../staging.db"


def test_the_oldest_sandbox_is_dropped_past_the_cap(
    demo_app: TestClient, demo_folder: Path
) -> None:
    visitors = [_visitor(demo_app) for _ in range(4)]
    for visitor in visitors:
        assert visitor.get("/api/v1/jobs").status_code == 200
        # mtimes order the sandboxes; make the order unambiguous on coarse clocks.
        for name in _sandboxes(demo_folder):
            path = demo_folder / "sandboxes" / name
            os.utime(path, (path.stat().st_mtime - 10, path.stat().st_mtime - 10))
    assert len(_sandboxes(demo_folder)) == 3
    first = visitors[0]
    pending = first.get("/api/v1/jobs", params={"status": "pending"}).json()["items"][0]
    assert pending["status"] == "pending"


def test_idle_sandboxes_expire(demo_folder: Path) -> None:
    stale = demo_folder / "sandboxes" / ("a" * 32)
    stale.mkdir(parents=True)
    (stale / "staging.db").write_bytes((demo_folder / "staging.db").read_bytes())
    old = time.time() - 3 * 3600
    os.utime(stale, (old, old))
    app = create_app(_demo_settings(demo_folder, DEMO_SANDBOX_TTL_MINUTES="60"))
    with TestClient(app, base_url="http://127.0.0.1:8504") as client:
        assert client.get("/healthz").status_code == 200
        assert not stale.exists()


def test_a_reset_gives_visitors_a_fresh_copy(demo_app: TestClient, demo_folder: Path) -> None:
    alice = demo_app
    job = alice.get("/api/v1/jobs", params={"status": "pending"}).json()["items"][0]
    alice.post(f"/api/v1/jobs/{job['id']}/move", json={"status": "dismissed"})
    build_seed(demo_folder / "staging.db", today=TODAY, reset=True)
    assert alice.get(f"/api/v1/jobs/{job['id']}").json()["status"] == "pending"


def test_the_demo_app_will_not_start_on_real_data(tmp_path: Path) -> None:
    folder = tmp_path / "real"
    UserDB.open(folder / "staging.db", create=True).close()
    app = create_app(_demo_settings(folder))
    with pytest.raises(DemoSeedError), TestClient(app):
        pass


def _visitor_cookie(response: object) -> str | None:
    """The demo visitor's Set-Cookie line, if the response set it (other cookies aside)."""
    for line in response.headers.get_list("set-cookie"):  # type: ignore[attr-defined]
        if line.startswith(f"{VISITOR_COOKIE}="):
            return str(line)
    return None
