"""Usage-event metadata passes only through its per-event allow-list, and nothing but the
telemetry module writes usage events."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from peregrine.platform.usage import EVENTS, UsageEventRejected, check_metadata
from peregrine.services.pipeline import STATUSES

ROOT = Path(__file__).resolve().parents[2]


def test_allowed_metadata_passes_unchanged() -> None:
    meta = {"trigger": "manual", "sources": 3, "jobs_found": 40, "jobs_new": 7, "duration_ms": 12}
    assert check_metadata("discovery_run", meta) == meta
    assert check_metadata("job_moved", {"to_status": "applied"}) == {"to_status": "applied"}
    assert check_metadata("research_generated", None) == {}


@pytest.mark.parametrize(
    ("event", "meta"),
    [
        ("job_moved", {"to_status": "Senior Engineer at Acme"}),  # free text
        ("job_moved", {"to_status": "https://jobs.example/42"}),  # URL
        ("job_moved", {"title": "Platform Engineer"}),  # key not on the list
        ("job_moved", {"email": "alice@example.com"}),
        ("discovery_run", {"trigger": "alice@example.com"}),
        ("discovery_run", {"sources": "3"}),  # number as text
        ("discovery_run", {"sources": True}),  # a bool is not a count
        ("discovery_run", {"sources": -1}),
        ("discovery_run", {"sources": 10**13}),
        ("discovery_run", {"sources": 2.5}),
        ("cover_letter_generated", {"regenerated": 1}),  # 1 is not a flag
        ("cover_letter_generated", {"words": {"nested": "dict"}}),
        ("cover_letter_generated", {"words": [1, 2]}),
        ("page_viewed", {}),  # unknown event
    ],
)
def test_anything_off_the_allow_list_is_refused(event: str, meta: dict[str, object]) -> None:
    with pytest.raises(UsageEventRejected):
        check_metadata(event, meta)


def test_refusals_name_the_key_never_the_value() -> None:
    with pytest.raises(UsageEventRejected) as caught:
        check_metadata("job_moved", {"to_status": "alice@example.com"})
    assert "alice" not in str(caught.value)
    assert "to_status" in str(caught.value)


def test_no_rule_admits_free_text() -> None:
    for event, rules in EVENTS.items():
        for key, rule in rules.items():
            assert rule is not str, f"{event}.{key} would admit free text"


def test_every_pipeline_status_is_accepted_and_nothing_else() -> None:
    for status in STATUSES:
        meta = {"from_status": status, "to_status": status}
        assert check_metadata("job_moved", meta) == meta
    with pytest.raises(UsageEventRejected):
        check_metadata("job_moved", {"to_status": "Applied at ACME"})


def test_only_the_telemetry_module_writes_usage_events() -> None:
    package = ROOT / "src" / "peregrine"
    writer = package / "platform" / "usage.py"
    # Any SQL that adds rows: INSERT INTO, COPY … FROM, or MERGE INTO the table, in any
    # spelling (quoted, schema-qualified, split across string pieces on one line).
    pattern = re.compile(
        r"(insert\s+into|copy|merge\s+into)\s+(\"?public\"?\.)?\"?usage_events\b", re.IGNORECASE
    )
    offenders = []
    for path in package.rglob("*"):
        if path.suffix not in {".py", ".sql"} or path == writer:
            continue
        text = path.read_text(encoding="utf-8")
        if pattern.search(text) or pattern.search(re.sub(r"\"\s*\n?\s*\"", "", text)):
            offenders.append(str(path.relative_to(package)))
    assert offenders == []
    assert pattern.search(writer.read_text(encoding="utf-8")), "the writer itself was not found"
