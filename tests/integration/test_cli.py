"""The CLI: real commands on a real database, one-line errors, no tracebacks."""

from __future__ import annotations

import os
import subprocess
import sys
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


def test_add_list_show_move_undo(run) -> None:  # type: ignore[no-untyped-def]
    result = run(
        "jobs",
        "add",
        "https://jobs.example/42?utm_source=feed",
        "--title",
        "Platform Engineer",
        "--company",
        "Acme",
    )
    assert result.exit_code == 0, result.output
    assert "added job 1" in result.output
    result = run("jobs", "add", "https://jobs.example/42", "--title", "Again")
    assert "already known as job 1" in result.output
    assert "Platform Engineer" in run("jobs", "list").output
    assert run("jobs", "move", "1", "approved").output.strip() == "job 1: pending → approved"
    shown = run("jobs", "show", "1").output
    assert "pending → approved" in shown
    assert "can move to: applied, dismissed" in shown
    assert "(undone)" in run("jobs", "undo").output
    assert "pending" in run("jobs", "list", "--status", "pending").output


def test_forbidden_move_is_one_line_and_exit_1(run) -> None:  # type: ignore[no-untyped-def]
    run("jobs", "add", "https://jobs.example/1", "--title", "X")
    result = run("jobs", "move", "1", "hired")
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "error: cannot move a job from 'pending' to 'hired'; from 'pending' it can go to: "
        "approved, dismissed, archived"
    ]


def test_unknown_job_and_status(run) -> None:  # type: ignore[no-untyped-def]
    assert run("jobs", "show", "7").exit_code == 1
    run("jobs", "add", "https://jobs.example/1", "--title", "X")
    result = run("jobs", "move", "1", "interview")
    assert result.exit_code == 1
    assert "unknown status 'interview'" in result.output


def test_csv_import_is_all_or_nothing_by_default(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    csv_file = tmp_path / "jobs.csv"
    csv_file.write_text("title,url\nA,https://a.example/1\n,https://a.example/2\n")
    result = run("jobs", "import", str(csv_file))
    assert result.exit_code == 1
    assert "line 3: the title is empty" in result.output
    assert "nothing was imported" in result.output
    assert "no jobs match" in run("jobs", "list").output
    result = run("jobs", "import", str(csv_file), "--skip-invalid")
    assert result.exit_code == 0
    assert "imported 1 new job(s)" in result.output


def test_config_round_trip_and_bad_files(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    good = tmp_path / "good.yaml"
    good.write_text(
        "profile:\n  full_name: Ada Łukasiewicz\nkeywords:\n  skill: [Python, C++]\n"
        "search_profiles:\n  - name: Backend\n    titles: [Backend Engineer]\n"
        "    remote_preference: remote\n"
    )
    assert run("config", "import", str(good)).exit_code == 0
    exported = run("config", "export").output
    assert "Ada Łukasiewicz" in exported
    assert "Backend Engineer" in exported
    bad = tmp_path / "bad.yaml"
    bad.write_text("profile:\n  fullname: x\nkeywords: {skill: [1, 2]}\n")
    result = run("config", "import", str(bad))
    assert result.exit_code == 1
    assert "profile.fullname: unknown key (did you mean 'full_name'?)" in result.output
    assert "keywords.skill: must be a list of text" in result.output
    # Nothing from the bad file was applied.
    assert "Ada Łukasiewicz" in run("config", "export").output
    broken = tmp_path / "broken.yaml"
    broken.write_text("profile: [unclosed\n")
    result = run("config", "import", str(broken))
    assert result.exit_code == 1
    assert "line 2" in result.output


def test_bad_environment_is_one_line(run) -> None:  # type: ignore[no-untyped-def]
    result = run("jobs", "list", CLOUD_MODE="perhaps")
    assert result.exit_code == 1
    assert result.output.strip() == (
        "error: CLOUD_MODE must be one of true/false/1/0/yes/no, got 'perhaps'."
    )


def test_a_non_sqlite_file_is_refused_without_traceback(tmp_path: Path) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / "staging.db").write_text("hello, I am not a database\n" * 50)
    env = {**os.environ, "PEREGRINE_DATA_DIR": str(data)}
    proc = subprocess.run(
        [sys.executable, "-m", "peregrine", "jobs", "list"],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    assert "staging.db is not a Peregrine database" in proc.stderr
    assert (data / "staging.db").read_text().startswith("hello")


def test_db_migrate(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    result = run("db", "migrate")
    assert result.exit_code == 0
    assert "schema version" in result.output
    assert (tmp_path / "data" / "staging.db").exists()


@pytest.mark.parametrize(
    "args", [[], ["jobs"], ["jobs", "list"], ["jobs", "import"], ["config"], ["db"], ["serve"]]
)
def test_help_everywhere(args: list[str]) -> None:
    result = CliRunner().invoke(cli, [*args, "--help"])
    assert result.exit_code == 0
    assert "Usage:" in result.output
