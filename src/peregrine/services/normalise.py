"""From a source's raw listing to a job we can store: salary, work mode, location, dates."""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import lru_cache

from peregrine.lib.html import clean_control, html_to_text
from peregrine.lib.text import fold
from peregrine.lib.urls import InvalidURLError, canonical_url
from peregrine.services.work_mode import detect_work_mode
from peregrine.sources.base import RawListing
from peregrine.storage.queries.jobs import NewJob

MAX_TITLE = 500
MAX_COMPANY = 300
MAX_DESCRIPTION = 100_000
# An annual figure outside this range is a parsing accident or a joke listing; we keep the
# text but not the number, so sorting and the salary floor are not thrown off.
MIN_ANNUAL = 1_000.0
MAX_ANNUAL = 5_000_000.0

ANNUAL_FACTOR = {"hour": 2080.0, "day": 260.0, "week": 52.0, "month": 12.0, "year": 1.0}

_CURRENCY_CODES = ("USD", "EUR", "GBP", "CAD", "AUD", "NZD", "CHF", "INR", "SEK", "NOK", "DKK",
                   "PLN", "JPY", "SGD", "ZAR", "BRL", "MXN")  # fmt: skip
_SYMBOLS = [("CA$", "CAD"), ("C$", "CAD"), ("A$", "AUD"), ("AU$", "AUD"), ("NZ$", "NZD"),
            ("US$", "USD"), ("$", "USD"), ("£", "GBP"), ("€", "EUR"), ("₹", "INR"),
            ("¥", "JPY"), ("zł", "PLN")]  # fmt: skip
_CODE_RE = re.compile(r"\b(" + "|".join(_CURRENCY_CODES) + r")\b", re.I)
_NUMBER = re.compile(r"(\d{1,3}(?:[,.\s]\d{3})+|\d+(?:\.\d+)?)\s*([kKmM])?(?![\w])")
_INTERVALS = [
    ("hour", re.compile(r"(/\s*h(ou)?r\b|per\s+hour|an\s+hour|hourly|/\s*h\b|\bph\b)", re.I)),
    ("day", re.compile(r"(/\s*day\b|per\s+day|a\s+day|daily|day\s+rate)", re.I)),
    ("week", re.compile(r"(/\s*w(ee)?k\b|per\s+week|a\s+week|weekly)", re.I)),
    ("month", re.compile(r"(/\s*mo(nth)?\b|per\s+month|a\s+month|monthly|p\.?c\.?m)", re.I)),
    ("year", re.compile(r"(/\s*y(ea)?r\b|per\s+(year|annum)|a\s+year|annual|yearly|p\.?a\.?\b)",
                        re.I)),
]  # fmt: skip
_RANGE_TO = re.compile(r"(\d[kKmM]?)\s+to\s+(\D{0,4}\d)", re.I)
_UP_TO = re.compile(r"\b(up\s+to|max(imum)?|under)\b", re.I)
_FROM = re.compile(r"\b(from|starting\s+at|min(imum)?|at\s+least)\b|\+\s*$", re.I)


@dataclass(frozen=True, slots=True)
class Salary:
    min: float | None
    max: float | None
    currency: str | None
    interval: str | None
    annual_min: float | None
    annual_max: float | None


class ListingError(ValueError):
    """A listing cannot be stored; the message says why."""


def _amount(number: str, suffix: str | None) -> float:
    digits = number.replace(" ", "")
    # "60.000" and "60,000" are thousands; "45.50" is a decimal.
    if re.fullmatch(r"\d{1,3}([,.]\d{3})+", digits):
        value = float(re.sub(r"[,.]", "", digits))
    else:
        value = float(digits.replace(",", ""))
    if suffix in {"k", "K"}:
        value *= 1_000
    elif suffix in {"m", "M"}:
        value *= 1_000_000
    return value


def _currency(text: str) -> str | None:
    code = _CODE_RE.search(text)
    if code:
        return code[1].upper()
    for symbol, iso in _SYMBOLS:
        if symbol in text:
            return iso
    return None


def _interval(text: str) -> str | None:
    for name, pattern in _INTERVALS:
        if pattern.search(text):
            return name
    return None


def _guess_interval(value: float) -> str:
    """When the text does not say: small numbers are hourly, mid-size monthly."""
    if value < 300:
        return "hour"
    if value < 1_500:
        return "day"
    if value < 20_000:
        return "month"
    return "year"


