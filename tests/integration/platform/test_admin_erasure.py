"""`peregrine admin delete-user` and self-service deletion against real PostgreSQL and real
SQLCipher files."""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner, Result

from peregrine.cli.main import cli
from peregrine.platform.consent import put_consent
from peregrine.platform.tiers import set_tier
from tests.integration.platform.conftest import _CF, _JWT, ALICE, BOB, MALLORY

_TABLES = ("subscriptions", "telemetry_consent", "usage_events", "support_access_grants")


def _env(root: Path, url: str | None) -> dict[str, str]:
    env = {
        "CLOUD_MODE": "true",
        "CLOUD_DATA_ROOT": str(root),
        "DIRECTUS_JWT_SECRET": _JWT,
        "CF_SERVER_SECRET": _CF,
        "PLATFORM_CONNECT_TIMEOUT": "2",
    }
    if url is not None:
        env["PLATFORM_DB_URL"] = url
    return env


def _run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def _seed_rows(url: str, user_id: str) -> None:
    with psycopg.connect(url) as conn, conn.transaction():
        set_tier(conn, user_id=user_id, product="peregrine", tier="paid", period_end=None)
        put_consent(conn, user_id=user_id, usage_events_enabled=True)
        uid = uuid.UUID(user_id)
        conn.execute(
            "INSERT INTO usage_events (user_id, app, event_type, occurred_at, idempotency_key) "
            "VALUES (%s, 'peregrine', 'job_added', now(), %s)",
            (uid, uuid.uuid4()),
        )
        conn.execute(
            "INSERT INTO support_access_grants (user_id, ticket_ref, expires_at) "
            "VALUES (%s, 'T-100', now() + interval '24 hours')",
            (uid,),
        )


def _row_counts(url: str, user_id: str) -> dict[str, int]:
    counts = {}
    with psycopg.connect(url) as conn:
        for table in _TABLES:
            row = conn.execute(
                f"SELECT count(*) FROM {table} WHERE user_id = %s", (uuid.UUID(user_id),)
            ).fetchone()
            assert row is not None
            counts[table] = int(row[0])
    return counts


def _provision(client_factory, url: str | None, user_id: str):  # type: ignore[no-untyped-def]
    client, app, who = client_factory(url)
    who.as_(user_id)
    response = client.post(
        "/api/v1/jobs",
        json={"url": "https://example.com/jobs/1", "title": "Engineer", "company": "Acme"},
    )
    assert response.status_code in (200, 201), response.text
    return client, app, who


def _closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"postgresql://peregrine@127.0.0.1:{port}/platform"


def test_dry_run_changes_nothing(tmp_path: Path, platform_url: str, make_cloud_client) -> None:  # type: ignore[no-untyped-def]
    _client, app, _ = _provision(make_cloud_client, platform_url, ALICE)
    root = app.state.settings.cloud_data_root
    _seed_rows(platform_url, ALICE)
    before = sorted(p.relative_to(root) for p in root.rglob("*"))
    result = _run(_env(root, platform_url), "admin", "delete-user", ALICE, "--dry-run")
    assert result.exit_code == 0, result.output
    assert "dry run" in result.output
    assert "nothing was changed" in result.output
    assert ALICE not in result.output  # the audit/report names a reference, not the id
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == before
    assert all(n >= 1 for n in _row_counts(platform_url, ALICE).values())


def test_it_rejects_a_user_id_that_is_not_a_uuid(tmp_path: Path, platform_url: str) -> None:
    root = tmp_path / "root"
    root.mkdir()
    for bad in ("../etc", "ALICE", f"{ALICE}\n", "a11ce000"):
        result = _run(_env(root, platform_url), "admin", "delete-user", bad, "--yes")
        assert result.exit_code == 1
        assert "error:" in result.output
        assert "not a user id" in result.output


def test_it_erases_files_and_every_platform_row_and_leaves_bob_alone(
    platform_url: str,
    make_cloud_client,
    caplog: pytest.LogCaptureFixture,  # type: ignore[no-untyped-def]
) -> None:
    client, app, who = _provision(make_cloud_client, platform_url, ALICE)
    who.as_(BOB)
    assert client.post(
        "/api/v1/jobs", json={"url": "https://example.com/b", "title": "B", "company": "B"}
    ).status_code in (200, 201)
    root = app.state.settings.cloud_data_root
    _seed_rows(platform_url, ALICE)
    _seed_rows(platform_url, BOB)
    with caplog.at_level("INFO", logger="peregrine.audit"):
        result = _run(_env(root, platform_url), "admin", "delete-user", ALICE, "--yes")
    assert result.exit_code == 0, result.output
    assert "platform rows erased" in result.output
    assert not (root / ALICE).exists()
    assert (root / BOB).is_dir()
    assert _row_counts(platform_url, ALICE) == dict.fromkeys(_TABLES, 0)
    assert all(n >= 1 for n in _row_counts(platform_url, BOB).values())
    audit = [r.getMessage() for r in caplog.records if r.name == "peregrine.audit"]
    assert any("user erased ref=" in line for line in audit)
    assert not any(ALICE in line for line in audit)
    # Idempotent: a second run succeeds and says so.
    again = _run(_env(root, platform_url), "admin", "delete-user", ALICE, "--yes")
    assert again.exit_code == 0, again.output
    # The still-valid session gets 410 and no folder comes back.
    who.as_(ALICE)
    response = client.get("/api/v1/jobs")
    assert response.status_code == 410
    assert "deleted" in response.json()["error"]
    page = client.get("/")
    assert page.status_code == 410
    assert not (root / ALICE).exists()


