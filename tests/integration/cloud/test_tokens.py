"""Every malformed, forged or wrong-kind token is a 401 and leaves the disk untouched."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any

import jwt
import pytest
from fastapi.testclient import TestClient

from tests.integration.cloud.conftest import ALICE, COOKIE, DROP, Minter, cookie, files_under

CANARY_ONLY = {".keycheck.db", ".keycheck.lock"}


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def forge(header: dict[str, Any], claims: dict[str, Any], secret: str | None) -> str:
    """A token with any header, HMAC-SHA256-signed with ``secret`` (or unsigned)."""
    signing_input = f"{_b64(json.dumps(header).encode())}.{_b64(json.dumps(claims).encode())}"
    if secret is None:
        return signing_input + "."
    mac = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(mac)}"


def _base(**extra: Any) -> dict[str, Any]:
    now = int(time.time())
    return {"iat": now, "exp": now + 900, "iss": "directus", **extra}


def token_cases(mint: Minter, jwt_secret: str) -> dict[str, str]:
    now = int(time.time())
    session = {
        "id": ALICE,
        "role": "r",
        "app_access": True,
        "admin_access": False,
        **_base(),
    }
    return {
        "alg none": forge({"alg": "none", "typ": "JWT"}, session, None),
        "alg none signed": forge({"alg": "none", "typ": "JWT"}, session, jwt_secret),
        "wrong secret": mint(key="another-secret-of-thirty-two-bytes-at-least!"),
        "HS384": jwt.encode(session, jwt_secret, algorithm="HS384"),
        "HS512": jwt.encode(session, jwt_secret, algorithm="HS512"),
        "RS256 header, HMAC body": forge({"alg": "RS256", "typ": "JWT"}, session, jwt_secret),
        "expired": mint(exp=now - 120, iat=now - 1000),
        "future iat": mint(iat=now + 3600, exp=now + 7200),
        "missing exp": mint(exp=DROP),
        "missing iat": mint(iat=DROP),
        "missing iss": mint(iss=DROP),
        "wrong iss": mint(iss="someone-else"),
        "aud present": mint(aud="peregrine"),
        "missing role": mint(role=DROP),
        "missing app_access": mint(app_access=DROP),
        "missing admin_access": mint(admin_access=DROP),
        "missing id": mint(DROP),
        "password reset": jwt.encode(
            _base(email="alice@example.org", scope="password-reset", hash="abc"),
            jwt_secret,
            algorithm="HS256",
        ),
        "password reset shaped like a session": mint(scope="password-reset"),
        "invite": jwt.encode(
            _base(email="alice@example.org", scope="invite"), jwt_secret, algorithm="HS256"
        ),
        "share": jwt.encode(
            _base(
                share="2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d",
                share_scope={"collection": "jobs", "item": "1"},
                role=None,
                app_access=False,
                admin_access=False,
            ),
            jwt_secret,
            algorithm="HS256",
        ),
        "share carrying an id": mint(share="2a3b4c5d-6e7f-4a8b-9c0d-1e2f3a4b5c6d"),
        "oauth state": jwt.encode(
            _base(verifier="x" * 43, redirect="/admin", prompt=False),
            jwt_secret,
            algorithm="HS256",
        ),
        "1 MB": mint(padding="A" * 1_000_000),
        "garbage": "not-a-token",
        "three dots": "a.b.c",
        "empty parts": "..",
        "unicode": "ünïcødé.tøkén.✓",
        "base64 junk": _b64(b"\x00" * 64) + "." + _b64(b"{") + ".x",
    }


def identity_cases(mint: Minter) -> dict[str, str]:
    return {
        "dot-dot": mint("../../etc"),
        "absolute": mint("/etc"),
        "upper case": mint(ALICE.upper()),
        "braced": mint("{" + ALICE + "}"),
        "urn": mint("urn:uuid:" + ALICE),
        "no dashes": mint(ALICE.replace("-", "")),
        "trailing newline": mint(ALICE + "\n"),
        "NUL": mint(ALICE[:8] + "\x00" + ALICE[9:]),
        "NUL suffix": mint(ALICE + "\x00"),
        "integer": mint(12345),
        "null": mint(None),
        "list": mint([ALICE]),
        "object": mint({"id": ALICE}),
        "bool": mint(True),
        "empty": mint(""),
        "dot-dot inside": mint(ALICE[:9] + "../" + ALICE[12:]),
    }


def _assert_refused(client: TestClient, data_root: Path, token: str, case: str) -> None:
    # Bytes, so non-ASCII garbage reaches the app as a browser could send it.
    headers = {name: value.encode() for name, value in cookie(token).items()}
    response = client.get("/api/v1/jobs", headers=headers)  # type: ignore[arg-type]
    assert response.status_code == 401, f"{case}: {response.status_code} {response.text}"
    assert response.json()["error"] == "sign in required"
    assert files_under(data_root) == CANARY_ONLY, f"{case} created files"


def test_it_rejects_every_forged_expired_or_wrong_kind_token(
    cloud_client: TestClient, data_root: Path, mint: Minter, jwt_secret: str
) -> None:
    for case, token in token_cases(mint, jwt_secret).items():
        _assert_refused(cloud_client, data_root, token, case)


@pytest.mark.parametrize("case", list(identity_cases(lambda *a, **k: "").keys()))
def test_it_rejects_ids_that_are_not_canonical_uuids(
    cloud_client: TestClient, data_root: Path, mint: Minter, case: str
) -> None:
    _assert_refused(cloud_client, data_root, identity_cases(mint)[case], case)
    assert not Path("/etc/peregrine").exists()


def test_a_valid_session_token_is_accepted(
    cloud_client: TestClient, data_root: Path, mint: Minter
) -> None:
    response = cloud_client.get("/api/v1/jobs", headers=cookie(mint()))
    assert response.status_code == 200, response.text
    assert (data_root / ALICE / "peregrine" / "staging.db").is_file()


def test_it_accepts_tokens_within_thirty_seconds_of_leeway(
    cloud_client: TestClient, mint: Minter
) -> None:
    now = int(time.time())
    response = cloud_client.get("/api/v1/jobs", headers=cookie(mint(exp=now - 10, iat=now - 900)))
    assert response.status_code == 200


def test_it_refuses_two_session_cookies_even_when_both_are_valid(
    cloud_client: TestClient, data_root: Path, mint: Minter
) -> None:
    header = {"X-CF-Session": f"{COOKIE}={mint()}; {COOKIE}={mint()}"}
    assert cloud_client.get("/api/v1/jobs", headers=header).status_code == 401
    assert files_under(data_root) == CANARY_ONLY


def test_no_cookie_at_all_is_a_401(cloud_client: TestClient, data_root: Path) -> None:
    assert cloud_client.get("/api/v1/jobs").status_code == 401
    assert cloud_client.post("/api/v1/jobs", json={}).status_code == 401
    assert files_under(data_root) == CANARY_ONLY


def test_a_malformed_unrelated_cookie_does_not_hide_the_session(
    cloud_client: TestClient, mint: Minter
) -> None:
    header = {"X-CF-Session": f'bad"cookie; =novalue; junk; a=b=c; {COOKIE}="{mint()}"; z'}
    assert cloud_client.get("/api/v1/jobs", headers=header).status_code == 200


def test_the_request_cookie_is_used_when_caddy_sent_no_copy(
    cloud_client: TestClient, mint: Minter
) -> None:
    response = cloud_client.get("/api/v1/jobs", headers={"Cookie": f"{COOKIE}={mint()}"})
    assert response.status_code == 200


def test_the_caddy_copy_wins_over_the_request_cookie(
    cloud_client: TestClient, mint: Minter
) -> None:
    headers = {"X-CF-Session": "theme=dark", "Cookie": f"{COOKIE}={mint()}"}
    assert cloud_client.get("/api/v1/jobs", headers=headers).status_code == 401


def test_tokens_never_reach_the_logs(
    cloud_client: TestClient, mint: Minter, jwt_secret: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level("DEBUG")
    good, bad = mint(), mint(iss="nope")
    cloud_client.get("/api/v1/jobs", headers=cookie(good))
    cloud_client.get("/api/v1/jobs", headers=cookie(bad))
    logged = caplog.text
    for token in (good, bad):
        assert token not in logged
        assert token.split(".")[2] not in logged
    assert jwt_secret not in logged
