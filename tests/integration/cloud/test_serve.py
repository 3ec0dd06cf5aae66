"""`peregrine serve` in cloud mode refuses bad key material with one line, no traceback."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

from fastapi.testclient import TestClient

from peregrine.app import create_app
from tests.integration.cloud.conftest import make_settings


def _serve(
    data_root: Path, jwt_secret: str, server_secret: str
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "CLOUD_MODE": "true",
        "CLOUD_DATA_ROOT": str(data_root),
        "DIRECTUS_JWT_SECRET": jwt_secret,
        "CF_SERVER_SECRET": server_secret,
        "PEREGRINE_PORT": "1",  # never reached: the checks fail first
    }
    return subprocess.run(
        [sys.executable, "-m", "peregrine", "serve"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_serve_refuses_a_wrong_server_secret_in_one_line(
    data_root: Path, jwt_secret: str, server_secret: str
) -> None:
    with TestClient(create_app(make_settings(data_root, jwt_secret, server_secret))):
        pass  # creates the canary with the right secret
    wrong = secrets.token_hex(32)
    proc = _serve(data_root, jwt_secret, wrong)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "error: CF_SERVER_SECRET does not open the key-check canary" in proc.stderr
    assert wrong not in proc.stderr + proc.stdout


def test_serve_refuses_a_missing_data_root_in_one_line(
    tmp_path: Path, jwt_secret: str, server_secret: str
) -> None:
    proc = _serve(tmp_path / "absent", jwt_secret, server_secret)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "error: CLOUD_DATA_ROOT" in proc.stderr
    assert not (tmp_path / "absent").exists()
