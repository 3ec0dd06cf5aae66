"""`peregrine discover`, `peregrine score` and `jobs add URL` without a title."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from peregrine.cli.main import cli
from tests.replay import html_reply, serve


@pytest.fixture
def run(tmp_path: Path):  # type: ignore[no-untyped-def]
    env = {"PEREGRINE_DATA_DIR": str(tmp_path / "data")}
    runner = CliRunner()

    def invoke(*args: str):  # type: ignore[no-untyped-def]
        return runner.invoke(cli, list(args), env=env, catch_exceptions=False)

    return invoke


def test_discover_without_profiles_says_what_to_do(run) -> None:  # type: ignore[no-untyped-def]
    result = run("discover")
    assert result.exit_code == 1
    assert "error: there is no enabled search profile" in result.output
    assert "Traceback" not in result.output


def test_discover_refuses_unknown_sources(run) -> None:  # type: ignore[no-untyped-def]
    result = run("discover", "--source", "monster")
    assert result.exit_code == 2
    assert "monster" in result.output


def test_score_scores_every_job_and_prints_a_summary(run) -> None:  # type: ignore[no-untyped-def]
    run("jobs", "add", "https://x.example.org/1", "--title", "Python Engineer")
    result = run("score")
    assert result.exit_code == 0, result.output
    assert "scored 1 job(s); average score" in result.output
    assert "Python Engineer" in run("jobs", "list").output


def test_jobs_add_without_title_refuses_internal_addresses(run) -> None:  # type: ignore[no-untyped-def]
    with serve({"/": html_reply("<title>secret admin</title>")}) as canary:
        result = run("jobs", "add", f"http://127.0.0.1:{canary.port}/")
        assert canary.seen == []
    assert result.exit_code == 1
    assert "refused to fetch 127.0.0.1: it points to a loopback address" in result.output
    result = run("jobs", "add", "file:///etc/passwd")
    assert result.exit_code == 1
    assert "only http and https" in result.output


def test_discover_exits_1_when_every_source_failed(run, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    config = tmp_path / "profiles.yaml"
    with serve({"/feed": html_reply("x")}) as canary:
        config.write_text(
            "version: 1\nsearch_profiles:\n  - name: main\n"
            f"    sources: ['http://127.0.0.1:{canary.port}/feed']\n"
        )
        assert run("config", "import", str(config)).exit_code == 0
        result = run("discover")
        assert canary.seen == []
    assert result.exit_code == 1
    assert "feeds" in result.output
    assert "refused to fetch 127.0.0.1" in result.output
    assert "error: every source failed" in result.output
