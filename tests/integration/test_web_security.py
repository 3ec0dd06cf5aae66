"""The security middleware: CSRF, headers, Host allow-list, body limit, error pages."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from peregrine.app import create_app
from peregrine.settings import Settings
from tests.integration.web_helpers import add_jobs, csrf, user_db


def _count_jobs(client: TestClient) -> int:
    return int(user_db(client).execute("SELECT count(*) FROM jobs")[0][0])


def test_it_refuses_a_form_post_without_the_csrf_token_and_writes_nothing(
    client: TestClient,
) -> None:
    csrf(client)
    response = client.post("/jobs/add", data={"urls": "https://example.org/jobs/1"})
    assert response.status_code == 403
    assert _count_jobs(client) == 0


def test_it_refuses_a_form_post_with_a_wrong_csrf_token(client: TestClient) -> None:
    csrf(client)
    response = client.post(
        "/jobs/add", data={"urls": "https://example.org/jobs/1", "csrf_token": "x" * 43}
    )
    assert response.status_code == 403
    assert _count_jobs(client) == 0


def test_it_refuses_a_multipart_post_without_the_token(client: TestClient) -> None:
    csrf(client)
    response = client.post(
        "/jobs/import", files={"file": ("jobs.csv", b"title,url\nA,https://e.org/a\n")}
    )
    assert response.status_code == 403
    assert _count_jobs(client) == 0


def test_it_accepts_a_form_post_with_the_token(client: TestClient) -> None:
    response = client.post(
        "/jobs/add",
        data={"urls": "https://example.org/jobs/1", "csrf_token": csrf(client)},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert _count_jobs(client) == 1


def test_it_accepts_the_token_in_a_multipart_form(client: TestClient) -> None:
    response = client.post(
        "/jobs/import",
        data={"csrf_token": csrf(client)},
        files={"file": ("jobs.csv", b"title,url\nA,https://e.org/a\n")},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert _count_jobs(client) == 1


def test_it_refuses_a_cross_site_json_api_call(client: TestClient) -> None:
    body = {"url": "https://example.org/jobs/9", "title": "Evil"}
    response = client.post("/api/v1/jobs", json=body, headers={"Origin": "https://mallory.example"})
    assert response.status_code == 403
    assert response.json()["error"]
    response = client.post("/api/v1/jobs", json=body, headers={"Sec-Fetch-Site": "cross-site"})
    assert response.status_code == 403
    assert _count_jobs(client) == 0


def test_it_accepts_a_same_origin_json_api_call(client: TestClient) -> None:
    response = client.post(
        "/api/v1/jobs",
        json={"url": "https://example.org/jobs/9", "title": "Fine"},
        headers={"Origin": "http://127.0.0.1:8502", "Sec-Fetch-Site": "same-origin"},
    )
    assert response.status_code == 201


def test_nothing_changes_state_on_get(client: TestClient) -> None:
    [job_id] = add_jobs(user_db(client), 1)
    for path in ("/review/move?action=approve&job_id=1", "/review/undo", "/jobs/add"):
        assert client.get(path).status_code == 405
    row = user_db(client).execute("SELECT status FROM jobs WHERE id = ?", (job_id,))
    assert row[0][0] == "pending"


def test_every_response_carries_the_security_headers(client: TestClient) -> None:
    for path in ("/", "/review", "/api/v1/jobs", "/static/app.css", "/no-such-page"):
        response = client.get(path)
        csp = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in csp
        assert "script-src 'self'" in csp
        assert "unsafe-inline" not in csp
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"


def test_the_csrf_cookie_is_httponly_and_samesite_strict(client: TestClient) -> None:
    response = client.get("/")
    cookie = response.headers["set-cookie"]
    assert "peregrine_csrf=" in cookie
    assert "HttpOnly" in cookie
    assert "SameSite=Strict" in cookie


def test_pages_have_no_inline_scripts_or_style_attributes(client: TestClient) -> None:
    add_jobs(user_db(client), 2)
    for path in ("/", "/review", "/settings/resume", "/settings/llm", "/api/docs"):
        html = client.get(path).text
        assert "<script>" not in html
        assert " style=" not in html
        assert " onclick=" not in html


def test_it_refuses_an_unknown_host_header(client: TestClient) -> None:
    response = client.get("/", headers={"Host": "rebind.mallory.example"})
    assert response.status_code == 400
    assert client.get("/", headers={"Host": "localhost:8502"}).status_code == 200
    assert client.get("/", headers={"Host": "[::1]:8502"}).status_code == 200


def test_a_star_in_allowed_hosts_accepts_any_host(tmp_path: Path) -> None:
    settings = Settings.from_env(
        {"PEREGRINE_DATA_DIR": str(tmp_path), "PEREGRINE_ALLOWED_HOSTS": "*"}
    )
    with TestClient(create_app(settings), base_url="http://anything.example") as c:
        assert c.get("/healthz").status_code == 200


@pytest.fixture
def small_limit_client(tmp_path: Path) -> Iterator[TestClient]:
    settings = Settings.from_env(
        {"PEREGRINE_DATA_DIR": str(tmp_path / "data"), "PEREGRINE_MAX_BODY_BYTES": "2048"}
    )
    with TestClient(create_app(settings), base_url="http://127.0.0.1:8502") as c:
        yield c


def test_it_refuses_a_body_over_the_limit(small_limit_client: TestClient) -> None:
    c = small_limit_client
    big = "https://example.org/jobs/" + "a" * 5000
    response = c.post("/jobs/add", data={"csrf_token": csrf(c), "urls": big})
    assert response.status_code == 413
    assert "too large" in response.text
    response = c.post("/api/v1/jobs", json={"url": big, "title": "x"})
    assert response.status_code == 413
    assert response.json()["error"]
    assert _count_jobs(c) == 0


def test_it_refuses_a_chunked_body_over_the_limit(small_limit_client: TestClient) -> None:
    c = small_limit_client

    def chunks() -> Iterator[bytes]:
        for _ in range(10):
            yield b'{"title": "' + b"a" * 500

    response = c.post(
        "/api/v1/jobs", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 413


def test_pages_get_friendly_html_errors_and_the_api_gets_json(client: TestClient) -> None:
    page = client.get("/no-such-page")
    assert page.status_code == 404
    assert page.headers["content-type"].startswith("text/html")
    assert "Page not found" in page.text
    assert "Traceback" not in page.text
    bad = client.get("/review?sort=nonsense")
    assert bad.status_code == 422
    assert bad.headers["content-type"].startswith("text/html")
    wrong_method = client.put("/review", headers={"X-CSRF-Token": csrf(client)})
    assert wrong_method.status_code == 405
    assert "text/html" in wrong_method.headers["content-type"]
    api = client.get("/api/v1/nothing-here")
    assert api.status_code == 404
    assert api.json() == {"error": "There is nothing at this address."}


def test_a_server_error_shows_a_friendly_page_without_a_traceback(tmp_path: Path) -> None:
    settings = Settings.from_env({"PEREGRINE_DATA_DIR": str(tmp_path / "data")})
    app = create_app(settings)

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("secret internals")

    with TestClient(app, base_url="http://127.0.0.1:8502", raise_server_exceptions=False) as c:
        response = c.get("/boom")
    assert response.status_code == 500
    assert "Something went wrong" in response.text
    assert "secret internals" not in response.text
    assert "Traceback" not in response.text


def test_health_probes_still_answer(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}
    assert client.get("/readyz").json() == {"status": "ready"}


def test_the_api_reference_works_offline(client: TestClient) -> None:
    response = client.get("/api/docs")
    assert response.status_code == 200
    assert "/api/v1/jobs" in response.text
    assert "cdn" not in response.text.lower()
    assert client.get("/api/openapi.json").status_code == 200
