"""`peregrine admin export-user` and `rotate-secret` on real SQLCipher tenant databases."""

from __future__ import annotations

import os
import random
import secrets
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
import zipfile
from pathlib import Path

from click.testing import CliRunner, Result
from fastapi.testclient import TestClient

from peregrine.app import create_app
from peregrine.cli.main import cli
from peregrine.storage.rekey import which_key
from peregrine.tenancy import provisioning
from peregrine.tenancy.identity import TenantLayout, derive_key
from peregrine.tenancy.keycheck import CANARY_LABEL, CANARY_NAME, check_canary
from tests.integration.cloud.conftest import ALICE, BOB, Minter, cookie, make_settings


def _env(root: Path, jwt_secret: str, secret: str, previous: str | None = None) -> dict[str, str]:
    env = {
        "CLOUD_MODE": "true",
        "CLOUD_DATA_ROOT": str(root),
        "DIRECTUS_JWT_SECRET": jwt_secret,
        "CF_SERVER_SECRET": secret,
    }
    if previous is not None:
        env["CF_SERVER_SECRET_PREVIOUS"] = previous
    return env


def _run(env: dict[str, str], *args: str) -> Result:
    return CliRunner().invoke(cli, list(args), env=env, catch_exceptions=False)


def _users(root: Path, secret: str, count: int) -> list[str]:
    check_canary(root, secret.encode())
    layout = TenantLayout(root, "peregrine", secret.encode())
    ids = [str(uuid.UUID(int=random.getrandbits(128), version=4)) for _ in range(count)]
    for uid in ids:
        provisioning.provision(layout.tenant(uid))
    return ids


def _db(root: Path, uid: str) -> Path:
    return root / uid / "peregrine" / "staging.db"


def test_export_user_writes_a_zip_that_stock_sqlite_opens(
    tmp_path: Path, data_root: Path, jwt_secret: str, server_secret: str, mint: Minter
) -> None:
    with TestClient(create_app(make_settings(data_root, jwt_secret, server_secret))) as client:
        response = client.post(
            "/api/v1/jobs",
            json={"url": "https://jobs.example/7", "title": "Exported"},
            headers=cookie(mint(ALICE)),
        )
        assert response.status_code == 201
    out = tmp_path / "alice.zip"
    result = _run(
        _env(data_root, jwt_secret, server_secret), "admin", "export-user", ALICE, "--out", str(out)
    )
    assert result.exit_code == 0, result.output
    assert "1 jobs" in result.output
    with zipfile.ZipFile(out) as archive:
        names = archive.namelist()
        db_name = next(n for n in names if n.endswith(".db"))
        (tmp_path / "plain.db").write_bytes(archive.read(db_name))
    conn = sqlite3.connect(tmp_path / "plain.db")
    try:
        assert conn.execute("SELECT title FROM jobs").fetchall() == [("Exported",)]
    finally:
        conn.close()
    # No decrypted scratch copy is left in the user's folder.
    assert not [
        p for p in (data_root / ALICE).rglob("*") if p.suffix == ".db" and p.name != "staging.db"
    ]


def test_export_user_refuses_unknown_and_malformed_users(
    tmp_path: Path, data_root: Path, jwt_secret: str, server_secret: str
) -> None:
    env = _env(data_root, jwt_secret, server_secret)
    missing = _run(env, "admin", "export-user", BOB, "--out", str(tmp_path / "b.zip"))
    assert missing.exit_code == 1
    assert "has no database" in missing.output
    assert BOB not in missing.output
    bad = _run(env, "admin", "export-user", "../../etc", "--out", str(tmp_path / "x.zip"))
    assert bad.exit_code == 1
    assert "not a user id" in bad.output
    assert not list(tmp_path.glob("*.zip"))


def test_rotate_secret_rekeys_every_database_and_the_canary(
    data_root: Path, jwt_secret: str, server_secret: str
) -> None:
    ids = _users(data_root, server_secret, 5)
    new = secrets.token_hex(32)
    env = _env(data_root, jwt_secret, new, previous=server_secret)
    result = _run(env, "admin", "rotate-secret")
    assert result.exit_code == 0, result.output
    assert "re-keyed 6" in result.output  # five users and the canary
    for uid in ids:
        assert which_key(_db(data_root, uid), [derive_key(new.encode(), uid)]) == 0
    assert check_canary(data_root, new.encode(), create=False) is False
    again = _run(env, "admin", "rotate-secret")
    assert again.exit_code == 0
    assert "done by an earlier run 6" in again.output
    # The doctor agrees the new secret opens the canary.
    doctor = _run(_env(data_root, jwt_secret, new), "doctor")
    assert "P050 ok" in doctor.output


def test_rotate_secret_reports_failures_and_exits_non_zero(
    data_root: Path, jwt_secret: str, server_secret: str
) -> None:
    ids = _users(data_root, server_secret, 2)
    _db(data_root, ids[0]).write_bytes(b"not a database at all" * 100)
    new = secrets.token_hex(32)
    result = _run(
        _env(data_root, jwt_secret, new, previous=server_secret), "admin", "rotate-secret"
    )
    assert result.exit_code == 1
    assert f"failed: {ids[0]}" in result.output
    assert which_key(_db(data_root, ids[1]), [derive_key(new.encode(), ids[1])]) == 0


def test_rotate_secret_needs_both_secrets(
    data_root: Path, jwt_secret: str, server_secret: str
) -> None:
    result = _run(_env(data_root, jwt_secret, server_secret), "admin", "rotate-secret")
    assert result.exit_code == 1
    assert "CF_SERVER_SECRET_PREVIOUS" in result.output


def test_a_killed_rotation_leaves_every_database_openable_and_a_rerun_finishes(
    data_root: Path, jwt_secret: str, server_secret: str
) -> None:
    ids = _users(data_root, server_secret, 24)
    new = secrets.token_hex(32)
    env = {**os.environ, **_env(data_root, jwt_secret, new, previous=server_secret)}
    rng = random.Random(8)
    for _ in range(4):
        proc = subprocess.Popen(
            [sys.executable, "-m", "peregrine", "admin", "rotate-secret"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(rng.uniform(0.3, 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        for uid in ids:
            keys = [derive_key(server_secret.encode(), uid), derive_key(new.encode(), uid)]
            assert which_key(_db(data_root, uid), keys) is not None, uid
        canary_keys = [
            derive_key(server_secret.encode(), CANARY_LABEL),
            derive_key(new.encode(), CANARY_LABEL),
        ]
        assert which_key(data_root / CANARY_NAME, canary_keys) is not None
    final = subprocess.run(
        [sys.executable, "-m", "peregrine", "admin", "rotate-secret"],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert final.returncode == 0, final.stderr
    for uid in ids:
        assert which_key(_db(data_root, uid), [derive_key(new.encode(), uid)]) == 0
