"""`peregrine backup …` and `peregrine doctor` as an operator runs them."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner

from peregrine.cli.main import cli


@pytest.fixture
def run(tmp_path: Path):  # type: ignore[no-untyped-def]
    env = {"PEREGRINE_DATA_DIR": str(tmp_path / "data")}
    runner = CliRunner()

    def invoke(*args: str, **extra_env: str):  # type: ignore[no-untyped-def]
        return runner.invoke(cli, list(args), env={**env, **extra_env}, catch_exceptions=False)

    return invoke


def _add(run, n: int) -> None:  # type: ignore[no-untyped-def]
    result = run("jobs", "add", f"https://jobs.test/{n}", "--title", f"Role {n}")
    assert result.exit_code == 0, result.output


def test_export_import_and_rollback_round_trip(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _add(run, 1)
    out = tmp_path / "alice-backup.zip"
    result = run("backup", "export", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "1 jobs" in result.output
    assert out.stat().st_mode & 0o777 == 0o600

    _add(run, 2)
    result = run("backup", "import", str(out), "--yes")
    assert result.exit_code == 0, result.output
    assert "restored 1 jobs" in result.output
    assert "Role 2" not in run("jobs", "list").output

    result = run("backup", "rollback", "--yes")
    assert result.exit_code == 0, result.output
    assert "Role 2" in run("jobs", "list").output


def test_import_of_a_bad_file_is_one_line_and_exits_1(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _add(run, 1)
    bogus = tmp_path / "bogus.zip"
    bogus.write_bytes(os.urandom(5000))
    result = run("backup", "import", str(bogus), "--yes")
    assert result.exit_code == 1
    assert "error: this file is not a zip archive" in result.output
    assert "Traceback" not in result.output
    assert "Role 1" in run("jobs", "list").output


def test_export_without_a_database_says_so(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run("backup", "export", "--out", str(tmp_path / "x.zip"))
    assert result.exit_code == 1
    assert "no database" in result.output


def test_import_asks_before_replacing_data(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _add(run, 1)
    out = tmp_path / "b.zip"
    run("backup", "export", "--out", str(out))
    runner = CliRunner()
    result = runner.invoke(
        cli,
        ["backup", "import", str(out)],
        input="n\n",
        env={"PEREGRINE_DATA_DIR": str(tmp_path / "data")},
    )
    assert result.exit_code == 1
    assert "Aborted" in result.output


def test_doctor_reports_findings_with_ids(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _add(run, 1)
    os.chmod(tmp_path / "data", 0o700)
    result = run("doctor")
    assert result.exit_code == 0, result.output
    for finding in ("P001 ok", "P010 ok", "P011 ok", "P020", "P021 ok", "P030 ok", "P031 ok"):
        assert finding in result.output
    data = json.loads(run("doctor", "--json").output)
    assert {f["id"] for f in data} >= {"P001", "P030"}
    assert all(f["docs"].startswith("docs/doctor.md#p") for f in data)


def test_doctor_exits_non_zero_on_errors(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run("doctor", CLOUD_MODE="true", DEMO_MODE="true")
    assert result.exit_code == 1
    assert "P001 FAIL" in result.output
    assert "docs/doctor.md#p001" in result.output

    db = tmp_path / "data" / "staging.db"
    db.parent.mkdir(parents=True)
    db.write_bytes(b"garbage" * 1000)
    result = run("doctor")
    assert result.exit_code == 1
    assert "P030 FAIL" in result.output


def test_doctor_warns_about_a_data_folder_others_can_read(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    _add(run, 1)
    os.chmod(tmp_path / "data", 0o755)
    result = run("doctor")
    assert result.exit_code == 0
    assert "P011 warn" in result.output