@lru_cache(maxsize=8_192)  # pure, and boards repeat the same salary strings a lot
def parse_salary(text: str) -> Salary | None:
    """Parse '$45/hr', '$120k–$150k', 'up to £60,000 a year', 'EUR 5.000 per month'…"""
    if not text or len(text) > 500:
        return None
    cleaned = _RANGE_TO.sub(r"\1 - \2", text.replace("–", "-").replace("—", "-"))
    numbers = [_amount(m[1], m[2]) for m in _NUMBER.finditer(cleaned)][:2]
    numbers = [n for n in numbers if n > 0]
    if not numbers:
        return None
    low, high = (numbers[0], numbers[1]) if len(numbers) == 2 else (numbers[0], numbers[0])
    if high < low:
        low, high = high, low
    if len(numbers) == 2 and low < 1_000 <= high and re.search(r"\d\s*[kK]", cleaned):
        low *= 1_000  # "120-150k": the k belongs to both ends
    if len(numbers) == 1:
        if _UP_TO.search(cleaned):
            low_opt: float | None = None
            high_opt: float | None = high
        elif _FROM.search(cleaned):
            low_opt, high_opt = low, None
        else:
            low_opt, high_opt = low, high
    else:
        low_opt, high_opt = low, high
    interval = _interval(cleaned) or _guess_interval(max(n for n in numbers))
    return make_salary(low_opt, high_opt, _currency(cleaned), interval)


def make_salary(
    low: float | None, high: float | None, currency: str | None, interval: str | None
) -> Salary | None:
    """Annualise a structured salary; None when the figures are absent or absurd."""
    if low is None and high is None:
        return None
    interval = interval if interval in ANNUAL_FACTOR else _guess_interval(high or low or 0)
    factor = ANNUAL_FACTOR[interval]
    annual_min = round(low * factor, 2) if low is not None else None
    annual_max = round(high * factor, 2) if high is not None else None
    for value in (annual_min, annual_max):
        if value is not None and not MIN_ANNUAL <= value <= MAX_ANNUAL:
            return None
    return Salary(low, high, currency, interval, annual_min, annual_max)


_COUNTRY_ALIASES = {
    "usa": "united states", "us": "united states", "u.s.": "united states",
    "u.s.a.": "united states", "united states of america": "united states",
    "uk": "united kingdom", "u.k.": "united kingdom", "great britain": "united kingdom",
    "gb": "united kingdom", "deutschland": "germany", "uae": "united arab emirates",
}  # fmt: skip
_REMOTE_WORDS = re.compile(r"\b(remote|anywhere|worldwide|work from home|wfh)\b", re.I)


def normalise_location(text: str) -> str:
    """One spelling of a location for display: collapsed spaces, no trailing separators."""
    cleaned = " ".join(clean_control(text).split()).strip(" ,;|-/")
    return cleaned[:300]


@lru_cache(maxsize=16_384)
def location_key(text: str) -> tuple[str, ...]:
    """Comparable parts of a location: ('austin', 'tx', 'united states'); () when remote/empty."""
    folded = fold(text)
    if not folded or _REMOTE_WORDS.fullmatch(folded.strip("() ")):
        return ()
    folded = _REMOTE_WORDS.sub(" ", folded)
    parts = [p.strip(" .()") for p in re.split(r"[,/|;()-]+", folded)]
    return tuple(_COUNTRY_ALIASES.get(p, p) for p in parts if p)


def locations_compatible(a: str, b: str) -> bool:
    """Same place, or one side does not say: 'Austin, TX' ~ 'Austin, Texas, US' ~ ''."""
    ka, kb = location_key(a), location_key(b)
    if not ka or not kb:
        return True
    return ka[0] == kb[0] or bool(set(ka) & set(kb) - set(_COUNTRY_ALIASES.values()))


_RELATIVE = re.compile(r"(\d+)\+?\s*(minute|hour|day|week|month)s?\s+ago", re.I)


def parse_date(value: str | float | None, *, today: date | None = None) -> str | None:
    """ISO date from ISO text, RFC 822 (feeds), epoch seconds/ms, or '3 days ago'."""
    if value is None or value == "":
        return None
    today = today or datetime.now(UTC).date()
    if isinstance(value, int | float):
        seconds = value / 1000 if value > 10**11 else value
        try:
            return datetime.fromtimestamp(seconds, UTC).date().isoformat()
        except (OverflowError, OSError, ValueError):
            return None
    return _parse_date_text(value, today)


