"""`peregrine letter generate` against a loopback model server."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from pypdf import PdfReader

from peregrine.cli.main import cli
from peregrine.storage.userdb import UserDB
from tests.support.llm_servers import backend_entry, fake_llm
from tests.support.seed import LETTER, seed_alice


def test_it_writes_a_letter_and_a_pdf(tmp_path: Path) -> None:
    data = tmp_path / "data"
    db = UserDB.open(data / "staging.db", create=True)
    job_id = seed_alice(db)
    db.close()
    with fake_llm("anthropic") as server:
        server.behaviour.text = LETTER
        config = tmp_path / "llm.json"
        config.write_text(json.dumps({"backends": [backend_entry(server, "claude", model="m")]}))
        env = {"PEREGRINE_DATA_DIR": str(data), "LLM_BACKENDS_FILE": str(config)}
        pdf = tmp_path / "letter.pdf"
        result = CliRunner().invoke(
            cli, ["letter", "generate", str(job_id), "--pdf", str(pdf)], env=env
        )
        assert result.exit_code == 0, result.output
        assert "Platform Engineer role at Hydra Energy" in result.output
        assert "saved as version 1 (generated, claude)" in result.output
        assert "Alice Ńowak-Müller" in PdfReader(pdf).pages[0].extract_text()
        again = CliRunner().invoke(
            cli, ["letter", "generate", str(job_id), "--feedback", "Shorter"], env=env
        )
        assert "saved as version 2 (refined, claude)" in again.output


def test_without_a_backend_it_says_what_to_configure(tmp_path: Path) -> None:
    data = tmp_path / "data"
    db = UserDB.open(data / "staging.db", create=True)
    job_id = seed_alice(db)
    db.close()
    result = CliRunner().invoke(
        cli, ["letter", "generate", str(job_id)], env={"PEREGRINE_DATA_DIR": str(data)}
    )
    assert result.exit_code == 1
    assert result.output.startswith("error: no LLM backend is configured for writing")
    assert "Traceback" not in result.output


def test_an_unknown_job_is_one_line(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        cli, ["letter", "generate", "77"], env={"PEREGRINE_DATA_DIR": str(tmp_path / "d")}
    )
    assert result.exit_code == 1
    assert "job 77 does not exist" in result.output


def test_a_broken_backends_file_is_one_line(tmp_path: Path) -> None:
    config = tmp_path / "llm.json"
    config.write_text('{"backends": [{"name": "x", "type": "gpt"}]}')
    result = CliRunner().invoke(
        cli,
        ["letter", "generate", "1"],
        env={"PEREGRINE_DATA_DIR": str(tmp_path / "d"), "LLM_BACKENDS_FILE": str(config)},
    )
    assert result.exit_code == 1
    assert result.output.startswith("error: LLM_BACKENDS_FILE llm.json: backends[0].type")
