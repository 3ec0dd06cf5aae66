"""The privacy JSON API (cloud mode) with a real platform database."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from fastapi.testclient import TestClient

from peregrine.platform import usage
from tests.integration.platform.conftest import ALICE, BOB, MALLORY, count_events

MakeClient = Callable[..., tuple[TestClient, object, object]]


def test_a_new_user_sees_everything_off_and_what_we_collect(
    make_cloud_client: MakeClient, platform_url: str
) -> None:
    client, _, _ = make_cloud_client(platform_url)
    body = client.get("/api/v1/privacy").json()
    assert body["all_disabled"] is False
    assert body["usage_events_enabled"] is False
    assert body["content_sharing_enabled"] is False
    assert body["chosen"] is False
    assert body["usage_events_collected"] is False
    assert body["support_access"] == []
    assert any("Never" in line for line in body["collected"])


def test_toggles_are_saved_per_user(make_cloud_client: MakeClient, platform_url: str) -> None:
    client, _, who = make_cloud_client(platform_url)
    r = client.put("/api/v1/privacy", json={"usage_events_enabled": True})
    assert r.status_code == 200, r.text
    assert r.json()["usage_events_collected"] is True
    r = client.put("/api/v1/privacy", json={"content_sharing_enabled": True})
    assert r.json()["usage_events_enabled"] is True  # untouched toggles stay as they were
    who.as_(BOB)  # type: ignore[attr-defined]
    assert client.get("/api/v1/privacy").json()["usage_events_enabled"] is False


def test_disable_all_wins_over_the_other_toggles(
    make_cloud_client: MakeClient, platform_url: str
) -> None:
    client, _, _ = make_cloud_client(platform_url)
    body = client.put(
        "/api/v1/privacy", json={"usage_events_enabled": True, "all_disabled": True}
    ).json()
    assert body["usage_events_enabled"] is True
    assert body["usage_events_collected"] is False


@pytest.mark.parametrize(
    "payload",
    [{}, {"usage_events_enabled": "yes"}, {"all_disabled": 1}, {"tracking": True}],
)
def test_it_rejects_bad_updates_and_changes_nothing(
    make_cloud_client: MakeClient, platform_url: str, payload: dict[str, object]
) -> None:
    client, _, _ = make_cloud_client(platform_url)
    r = client.put("/api/v1/privacy", json=payload)
    assert r.status_code == 422
    assert "error" in r.json()
    assert client.get("/api/v1/privacy").json()["chosen"] is False


def test_support_access_is_granted_listed_and_revoked(
    make_cloud_client: MakeClient, platform_url: str
) -> None:
    client, _, _ = make_cloud_client(platform_url)
    r = client.post("/api/v1/privacy/support-access", json={"hours": 24, "ticket_ref": "SUP-1234"})
    assert r.status_code == 201, r.text
    grant = r.json()
    assert grant["active"] is True
    assert grant["ticket_ref"] == "SUP-1234"
    listed = client.get("/api/v1/privacy").json()["support_access"]
    assert [g["id"] for g in listed] == [grant["id"]]
    r = client.post(f"/api/v1/privacy/support-access/{grant['id']}/revoke", json={})
    assert r.status_code == 200
    assert client.get("/api/v1/privacy").json()["support_access"][0]["active"] is False
    # Revoking twice is a clear 404, not a silent success.
    again = client.post(f"/api/v1/privacy/support-access/{grant['id']}/revoke", json={})
    assert again.status_code == 404


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        ({"hours": 3, "ticket_ref": "SUP-1"}, "between 4 and 72 hours"),
        ({"hours": 73, "ticket_ref": "SUP-1"}, "between 4 and 72 hours"),
        ({"hours": 24, "ticket_ref": "my name is Alice Smith"}, "ticket reference"),
        ({"hours": 24, "ticket_ref": ""}, "ticket reference"),
        ({"hours": "24", "ticket_ref": "SUP-1"}, "hours"),
    ],
)
def test_it_refuses_grants_outside_the_rules(
    make_cloud_client: MakeClient, platform_url: str, payload: dict[str, object], message: str
) -> None:
    client, _, _ = make_cloud_client(platform_url)
    r = client.post("/api/v1/privacy/support-access", json=payload)
    assert r.status_code == 422
    assert message in r.json()["error"]
    assert client.get("/api/v1/privacy").json()["support_access"] == []


def test_mallory_cannot_revoke_alice_s_grant(
    make_cloud_client: MakeClient, platform_url: str
) -> None:
    client, _, who = make_cloud_client(platform_url)
    grant = client.post(
        "/api/v1/privacy/support-access", json={"hours": 4, "ticket_ref": "SUP-9"}
    ).json()
    who.as_(MALLORY)  # type: ignore[attr-defined]
    r = client.post(f"/api/v1/privacy/support-access/{grant['id']}/revoke", json={})
    assert r.status_code == 404
    assert client.get("/api/v1/privacy").json()["support_access"] == []
    who.as_(ALICE)  # type: ignore[attr-defined]
    assert client.get("/api/v1/privacy").json()["support_access"][0]["active"] is True


def test_local_mode_has_no_privacy_api(client: TestClient) -> None:
    r = client.get("/api/v1/privacy")
    assert r.status_code == 404
    assert "hosted service" in r.json()["error"]


def test_cloud_requests_without_a_session_are_refused(tmp_path: Path, platform_url: str) -> None:
    from peregrine.app import create_app
    from tests.integration.platform.conftest import cloud_settings

    app = create_app(cloud_settings(tmp_path, platform_url))
    with TestClient(app, base_url="http://127.0.0.1:8505") as client:
        assert client.get("/api/v1/privacy").status_code == 401


def test_switching_everything_off_mid_session_stops_new_rows_within_the_window(
    make_cloud_client: MakeClient, platform_url: str
) -> None:
    client, app, _ = make_cloud_client(platform_url)
    telemetry = app.state.platform.telemetry  # type: ignore[attr-defined]
    client.put("/api/v1/privacy", json={"usage_events_enabled": True})

    def emit(n: int) -> None:
        for _ in range(n):
            usage.job_moved(
                telemetry, ALICE, app="peregrine", from_status="pending", to_status="approved"
            )

    emit(5)
    deadline = time.monotonic() + 5
    while count_events(platform_url) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert count_events(platform_url) == 5
    emit(3)  # still in the buffer when the user flips the switch
    assert client.put("/api/v1/privacy", json={"all_disabled": True}).status_code == 200
    # The window: consent is re-read at every flush (here every 50 ms; never more than 30 s).
    time.sleep(0.3)
    settled = count_events(platform_url)
    assert settled <= 8
    emit(20)
    time.sleep(0.5)
    assert count_events(platform_url) == settled
    with psycopg.connect(platform_url) as conn:
        row = conn.execute("SELECT max(recorded_at) FROM usage_events").fetchone()
        flipped = conn.execute("SELECT updated_at FROM telemetry_consent").fetchone()
    assert row is not None
    assert flipped is not None
    assert row[0] <= flipped[0]


def test_a_form_posted_from_another_site_cannot_change_anything(
    make_cloud_client: MakeClient, platform_url: str
) -> None:
    client, _, _ = make_cloud_client(platform_url)
    grant = client.post(
        "/api/v1/privacy/support-access", json={"hours": 4, "ticket_ref": "SUP-7"}
    ).json()
    forged = [
        ("post", f"/api/v1/privacy/support-access/{grant['id']}/revoke", {}),
        (
            "post",
            "/api/v1/privacy/support-access",
            {"content": '{"hours": 72, "ticket_ref": "X-1"}'},
        ),
        ("put", "/api/v1/privacy", {"data": {"all_disabled": "true"}}),
    ]
    for method, path, kwargs in forged:
        r = getattr(client, method)(
            path, headers={"Content-Type": "application/x-www-form-urlencoded"}, **kwargs
        )
        assert r.status_code == 415, (path, r.text)
    body = client.get("/api/v1/privacy").json()
    assert [g["active"] for g in body["support_access"]] == [True]
    assert body["chosen"] is False


def test_the_privacy_page_shows_the_user_s_choices_escaped(
    make_cloud_client: MakeClient, platform_url: str
) -> None:
    client, _, _ = make_cloud_client(platform_url)
    client.put("/api/v1/privacy", json={"usage_events_enabled": True})
    client.post("/api/v1/privacy/support-access", json={"hours": 8, "ticket_ref": "SUP-42"})
    r = client.get("/settings/privacy")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/html")
    assert 'name="usage_events_enabled" value="1" checked' in r.text
    assert 'name="all_disabled" value="1" >' in r.text
    assert "SUP-42" in r.text
    assert "r\\u00e9sum\\u00e9" not in r.text  # plain text, not JSON-escaped
    assert "Never: job descriptions" in r.text


def test_local_mode_has_no_consent_choices(client: TestClient) -> None:
    page = client.get("/settings/privacy")
    assert page.status_code == 200
    assert 'name="usage_events_enabled"' not in page.text
