"""Interview times (wall-clock time in an IANA zone) and their calendar (.ics) files."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from peregrine.lib.clock import utcnow

DEFAULT_MINUTES = 60


class InterviewInputError(ValueError):
    """Carries one message per field so a form can show each next to its input."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("; ".join(errors.values()))
        self.errors = errors


@dataclass(frozen=True, slots=True)
class InterviewTime:
    local: datetime  # naive wall-clock time in ``zone``
    zone: str

    @property
    def stored(self) -> str:
        return self.local.isoformat(timespec="minutes")

    @property
    def utc(self) -> datetime:
        return self.local.replace(tzinfo=ZoneInfo(self.zone)).astimezone(UTC)


@cache
def _known_zones() -> frozenset[str]:
    # available_timezones() walks the tz database on disk on every call (tens of ms).
    return frozenset(available_timezones())


@cache
def zone_names() -> tuple[str, ...]:
    return tuple(sorted(_known_zones()))


def _zone(name: str) -> ZoneInfo | None:
    # ZoneInfo accepts some odd keys (and raises ValueError on paths), so only names from
    # the tz database are taken.
    if not name or len(name) > 64 or name not in _known_zones():
        return None
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return None


def parse(day: str, clock: str, zone: str) -> InterviewTime | None:
    """Validate what the user typed; all three empty clears the interview (None)."""
    day, clock, zone = day.strip(), clock.strip(), zone.strip()
    if not (day or clock):
        return None
    errors: dict[str, str] = {}
    parsed_day: date | None = None
    parsed_time: time | None = None
    try:
        parsed_day = date.fromisoformat(day)
    except ValueError:
        errors["interview_date"] = "Interview date: use the form YYYY-MM-DD, e.g. 2026-12-04."
    try:
        parsed_time = time.fromisoformat(clock)
        if len(clock) > 8:
            raise ValueError
    except ValueError:
        errors["interview_time"] = "Interview time: use 24-hour HH:MM, e.g. 14:30."
    tz = _zone(zone)
    if tz is None:
        errors["interview_tz"] = (
            f"Time zone {zone!r} is not a known IANA time zone; use a name like "
            "Europe/Berlin or America/New_York."
            if zone
            else "Time zone is required, e.g. Europe/Berlin."
        )
    if errors or parsed_day is None or parsed_time is None or tz is None:
        raise InterviewInputError(errors)
    local = datetime.combine(parsed_day, parsed_time.replace(second=0, microsecond=0))
    # A wall-clock time inside a spring-forward gap does not exist; saying so beats
    # silently shifting the interview by an hour.
    round_trip = local.replace(tzinfo=tz).astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    if round_trip != local:
        raise InterviewInputError(
            {"interview_time": f"{clock} does not exist on {day} in {zone} (the clocks change)."}
        )
    return InterviewTime(local, zone)


def from_stored(at: str | None, zone: str | None) -> InterviewTime | None:
    if not at or not zone or _zone(zone) is None:
        return None
    try:
        return InterviewTime(datetime.fromisoformat(at).replace(tzinfo=None), zone)
    except ValueError:
        return None


def _escape(text: str) -> str:
    # RFC 5545 §3.3.11: backslash first, then the separators; newlines become \n.
    return (
        text.replace("\\", "\\\\")
        .replace(";", "\\;")
        .replace(",", "\\,")
        .replace("\r\n", "\\n")
        .replace("\n", "\\n")
        .replace("\r", "\\n")
    )


def _fold(line: str) -> str:
    """Fold at 75 octets without splitting a UTF-8 character (RFC 5545 §3.1)."""
    data = line.encode()
    if len(data) <= 75:
        return line
    parts: list[str] = []
    limit = 75
    while data:
        cut = min(limit, len(data))
        while cut < len(data) and (data[cut] & 0xC0) == 0x80:
            cut -= 1
        parts.append(data[:cut].decode())
        data = data[cut:]
        limit = 74  # continuation lines start with a space
    return "\r\n ".join(parts)


def _utc(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ")


def ics(
    *,
    job_id: int,
    when: InterviewTime,
    title: str,
    company: str,
    location: str = "",
    description: str = "",
    minutes: int = DEFAULT_MINUTES,
    now: datetime | None = None,
) -> str:
    """One VEVENT. Times are in UTC, which every calendar reads without a VTIMEZONE block;
    the zone the user chose is named in the description."""
    start = when.utc
    summary = f"Interview: {title}" + (f" at {company}" if company else "")
    details = f"Time zone: {when.zone} ({when.stored.replace('T', ' ')} local)"
    if description:
        details += "\n" + description
    lines = [
        "BEGIN:VCALENDAR",
        "VERSION:2.0",
        "PRODID:-//Peregrine//Interview//EN",
        "CALSCALE:GREGORIAN",
        "METHOD:PUBLISH",
        "BEGIN:VEVENT",
        f"UID:job-{job_id}-interview-{_utc(start)}@peregrine.local",
        f"DTSTAMP:{_utc(now or utcnow())}",
        f"DTSTART:{_utc(start)}",
        f"DTEND:{_utc(start + timedelta(minutes=minutes))}",
        f"SUMMARY:{_escape(summary)}",
        f"DESCRIPTION:{_escape(details)}",
    ]
    if location:
        lines.append(f"LOCATION:{_escape(location)}")
    lines += ["END:VEVENT", "END:VCALENDAR"]
    return "\r\n".join(_fold(line) for line in lines) + "\r\n"