def test_postgres_down_erases_files_now_and_rows_on_the_next_run(
    platform_url: str,
    make_cloud_client,  # type: ignore[no-untyped-def]
) -> None:
    _client, app, _ = _provision(make_cloud_client, platform_url, ALICE)
    root = app.state.settings.cloud_data_root
    _seed_rows(platform_url, ALICE)
    down = _run(_env(root, _closed_port_url()), "admin", "delete-user", ALICE, "--yes")
    assert down.exit_code == 2, down.output
    assert "pending" in down.output
    assert not (root / ALICE).exists()
    assert _row_counts(platform_url, ALICE)["subscriptions"] == 1
    queued = json.loads((root / ".erasure-queue.json").read_text())
    assert queued == {"pending": [ALICE]}
    # The doctor reports the pending erasure.
    doctor = _run(_env(root, platform_url), "doctor", "--json")
    ids = {f["id"]: f["level"] for f in json.loads(doctor.output)}
    assert ids["P052"] == "warning"
    # Any later run (here for another user) drains the queue once PostgreSQL answers.
    later = _run(_env(root, platform_url), "admin", "delete-user", MALLORY, "--yes")
    assert later.exit_code == 0, later.output
    assert _row_counts(platform_url, ALICE) == dict.fromkeys(_TABLES, 0)
    assert json.loads((root / ".erasure-queue.json").read_text()) == {"pending": []}


def test_delete_while_requests_are_in_flight_recreates_nothing(
    platform_url: str,
    make_cloud_client,  # type: ignore[no-untyped-def]
) -> None:
    client, app, _who = _provision(make_cloud_client, platform_url, ALICE)
    root = app.state.settings.cloud_data_root
    statuses: list[int] = []
    stop = threading.Event()

    def hammer() -> None:
        while not stop.is_set():
            statuses.append(client.get("/api/v1/jobs").status_code)

    threads = [threading.Thread(target=hammer) for _ in range(4)]
    for thread in threads:
        thread.start()
    try:
        response = client.post("/api/v1/account/delete", json={"confirm": "DELETE"})
    finally:
        # Keep hammering briefly after the erasure: every one must be 410, not a new folder.
        after = len(statuses)
        deadline = time.monotonic() + 10
        while len(statuses) < after + 20 and time.monotonic() < deadline:
            time.sleep(0.01)
        stop.set()
        for thread in threads:
            thread.join(10)
    assert response.status_code == 200, response.text
    assert response.json()["deleted"] is True
    assert set(statuses) <= {200, 409, 410}, sorted(set(statuses))
    assert statuses[-1] == 410
    assert not (root / ALICE).exists()
    assert _row_counts(platform_url, ALICE) == dict.fromkeys(_TABLES, 0)


def test_self_service_delete_needs_the_confirm_word(platform_url: str, make_cloud_client) -> None:  # type: ignore[no-untyped-def]
    client, app, _ = _provision(make_cloud_client, platform_url, ALICE)
    root = app.state.settings.cloud_data_root
    for body in ({"confirm": "delete"}, {}, {"confirm": "DELETE", "extra": 1}):
        assert client.post("/api/v1/account/delete", json=body).status_code == 422
    page = client.get("/settings/data")
    assert page.status_code == 200
    assert "Delete my account" in page.text
    assert (root / ALICE).is_dir()


def test_the_settings_form_deletes_the_account_with_csrf(
    platform_url: str, make_cloud_client
) -> None:  # type: ignore[no-untyped-def]
    client, app, _ = _provision(make_cloud_client, platform_url, ALICE)
    root = app.state.settings.cloud_data_root
    page = client.get("/settings/data")
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    # The cookie is Secure in cloud mode; the test client talks plain HTTP, so hand it over
    # the way a browser behind Caddy's TLS would send it.
    client.cookies.set("peregrine_csrf", token)
    no_csrf = client.post("/settings/data/delete-account", data={"confirm": "DELETE"})
    assert no_csrf.status_code == 403
    wrong = client.post(
        "/settings/data/delete-account", data={"confirm": "yes", "csrf_token": token}
    )
    assert wrong.status_code == 422
    assert "Type DELETE" in wrong.text
    assert (root / ALICE).is_dir()
    done = client.post(
        "/settings/data/delete-account", data={"confirm": "DELETE", "csrf_token": token}
    )
    assert done.status_code == 200
    assert "were deleted" in done.text
    assert not (root / ALICE).exists()
    assert client.get("/").status_code == 410


def test_doctor_reports_platform_reachability_and_schema_level(
    tmp_path: Path, pg, platform_url: str
) -> None:  # type: ignore[no-untyped-def]
    root = tmp_path / "root"
    root.mkdir(mode=0o700)
    ok = {f["id"]: f for f in json.loads(_run(_env(root, platform_url), "doctor", "--json").output)}
    assert ok["P060"]["level"] == "ok"
    assert ok["P061"]["level"] == "ok"
    bare = pg.create_database(migrated=False)
    stale = {f["id"]: f for f in json.loads(_run(_env(root, bare), "doctor", "--json").output)}
    assert stale["P061"]["level"] == "error"
    assert "platform migrate" in stale["P061"]["message"]
    down = _run(_env(root, _closed_port_url()), "doctor", "--json")
    assert down.exit_code == 1
    assert {f["id"]: f for f in json.loads(down.output)}["P060"]["level"] == "error"