@lru_cache(maxsize=4_096)  # pure, and a batch holds a few dozen distinct date strings
def _parse_date_text(value: str, today: date) -> str | None:
    text = value.strip()
    if not text:
        return None
    if text.isdigit():
        return parse_date(int(text), today=today)
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
        return _sane(parsed.date(), today)
    except ValueError:
        pass
    try:
        return _sane(parsed_rfc(text), today)
    except (TypeError, ValueError, IndexError):
        pass
    lowered = text.lower()
    if lowered in {"today", "just posted", "just now", "new"}:
        return today.isoformat()
    if lowered == "yesterday":
        return (today - timedelta(days=1)).isoformat()
    match = _RELATIVE.search(lowered)
    if match:
        count, unit = int(match[1]), match[2].lower()
        days = {"minute": 0, "hour": 0, "day": 1, "week": 7, "month": 30}[unit] * count
        return (today - timedelta(days=days)).isoformat()
    return None


def parsed_rfc(text: str) -> date:
    return parsedate_to_datetime(text).date()


def _sane(day: date, today: date) -> str | None:
    # A posting date in the future or before the web had job boards is noise.
    if day.year < 1995 or day > today + timedelta(days=2):
        return None
    return day.isoformat()


def to_new_job(raw: RawListing, *, today: date | None = None) -> NewJob:
    """Validate and normalise one listing; ListingError says why it cannot be kept."""
    return finish_text(read_listing(raw, today=today))


def finish_text(job: NewJob) -> NewJob:
    """``job`` with its description as plain text and its work mode read from the text,
    the two costly steps that ``read_listing`` leaves undone."""
    if not job.raw_text:
        return job
    description = job.description
    if "<" in description[:5000] and ">" in description[:5000]:
        description = html_to_text(description, limit=MAX_DESCRIPTION)
    else:
        description = clean_control(description)
        if len(description) > MAX_DESCRIPTION:
            description = html_to_text(description, limit=MAX_DESCRIPTION)
    work_mode = job.work_mode
    if work_mode == "unknown":
        work_mode = detect_work_mode(job.title, job.location, description[:5000])
    return replace(job, description=description, work_mode=work_mode, raw_text=False)


def read_listing(raw: RawListing, *, today: date | None = None) -> NewJob:
    """Everything of ``to_new_job`` but the description's text and the work mode read from
    it (``raw_text`` is set; ``finish_text`` completes it). De-duplication needs only what
    this reads, and in a discovery run it drops or merges a third of the listings or more;
    their text is never worked on."""
    title = " ".join(clean_control(raw.title or "").split())
    if not title:
        raise ListingError("no title")
    title = title[:MAX_TITLE]
    try:
        url = canonical_url(raw.url or "")
    except InvalidURLError as exc:
        raise ListingError(f"bad link: {exc}") from None
    company = " ".join(clean_control(raw.company or "").split())[:MAX_COMPANY]
    location = normalise_location(raw.location or "")
    salary_text = " ".join(clean_control(raw.salary_text or "").split())[:200]
    salary = None
    if raw.salary_min is not None or raw.salary_max is not None:
        salary = make_salary(
            raw.salary_min, raw.salary_max, raw.salary_currency, raw.salary_interval
        )
    if salary is None and salary_text:
        salary = parse_salary(salary_text)
    if salary is not None and salary.currency is None and raw.salary_currency:
        salary = Salary(
            salary.min, salary.max, raw.salary_currency.upper()[:3], salary.interval,
            salary.annual_min, salary.annual_max,
        )  # fmt: skip
    given = raw.work_mode if raw.work_mode in {"remote", "hybrid", "onsite"} else "unknown"
    return NewJob(
        title=title,
        url=url,
        company=company,
        location=location,
        work_mode=given,
        source=raw.source[:50],
        external_id=(raw.external_id or None) and str(raw.external_id)[:200],
        description=raw.description or "",
        salary_text=salary_text,
        salary_min=salary.min if salary else None,
        salary_max=salary.max if salary else None,
        salary_currency=salary.currency if salary else None,
        salary_interval=salary.interval if salary else None,
        salary_annual_min=salary.annual_min if salary else None,
        salary_annual_max=salary.annual_max if salary else None,
        date_posted=parse_date(raw.date_posted, today=today),
        source_url=raw.url.strip() if raw.url.strip() != url else None,
        raw_text=True,
    )
