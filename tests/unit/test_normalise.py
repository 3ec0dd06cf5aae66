"""Salary parsing and annualisation, work mode, locations, dates and listing validation."""

from __future__ import annotations

from datetime import date

import pytest

from peregrine.services.normalise import (
    ListingError,
    detect_work_mode,
    locations_compatible,
    parse_date,
    parse_salary,
    to_new_job,
)
from peregrine.sources.base import RawListing

TODAY = date(2026, 11, 27)


@pytest.mark.parametrize(
    ("text", "low", "high", "currency", "interval", "annual_low", "annual_high"),
    [
        ("$45/hr", 45, 45, "USD", "hour", 93_600, 93_600),
        ("$45 an hour", 45, 45, "USD", "hour", 93_600, 93_600),
        ("$120k - $150k", 120_000, 150_000, "USD", "year", 120_000, 150_000),
        ("$120-150K per year", 120_000, 150_000, "USD", "year", 120_000, 150_000),
        ("£50,000 to £60,000 a year", 50_000, 60_000, "GBP", "year", 50_000, 60_000),
        ("up to $90k", None, 90_000, "USD", "year", None, 90_000),
        ("From €70.000", 70_000, None, "EUR", "year", 70_000, None),
        ("EUR 5.000 per month", 5_000, 5_000, "EUR", "month", 60_000, 60_000),
        ("CA$80k–95k", 80_000, 95_000, "CAD", "year", 80_000, 95_000),
        ("$600/day", 600, 600, "USD", "day", 156_000, 156_000),
        ("$2,000 weekly", 2_000, 2_000, "USD", "week", 104_000, 104_000),
        ("32.50 per hour", 32.5, 32.5, None, "hour", 67_600, 67_600),
    ],
)
def test_it_parses_and_annualises_salaries(
    text: str,
    low: float | None,
    high: float | None,
    currency: str | None,
    interval: str,
    annual_low: float | None,
    annual_high: float | None,
) -> None:
    salary = parse_salary(text)
    assert salary is not None
    assert (salary.min, salary.max, salary.currency, salary.interval) == (
        low,
        high,
        currency,
        interval,
    )
    assert (salary.annual_min, salary.annual_max) == (annual_low, annual_high)


@pytest.mark.parametrize(
    "text", ["", "competitive", "DOE", "$999,999,999 per year", "$0", "$1 per year", "x" * 600]
)
def test_it_drops_absent_or_absurd_salaries(text: str) -> None:
    assert parse_salary(text) is None


@pytest.mark.parametrize(
    ("texts", "mode"),
    [
        (("Senior Engineer (Remote)",), "remote"),
        (("Engineer", "Austin, TX", "Hybrid: 3 days in the office"), "hybrid"),
        (("Engineer", "", "This role is not remote; on-site in Berlin"), "onsite"),
        (("Engineer", "Berlin", "Work on-site with the team"), "onsite"),
        (("Engineer", "Berlin", "Build things"), "unknown"),
        (("Remote-first culture lead",), "remote"),
    ],
)
def test_it_detects_work_mode(texts: tuple[str, ...], mode: str) -> None:
    assert detect_work_mode(*texts) == mode


def test_locations_are_compatible_when_the_city_matches_or_one_is_blank() -> None:
    assert locations_compatible("Austin, TX", "Austin, Texas, United States")
    assert locations_compatible("", "Berlin")
    assert locations_compatible("Remote", "Austin, TX")
    assert not locations_compatible("Austin, TX", "Boston, MA, USA")
    assert not locations_compatible("Berlin, Germany", "Munich, Germany")


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2026-11-20", "2026-11-20"),
        ("2026-11-20T09:00:00-05:00", "2026-11-20"),
        ("Tue, 24 Nov 2026 10:00:00 GMT", "2026-11-24"),
        (1795600000000, "2026-11-25"),
        ("3 days ago", "2026-11-24"),
        ("30+ days ago", "2026-10-28"),
        ("today", "2026-11-27"),
        ("2099-01-01", None),
        ("someday", None),
        (None, None),
    ],
)
def test_it_reads_posting_dates(value: str | int | None, expected: str | None) -> None:
    assert parse_date(value, today=TODAY) == expected


def test_it_cleans_huge_and_non_utf8_descriptions() -> None:
    garbled = b"Caf\xe9 \xff\xfe engineer\x00 role".decode("utf-8", errors="replace")
    raw = RawListing(
        source="feeds",
        title="  Senior\x00 Engineer\t",
        url="https://jobs.example.org/1?utm_source=x",
        description=garbled + " <b>x</b> " + "y" * 10_000_000,
    )
    job = to_new_job(raw, today=TODAY)
    assert job.title == "Senior Engineer"
    assert "\x00" not in job.description
    assert len(job.description) <= 100_000
    assert job.description.endswith("[… truncated]")
    assert job.url == "https://jobs.example.org/1"
    assert job.source_url == "https://jobs.example.org/1?utm_source=x"


@pytest.mark.parametrize(
    ("title", "url", "reason"),
    [
        ("", "https://x.example.org/1", "no title"),
        ("Engineer", "javascript:alert(1)", "bad link"),
        ("Engineer", "", "bad link"),
    ],
)
def test_it_rejects_listings_without_title_or_usable_link(
    title: str, url: str, reason: str
) -> None:
    with pytest.raises(ListingError, match=reason):
        to_new_job(RawListing(source="x", title=title, url=url))


def test_structured_salary_with_absurd_values_is_dropped_not_stored() -> None:
    job = to_new_job(
        RawListing(
            source="lever",
            title="Engineer",
            url="https://x.example.org/1",
            salary_min=1e12,
            salary_max=2e12,
            salary_interval="year",
        )
    )
    assert job.salary_annual_min is None
    assert job.salary_annual_max is None
