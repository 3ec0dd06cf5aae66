"""The deployment files say what the runbook says (no Docker engine here: test the files)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from peregrine.cli.main import cli
from peregrine.cli.reference import render
from peregrine.settings import SPECS

ROOT = Path(__file__).resolve().parents[2]
RUNBOOK = ROOT / "docs" / "cloud-deployment.md"
COMPOSE_FILES = ("compose.yml", "compose.demo.yml", "compose.cloud.yml")
COMPOSE_ONLY_VARIABLES = {"PEREGRINE_UID", "PEREGRINE_GID"}


def _load(name: str) -> dict[str, Any]:
    data = yaml.safe_load((ROOT / name).read_text())
    assert isinstance(data, dict)
    return data


def _items(cell: str) -> list[str]:
    return re.findall(r"`([^`]*)`", cell)


def _documented_services() -> dict[tuple[str, str], dict[str, Any]]:
    """Rows of the compose table in the runbook, keyed by (file, service)."""
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for line in RUNBOOK.read_text().splitlines():
        if not line.startswith("| `compose"):
            continue
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        assert len(cells) == 8, line
        file, project, service, command, ports, environment, env_file, mounts = cells
        rows[(_items(file)[0], _items(service)[0])] = {
            "project": _items(project)[0],
            "command": _items(command)[0].split(),
            "ports": _items(ports),
            "environment": dict(item.split("=", 1) for item in _items(environment)),
            "env_file": _items(env_file),
            "volumes": _items(mounts),
        }
    return rows


def _declared_services() -> dict[tuple[str, str], dict[str, Any]]:
    rows: dict[tuple[str, str], dict[str, Any]] = {}
    for name in COMPOSE_FILES:
        data = _load(name)
        for service, spec in data["services"].items():
            rows[(name, service)] = {
                "project": data["name"],
                "command": spec["command"],
                "ports": spec.get("ports", []),
                "environment": {k: str(v) for k, v in spec.get("environment", {}).items()},
                "env_file": spec.get("env_file", []),
                "volumes": spec.get("volumes", []),
            }
    return rows


def test_compose_files_match_the_runbook_table() -> None:
    documented = _documented_services()
    declared = _declared_services()
    assert sorted(documented) == sorted(declared)
    for key, spec in declared.items():
        assert spec == documented[key], key


@pytest.mark.parametrize("name", COMPOSE_FILES)
def test_app_ports_are_published_on_loopback_only(name: str) -> None:
    for service in _load(name)["services"].values():
        for port in service.get("ports", []):
            assert str(port).startswith("127.0.0.1:"), f"{name}: {port}"
        assert "network_mode" not in service


def test_each_mode_has_its_project_and_port() -> None:
    expected = {
        "compose.yml": ("peregrine", "8502", None),
        "compose.demo.yml": ("peregrine-demo", "8504", "DEMO_MODE"),
        "compose.cloud.yml": ("peregrine-cloud", "8505", "CLOUD_MODE"),
    }
    for name, (project, port, flag) in expected.items():
        data = _load(name)
        app = data["services"]["app"]
        assert data["name"] == project
        assert app["ports"] == [f"127.0.0.1:{port}:{port}"]
        assert str(app["environment"]["PEREGRINE_PORT"]) == port
        if flag:
            assert str(app["environment"][flag]) == "true"
        other = {"DEMO_MODE", "CLOUD_MODE"} - {flag}
        assert not other & set(app["environment"])


def test_the_cloud_worker_shares_the_apps_data_and_settings() -> None:
    services = _load("compose.cloud.yml")["services"]
    app, worker = services["app"], services["worker"]
    assert worker["command"] == ["peregrine", "worker"]
    assert worker["volumes"] == app["volumes"]
    assert worker["env_file"] == app["env_file"] == [".env"]
    assert "ports" not in worker


def test_no_compose_file_carries_a_secret() -> None:
    secrets = {spec.name for spec in SPECS if spec.secret}
    for name in COMPOSE_FILES:
        for service in _load(name)["services"].values():
            assert not secrets & set(service.get("environment", {})), name


def _env_example() -> list[str]:
    return (ROOT / ".env.example").read_text().splitlines()


def test_env_example_lists_every_setting_with_a_comment() -> None:
    lines = _env_example()
    listed: dict[str, int] = {}
    for number, line in enumerate(lines):
        match = re.match(r"^#?([A-Z][A-Z0-9_]*)=", line)
        if match:
            listed[match.group(1)] = number
    declared = {spec.name for spec in SPECS}
    assert declared - set(listed) == set(), "settings missing from .env.example"
    assert set(listed) - declared - COMPOSE_ONLY_VARIABLES == set(), "unknown names"
    for name in declared:
        number = listed[name]
        above = lines[number - 1]
        assert above.startswith("# "), name
        assert not re.match(r"^#?[A-Z_]+=", above[2:]), name


def test_env_example_sets_no_secret_value() -> None:
    secrets = {spec.name for spec in SPECS if spec.secret}
    for line in _env_example():
        name, _, value = line.partition("=")
        if name in secrets:
            assert value == "", f"{name} must be empty in .env.example"


def test_the_dockerfile_runs_unprivileged_with_a_healthcheck() -> None:
    text = (ROOT / "deploy" / "Dockerfile").read_text()
    instructions = [line for line in text.splitlines() if line and not line.startswith((" ", "#"))]
    bases = [line.split()[1] for line in instructions if line.startswith("FROM ")]
    assert bases
    assert all("slim" in base for base in bases)
    users = [line.split()[1] for line in instructions if line.startswith("USER ")]
    assert users
    assert users[-1].split(":")[0] not in {"root", "0"}
    assert re.search(r"^HEALTHCHECK .*\n?.*peregrine\", \"healthcheck", text, re.MULTILINE)
    assert instructions[-1] == 'CMD ["peregrine", "serve"]'
    copied = [line.split()[1] for line in instructions if line.startswith("COPY ")]
    assert all(src in {"pyproject.toml", "src", "--from=build"} for src in copied)
    for secret in (spec.name for spec in SPECS if spec.secret):
        assert secret not in text


def test_dockerignore_keeps_secrets_and_data_out() -> None:
    patterns = (ROOT / ".dockerignore").read_text().splitlines()
    rules = [p for p in patterns if p and not p.startswith("#")]
    assert rules[0] == "*", "exclude everything first, then admit what the image needs"
    for required in (".env*", "**/.env*", "data/", "demo/", "**/*.db", "**/*.key"):
        assert required in patterns, required
    allowed = {p[1:] for p in patterns if p.startswith("!")}
    assert allowed == {"pyproject.toml", "README.md", "src/", "deploy/Dockerfile"}


def test_the_caddyfile_routes_only_the_prefix_and_its_subtree() -> None:
    text = (ROOT / "deploy" / "Caddyfile").read_text()
    code = "\n".join(line.split("#")[0] for line in text.splitlines())
    assert re.search(r"path /peregrine /peregrine/\*", code)
    assert "/peregrine*" not in code
    assert "request_header -X-CF-Session" in code
    assert "header_up X-CF-Session {header.Cookie}" in code
    assert "bind " in code


def test_cli_reference_matches_the_commands() -> None:
    text = (ROOT / "docs" / "cli.md").read_text()
    expected = render(cli)
    assert expected in text, (
        "docs/cli.md is out of date: run `python -m peregrine.cli.reference docs/cli.md`"
    )
