"""`peregrine healthcheck`, the container probe, against a real server and an empty port."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.integration.caddy_front import free_port, start_app


def _probe(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "peregrine", "healthcheck", "--timeout", "2"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def test_it_passes_when_the_server_answers_under_its_prefix(tmp_path: Path) -> None:
    with start_app(tmp_path) as app:
        result = _probe({"PEREGRINE_PORT": str(app.port), "PEREGRINE_ROOT_PATH": "/peregrine"})
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "ok"


def test_it_fails_with_one_line_when_nothing_listens() -> None:
    result = _probe({"PEREGRINE_PORT": str(free_port())})
    assert result.returncode == 1
    assert result.stderr.startswith("error: no answer from 127.0.0.1:")
    assert "Traceback" not in result.stderr
