"""Usage events emitted by the web layer, server-side gates on real routes, and the
metrics gauges: all against the real platform PostgreSQL with signed-in clients."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import psycopg
from fastapi import FastAPI
from fastapi.testclient import TestClient

from peregrine.app import create_app
from peregrine.settings import Settings
from tests.integration.platform.conftest import ALICE, BOB, set_consent

MakeClient = Callable[..., tuple[TestClient, FastAPI, object]]


def _events(url: str, user_id: str) -> list[tuple[str, str, dict[str, object]]]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT app, event_type, metadata FROM usage_events WHERE user_id = %s ORDER BY id",
            (uuid.UUID(user_id),),
        ).fetchall()
    return [(r[0], r[1], r[2] if isinstance(r[2], dict) else json.loads(r[2])) for r in rows]


def _settle(app: FastAPI, url: str, user_id: str, at_least: int) -> list[tuple[str, str, dict]]:
    deadline = time.monotonic() + 5
    while True:
        app.state.platform.telemetry.flush()
        found = _events(url, user_id)
        if len(found) >= at_least or time.monotonic() > deadline:
            # One more flush: anything extra (a duplicate) would show up now.
            app.state.platform.telemetry.flush()
            return _events(url, user_id)
        time.sleep(0.05)


def _add_job(client: TestClient, n: int = 1) -> int:
    r = client.post(
        "/api/v1/jobs",
        json={"url": f"https://jobs.example/{n}", "title": f"Engineer {n}", "company": "Acme"},
    )
    assert r.status_code == 201, r.text
    return int(r.json()["id"])


def test_an_api_move_is_recorded_once_with_only_statuses(
    make_cloud_client: MakeClient, platform_url: str
) -> None:
    set_consent(platform_url, ALICE, usage_events_enabled=True)
    client, app, _ = make_cloud_client(platform_url)
    job_id = _add_job(client)
    r = client.post(f"/api/v1/jobs/{job_id}/move", json={"status": "approved"})
    assert r.status_code == 200, r.text
    found = _settle(app, platform_url, ALICE, 1)
    assert found == [
        ("peregrine", "job_moved", {"from_status": "pending", "to_status": "approved"})
    ]


def test_bulk_moves_and_undo_are_each_recorded(
    make_cloud_client: MakeClient, platform_url: str
) -> None:
    set_consent(platform_url, ALICE, usage_events_enabled=True)
    client, app, _ = make_cloud_client(platform_url)
    ids = [_add_job(client, n) for n in (1, 2)]
    assert client.post("/api/v1/jobs/move", json={"job_ids": ids, "status": "dismissed"}).is_success
    r = client.post("/api/v1/jobs/undo", params={"job_id": ids[0]})
    assert r.status_code == 200, r.text
    found = _settle(app, platform_url, ALICE, 3)
    moves = [(m["from_status"], m["to_status"]) for _, kind, m in found if kind == "job_moved"]
    assert moves == [("pending", "dismissed"), ("pending", "dismissed"), ("dismissed", "pending")]


def test_page_moves_are_recorded(make_cloud_client: MakeClient, platform_url: str) -> None:
    set_consent(platform_url, ALICE, usage_events_enabled=True)
    client, app, _ = make_cloud_client(platform_url)
    job_id = _add_job(client)
    page = client.get("/review")
    assert page.status_code == 200
    token = _csrf(client, page.text)
    r = client.post(
        "/review/move",
        data={"act": f"approve:{job_id}", "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code in (302, 303), r.text
    found = _settle(app, platform_url, ALICE, 1)
    assert [m for _, _, m in found] == [{"from_status": "pending", "to_status": "approved"}]


def test_nothing_is_recorded_without_consent_or_with_the_kill_switch(
    make_cloud_client: MakeClient, platform_url: str
) -> None:
    set_consent(platform_url, BOB, usage_events_enabled=True, all_disabled=True)
    client, app, who = make_cloud_client(platform_url)  # alice never chose: no consent
    job_id = _add_job(client)
    assert client.post(f"/api/v1/jobs/{job_id}/move", json={"status": "approved"}).is_success
    who.as_(BOB)  # type: ignore[attr-defined]
    job_id = _add_job(client)
    assert client.post(f"/api/v1/jobs/{job_id}/move", json={"status": "approved"}).is_success
    app.state.platform.telemetry.flush()
    time.sleep(0.2)
    app.state.platform.telemetry.flush()
    assert _events(platform_url, ALICE) == []
    assert _events(platform_url, BOB) == []


def test_a_free_user_is_refused_generation_with_a_message(
    make_cloud_client: MakeClient, platform_url: str
) -> None:
    client, _, _ = make_cloud_client(platform_url)
    job_id = _add_job(client)
    for path, body in (
        (f"/api/v1/jobs/{job_id}/letters/generate", {}),
        (f"/api/v1/jobs/{job_id}/letters/refine", {"feedback": "shorter"}),
        (f"/api/v1/jobs/{job_id}/letters/stream", {}),
    ):
        r = client.post(path, json=body)
        assert r.status_code == 403, (path, r.text)
        assert r.json()["error"] == "cover letter needs the paid plan or higher"
    r = client.post(f"/api/v1/jobs/{job_id}/prep/generate", json={"kind": "research"})
    assert r.status_code == 403
    assert r.json()["error"] == "company research needs the paid plan or higher"
    r = client.post(f"/api/v1/jobs/{job_id}/prep/generate", json={"kind": "prep"})
    assert r.json()["error"] == "interview prep needs the premium plan or higher"
    # Nothing was queued for a refused request.
    assert client.get("/api/v1/tasks").json().get("items", []) == []


def test_a_paid_user_may_start_a_letter_but_not_premium_prep(
    make_cloud_client: MakeClient, platform_url: str
) -> None:
    from click.testing import CliRunner

    from peregrine.cli.main import cli

    result = CliRunner().invoke(
        cli, ["admin", "set-tier", ALICE, "paid"], env={"PLATFORM_DB_URL": platform_url}
    )
    assert result.exit_code == 0, result.output
    client, _, _ = make_cloud_client(platform_url)
    job_id = _add_job(client)
    r = client.post(f"/api/v1/jobs/{job_id}/letters/generate", json={})
    assert r.status_code == 202, r.text
    r = client.post(f"/api/v1/jobs/{job_id}/prep/generate", json={"kind": "research"})
    assert r.status_code == 202, r.text
    r = client.post(f"/api/v1/jobs/{job_id}/prep/generate", json={"kind": "prep"})
    assert r.status_code == 403


def test_a_gated_page_action_flashes_the_reason(
    make_cloud_client: MakeClient, platform_url: str
) -> None:
    client, _, _ = make_cloud_client(platform_url)
    job_id = _add_job(client)
    page = client.get(f"/prep/{job_id}")
    assert page.status_code == 200, page.text
    r = client.post(
        f"/prep/{job_id}/generate",
        data={"kind": "prep", "csrf_token": _csrf(client, page.text)},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert "interview prep needs the premium plan or higher" in _flashes(r)
    assert client.get("/api/v1/tasks").json()["items"] == []


def test_local_mode_is_never_gated(tmp_path: Path) -> None:
    app = create_app(Settings.from_env({"PEREGRINE_DATA_DIR": str(tmp_path / "data")}))
    with TestClient(app, base_url="http://127.0.0.1:8502") as client:
        job_id = _add_job(client)
        r = client.post(f"/api/v1/jobs/{job_id}/prep/generate", json={"kind": "prep"})
        assert r.status_code == 202, r.text


def test_metrics_show_tenant_handles_and_queue_depth(
    make_cloud_client: MakeClient, platform_url: str
) -> None:
    client, _, _ = make_cloud_client(platform_url, METRICS_ENABLED="true")
    _add_job(client)
    text = client.get("/metrics").text
    handles = _gauge(text, "peregrine_open_tenant_handles")
    assert handles >= 1
    assert _gauge(text, "peregrine_task_queue_depth") == 0


def test_local_metrics_report_one_handle(tmp_path: Path) -> None:
    app = create_app(
        Settings.from_env({"PEREGRINE_DATA_DIR": str(tmp_path / "data"), "METRICS_ENABLED": "true"})
    )
    with TestClient(app, base_url="http://127.0.0.1:8502") as client:
        text = client.get("/metrics").text
    assert _gauge(text, "peregrine_open_tenant_handles") == 1


def _gauge(text: str, name: str) -> float:
    for line in text.splitlines():
        if line.startswith(name + " "):
            return float(line.split()[1])
    raise AssertionError(f"{name} not in /metrics")


def _csrf(client: TestClient, html: str) -> str:
    """The form's token, also put in the cookie jar as a browser on https would send it
    (cloud cookies are Secure, which the plain-http test client does not send back)."""
    marker = 'name="csrf_token" value="'
    start = html.index(marker) + len(marker)
    token = html[start : html.index('"', start)]
    client.cookies.set("peregrine_csrf", token)
    return token


def test_a_finished_backup_download_is_recorded_with_its_size(
    make_cloud_client: MakeClient, platform_url: str
) -> None:
    set_consent(platform_url, ALICE, usage_events_enabled=True)
    client, app, _ = make_cloud_client(platform_url)
    _add_job(client)
    r = client.get("/api/v1/backup")
    assert r.status_code == 200
    found = _settle(app, platform_url, ALICE, 1)
    assert found == [
        ("peregrine", "backup_exported", {"size_bytes": len(r.content), "encrypted": False})
    ]


def _set_tier(url: str, user_id: str, tier: str) -> None:
    from click.testing import CliRunner

    from peregrine.cli.main import cli

    result = CliRunner().invoke(
        cli, ["admin", "set-tier", user_id, tier], env={"PLATFORM_DB_URL": url}
    )
    assert result.exit_code == 0, result.output


def _wait_for_tasks(client: TestClient) -> list[dict[str, object]]:
    deadline = time.monotonic() + 10
    while True:
        items = client.get("/api/v1/tasks").json()["items"]
        if all(t["status"] not in ("queued", "running") for t in items):
            return items
        assert time.monotonic() < deadline, items
        time.sleep(0.05)


def test_finished_generation_tasks_are_recorded_for_their_owner(
    make_cloud_client: MakeClient, platform_url: str
) -> None:
    set_consent(platform_url, ALICE, usage_events_enabled=True)
    _set_tier(platform_url, ALICE, "premium")
    client, app, _ = make_cloud_client(platform_url)
    # The model calls cannot run here; these handlers stand in for them so the queue's
    # real completion path (owner, timing, event mapping) is what is tested.
    app.state.tasks.registry.register("prep", lambda ctx: {"saved": True})
    app.state.tasks.registry.register(
        "cover_letter", lambda ctx: {"version": 2, "origin": "model", "backend": "x", "words": 180}
    )
    job_id = _add_job(client)
    assert client.post(f"/api/v1/jobs/{job_id}/prep/generate", json={"kind": "prep"}).is_success
    assert client.post(f"/api/v1/jobs/{job_id}/letters/generate", json={}).is_success
    tasks = _wait_for_tasks(client)
    assert {t["status"] for t in tasks} == {"succeeded"}
    found = _settle(app, platform_url, ALICE, 2)
    kinds = sorted(kind for _, kind, _ in found)
    assert kinds == ["cover_letter_generated", "interview_prep_generated"]
    letter = next(m for _, kind, m in found if kind == "cover_letter_generated")
    assert letter["regenerated"] is True
    assert letter["words"] == 180
    assert set(letter) == {"regenerated", "duration_ms", "words"}
    assert isinstance(letter["duration_ms"], int)


def test_finished_tasks_are_not_recorded_without_consent(
    make_cloud_client: MakeClient, platform_url: str
) -> None:
    _set_tier(platform_url, ALICE, "premium")
    client, app, _ = make_cloud_client(platform_url)
    app.state.tasks.registry.register("research", lambda ctx: {"saved": True})
    job_id = _add_job(client)
    assert client.post(f"/api/v1/jobs/{job_id}/prep/generate", json={"kind": "research"}).is_success
    _wait_for_tasks(client)
    app.state.platform.telemetry.flush()
    assert _events(platform_url, ALICE) == []


def _flashes(response: object) -> str:
    """The flash messages a redirect carries to the next page."""
    import base64

    raw = response.cookies.get("peregrine_flash")  # type: ignore[attr-defined]
    assert raw, "no flash message was set"
    return " ".join(m["text"] for m in json.loads(base64.urlsafe_b64decode(raw)))
