"""The Settings privacy tab in cloud mode: plain forms (CSRF, POST-redirect-GET) over the
real platform PostgreSQL, with signed-in clients."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable

import psycopg
from fastapi import FastAPI
from fastapi.testclient import TestClient

from tests.integration.platform.conftest import ALICE, MALLORY

MakeClient = Callable[..., tuple[TestClient, FastAPI, object]]


def _page(client: TestClient) -> tuple[str, str]:
    """The tab's HTML and its form token, also put in the jar as a browser on https
    would send it (cloud cookies are Secure; the plain-http test client drops them)."""
    r = client.get("/settings/privacy")
    assert r.status_code == 200, r.text
    token = re.search(r'name="csrf_token" value="([^"]+)"', r.text)
    assert token
    client.cookies.set("peregrine_csrf", token.group(1))
    return r.text, token.group(1)


def _flashes(response: object) -> str:
    raw = response.cookies.get("peregrine_flash")  # type: ignore[attr-defined]
    assert raw, "no flash message was set"
    return " ".join(m["text"] for m in json.loads(base64.urlsafe_b64decode(raw)))


def _consent(url: str, user_id: str) -> tuple[bool, bool, bool] | None:
    with psycopg.connect(url) as conn:
        row = conn.execute(
            "SELECT all_disabled, usage_events_enabled, content_sharing_enabled"
            " FROM telemetry_consent WHERE user_id = %s",
            (user_id,),
        ).fetchone()
    return None if row is None else (row[0], row[1], row[2])


def test_the_toggles_are_saved_and_shown_after_the_redirect(
    make_cloud_client: MakeClient, platform_url: str
) -> None:
    client, _, _ = make_cloud_client(platform_url)
    html, token = _page(client)
    assert "Never: job descriptions" in html
    assert "<script" not in html.split("<main", 1)[-1]  # no inline script for the CSP to block
    r = client.post(
        "/settings/privacy",
        data={"csrf_token": token, "usage_events_enabled": "1"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert "Privacy choices saved." in _flashes(r)
    assert _consent(platform_url, ALICE) == (False, True, False)
    html, token = _page(client)
    assert 'name="usage_events_enabled" value="1" checked' in html
    assert "being recorded" in html
    # Unticking everything is a choice too: a form sends nothing for an empty box.
    client.post("/settings/privacy", data={"csrf_token": token}, follow_redirects=False)
    assert _consent(platform_url, ALICE) == (False, False, False)


def test_a_post_without_the_csrf_token_changes_nothing(
    make_cloud_client: MakeClient, platform_url: str
) -> None:
    client, _, _ = make_cloud_client(platform_url)
    _page(client)
    r = client.post("/settings/privacy", data={"usage_events_enabled": "1"}, follow_redirects=False)
    assert r.status_code == 403
    assert _consent(platform_url, ALICE) is None


def test_support_access_is_granted_and_revoked_from_the_tab(
    make_cloud_client: MakeClient, platform_url: str
) -> None:
    client, _, _ = make_cloud_client(platform_url)
    _, token = _page(client)
    r = client.post(
        "/settings/privacy/support",
        data={"csrf_token": token, "hours": "8", "ticket_ref": "SUP-42"},
        follow_redirects=False,
    )
    assert r.status_code == 303
    assert "8 hours" in _flashes(r)
    html, token = _page(client)
    assert "SUP-42" in html
    grant_id = re.search(r"/settings/privacy/support/(\d+)/revoke", html)
    assert grant_id
    r = client.post(
        f"/settings/privacy/support/{grant_id.group(1)}/revoke",
        data={"csrf_token": token},
        follow_redirects=False,
    )
    assert "Support access ended." in _flashes(r)
    html, _ = _page(client)
    assert "ended" in html


def test_it_refuses_support_access_outside_the_rules_with_a_message(
    make_cloud_client: MakeClient, platform_url: str
) -> None:
    client, _, _ = make_cloud_client(platform_url)
    _, token = _page(client)
    for hours, ticket in (("2", "SUP-1"), ("73", "SUP-1"), ("8", "<b>x</b>")):
        r = client.post(
            "/settings/privacy/support",
            data={"csrf_token": token, "hours": hours, "ticket_ref": ticket},
            follow_redirects=False,
        )
        assert r.status_code == 303
        assert "not" in _flashes(r).lower() or "between" in _flashes(r)
    with psycopg.connect(platform_url) as conn:
        row = conn.execute("SELECT count(*) FROM support_access_grants").fetchone()
    assert row is not None
    assert row[0] == 0


def test_mallory_cannot_revoke_alice_s_grant(
    make_cloud_client: MakeClient, platform_url: str
) -> None:
    client, _, who = make_cloud_client(platform_url)
    _, token = _page(client)
    client.post(
        "/settings/privacy/support",
        data={"csrf_token": token, "hours": "8", "ticket_ref": "SUP-7"},
        follow_redirects=False,
    )
    html, _ = _page(client)
    grant_id = re.search(r"/settings/privacy/support/(\d+)/revoke", html)
    assert grant_id
    who.as_(MALLORY)  # type: ignore[attr-defined]
    _, token = _page(client)
    r = client.post(
        f"/settings/privacy/support/{grant_id.group(1)}/revoke",
        data={"csrf_token": token},
        follow_redirects=False,
    )
    assert "No active support access" in _flashes(r)
    with psycopg.connect(platform_url) as conn:
        row = conn.execute("SELECT revoked_at FROM support_access_grants").fetchone()
    assert row is not None
    assert row[0] is None


def test_local_mode_keeps_its_explanation_and_offers_no_forms(client: TestClient) -> None:
    page = client.get("/settings/privacy")
    assert page.status_code == 200
    assert "No privacy choices to make here." in page.text
    assert 'action="/settings/privacy"' not in page.text
