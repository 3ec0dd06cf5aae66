"""The configuration reference documents every setting the code reads."""

from __future__ import annotations

import re
from pathlib import Path

from peregrine.settings import SPECS

ROOT = Path(__file__).resolve().parents[2]


def test_every_setting_is_documented() -> None:
    text = (ROOT / "docs" / "configuration.md").read_text()
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", text, flags=re.MULTILINE))
    declared = {spec.name for spec in SPECS}
    assert declared - documented == set(), "settings missing from docs/configuration.md"
    assert documented - declared == set(), "docs/configuration.md names unknown settings"


def test_no_module_reads_the_environment_except_settings() -> None:
    package = ROOT / "src" / "peregrine"
    offenders = []
    for path in package.rglob("*.py"):
        if path.name == "settings.py":
            continue
        text = path.read_text()
        if re.search(r"os\.environ(?!\.get\(\"PEREGRINE_DEBUG\"\))|os\.getenv", text):
            offenders.append(str(path.relative_to(package)))
    assert offenders == []


def test_readme_first_screen_shows_the_two_commands() -> None:
    first_screen = "\n".join((ROOT / "README.md").read_text().splitlines()[:30])
    assert "make run" in first_screen
    assert "make test" in first_screen
