"""Interview times and calendar files."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from peregrine.services import interviews


def test_it_converts_wall_clock_time_in_a_zone_to_utc() -> None:
    when = interviews.parse("2026-07-01", "09:00", "America/New_York")
    assert when is not None
    assert when.stored == "2026-07-01T09:00"
    assert when.utc == datetime(2026, 7, 1, 13, 0, tzinfo=UTC)


def test_empty_input_clears_the_interview() -> None:
    assert interviews.parse("", "", "Europe/Berlin") is None


@pytest.mark.parametrize("zone", ["", "Mars/Olympus", "../../etc/passwd", "europe/berlin"])
def test_it_rejects_unknown_time_zones(zone: str) -> None:
    with pytest.raises(interviews.InterviewInputError) as info:
        interviews.parse("2026-07-01", "09:00", zone)
    assert "interview_tz" in info.value.errors


def test_it_rejects_a_time_that_the_clock_change_skips() -> None:
    with pytest.raises(interviews.InterviewInputError, match="does not exist"):
        interviews.parse("2026-03-08", "02:30", "America/New_York")


def test_ics_text_is_escaped_and_long_lines_are_folded() -> None:
    when = interviews.parse("2026-12-04", "14:30", "Asia/Tokyo")
    assert when is not None
    body = interviews.ics(
        job_id=7,
        when=when,
        title="Ingénieur, données; " + "é" * 60,
        company="Back\\slash",
        description="line one\nline two",
        now=datetime(2026, 11, 27, tzinfo=UTC),
    )
    lines = body.split("\r\n")
    assert all(len(line.encode()) <= 75 for line in lines)
    unfolded = body.replace("\r\n ", "")
    assert "SUMMARY:Interview: Ingénieur\\, données\\; " in unfolded
    assert "at Back\\\\slash" in unfolded
    assert "line one\\nline two" in unfolded
    assert "DTSTART:20261204T053000Z" in unfolded
    assert "DTSTAMP:20261127T000000Z" in unfolded
    body.encode().decode("utf-8")  # folding never splits a character
