"""The real Caddy (deploy/Caddyfile) over HTTPS on loopback, in front of `peregrine serve`
in cloud mode with a temporary data root and real secrets.

Cloud mode marks its cookies ``Secure``, so these checks run Caddy with TLS (its local CA
issues the loopback certificate) and clients that skip verification: the cookie rules are
exercised exactly as a browser would meet them, with no http override in the product.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest

from tests.integration.caddy_front import Running, start_app, start_caddy
from tests.integration.cloud.conftest import ALICE, BOB, COOKIE, MALLORY, session_claims

_CSRF_FIELD = re.compile(r'name="csrf_token"\s+value="([^"]+)"')


@dataclass
class CloudFront:
    caddy: Running
    jwt_secret: str

    def token(self, user_id: str) -> str:
        import jwt

        return jwt.encode(session_claims(user_id), self.jwt_secret, "HS256")

    def browser(self, user_id: str | None) -> httpx.Client:
        """A client with the user's Directus session cookie, as a browser would hold it."""
        cookies = {COOKIE: self.token(user_id)} if user_id else {}
        return httpx.Client(base_url=self.caddy.url, verify=False, cookies=cookies)


@pytest.fixture(scope="module")
def cloud(tmp_path_factory: pytest.TempPathFactory) -> Iterator[CloudFront]:
    tmp = tmp_path_factory.mktemp("caddy-cloud")
    data_root = tmp / "menagerie-data"
    data_root.mkdir(mode=0o700)
    jwt_secret = secrets.token_hex(32)
    env = {
        "CLOUD_MODE": "true",
        "CLOUD_DATA_ROOT": str(data_root),
        "DIRECTUS_JWT_SECRET": jwt_secret,
        "CF_SERVER_SECRET": secrets.token_hex(32),
    }
    with (
        start_app(tmp, extra_env=env) as app,
        start_caddy(tmp, upstream=f"127.0.0.1:{app.port}", tls=True) as caddy,
    ):
        yield CloudFront(caddy, jwt_secret)


def _add_job(client: httpx.Client, title: str) -> int:
    slug = secrets.token_hex(4)
    created = client.post(
        "/peregrine/api/v1/jobs",
        json={"url": f"https://jobs.example.test/{slug}", "title": title},
    )
    assert created.status_code == 201, created.text
    return int(created.json()["id"])


def _titles(client: httpx.Client) -> list[str]:
    listed = client.get("/peregrine/api/v1/jobs")
    assert listed.status_code == 200, listed.text
    return [job["title"] for job in listed.json()["items"]]


def test_each_browser_cookie_reaches_its_own_tenant(cloud: CloudFront) -> None:
    with cloud.browser(ALICE) as alice, cloud.browser(BOB) as bob:
        _add_job(alice, "Alice's falconer role")
        _add_job(bob, "Bob's kestrel role")
        assert "Alice's falconer role" in _titles(alice)
        assert "Bob's kestrel role" not in _titles(alice)
        assert "Bob's kestrel role" in _titles(bob)
        assert "Alice's falconer role" not in _titles(bob)


def test_a_client_supplied_session_header_without_a_cookie_gets_the_sign_in_page(
    cloud: CloudFront,
) -> None:
    forged = {"X-CF-Session": f"{COOKIE}={cloud.token(ALICE)}"}
    with cloud.browser(None) as mallory:
        page = mallory.get("/peregrine/review", headers=forged)
        assert page.status_code == 401
        assert page.headers["content-type"].startswith("text/html")
        assert "sign in" in page.text.lower()
        api = mallory.get("/peregrine/api/v1/jobs", headers=forged)
        assert api.status_code == 401
        assert api.json()["error"] == "sign in required"
        assert "Alice" not in api.text


def test_mallorys_own_cookie_never_shows_alices_data(cloud: CloudFront) -> None:
    with cloud.browser(ALICE) as alice, cloud.browser(MALLORY) as mallory:
        _add_job(alice, "Alice's secret harrier role")
        forged = {"X-CF-Session": f"{COOKIE}={cloud.token(ALICE)}"}
        titles = [
            job["title"]
            for job in mallory.get("/peregrine/api/v1/jobs", headers=forged).json()["items"]
        ]
        assert "Alice's secret harrier role" not in titles


def test_a_cookie_signed_with_another_key_gets_the_sign_in_page(cloud: CloudFront) -> None:
    import jwt

    forged = jwt.encode(session_claims(ALICE), secrets.token_hex(32), "HS256")
    with httpx.Client(base_url=cloud.caddy.url, verify=False, cookies={COOKIE: forged}) as c:
        assert c.get("/peregrine/review").status_code == 401
        assert c.get("/peregrine/api/v1/jobs").status_code == 401


@pytest.mark.parametrize("path", ["/", "/directus", "/peregrine-evil", "/peregrinex/api/v1/jobs"])
def test_other_paths_are_not_yet_available(cloud: CloudFront, path: str) -> None:
    with cloud.browser(ALICE) as alice:
        response = alice.get(path)
    assert response.status_code == 503
    assert "Not yet available" in response.text


def test_pages_and_forms_work_under_the_prefix_over_https(cloud: CloudFront) -> None:
    with cloud.browser(BOB) as bob:
        job_id = _add_job(bob, "Bob merlin role")
        page = bob.get("/peregrine/review")
        assert page.status_code == 200
        assert "Bob merlin role" in page.text
        assert 'action="/peregrine/review/move"' in page.text
        csrf_cookie = next(c for c in bob.cookies.jar if c.name == "peregrine_csrf")
        assert csrf_cookie.secure
        assert csrf_cookie.path == "/peregrine"
        match = _CSRF_FIELD.search(page.text)
        assert match, "the review form carries a CSRF token"
        moved = bob.post(
            "/peregrine/review/move",
            data={"act": f"approve:{job_id}", "csrf_token": match.group(1)},
        )
        assert moved.status_code == 303, moved.text
        location = httpx.URL(moved.headers["location"])
        assert location.path == "/peregrine/review"
        assert location.scheme in {"", "https"}
        assert bob.get(f"/peregrine/api/v1/jobs/{job_id}").json()["status"] == "approved"


def test_a_form_without_the_token_is_refused_and_changes_nothing(cloud: CloudFront) -> None:
    with cloud.browser(BOB) as bob:
        job_id = _add_job(bob, "Bob's hobby role")
        bob.get("/peregrine/review")
        refused = bob.post("/peregrine/review/move", data={"act": f"approve:{job_id}"})
        assert refused.status_code == 403
        assert bob.get(f"/peregrine/api/v1/jobs/{job_id}").json()["status"] == "pending"


def test_redirects_keep_the_prefix_and_https(cloud: CloudFront) -> None:
    with cloud.browser(ALICE) as alice:
        response = alice.get("/peregrine/api/v1/jobs/")
        assert response.status_code in {307, 308}
        location = httpx.URL(response.headers["location"])
        assert location.path == "/peregrine/api/v1/jobs"
        assert location.scheme in {"", "https"}
        followed = alice.get("/peregrine/api/v1/jobs/", follow_redirects=True)
        assert followed.status_code == 200


def test_static_files_are_served_under_the_prefix(cloud: CloudFront) -> None:
    with cloud.browser(None) as visitor:
        response = visitor.get("/peregrine/static/favicon.svg")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("image/svg+xml")


def test_plain_http_is_not_served_on_the_tls_port(cloud: CloudFront) -> None:
    plain = cloud.caddy.url.replace("https://", "http://")
    response = httpx.get(plain + "/peregrine/api/v1/jobs")
    assert response.status_code == 400
