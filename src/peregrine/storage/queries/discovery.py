"""SQL used by discovery: what is already known, cross-source links, flags and scoring input."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

# SQLite allows 32766 bound variables; stay far below it so old builds work too.
_CHUNK = 500


def _chunks(values: Sequence[Any]) -> Iterable[Sequence[Any]]:
    for start in range(0, len(values), _CHUNK):
        yield values[start : start + _CHUNK]


def known_urls(conn: Any, *, urls: Sequence[str]) -> dict[str, int]:
    """Canonical URL → job id for the given URLs that are already stored."""
    found: dict[str, int] = {}
    for part in _chunks(list(dict.fromkeys(urls))):
        marks = ", ".join("?" for _ in part)
        for row in conn.execute(f"SELECT url, id FROM jobs WHERE url IN ({marks})", list(part)):
            found[row[0]] = int(row[1])
    return found


@dataclass(frozen=True, slots=True)
class KnownJob:
    id: int
    company_norm: str
    title_norm: str
    location: str
    status: str
    has_description: bool = True


def jobs_for_companies(conn: Any, *, companies: Sequence[str]) -> list[KnownJob]:
    """Every stored job of these (normalised) companies, whatever its status."""
    out: list[KnownJob] = []
    for part in _chunks([c for c in dict.fromkeys(companies) if c]):
        marks = ", ".join("?" for _ in part)
        out.extend(
            KnownJob(int(r[0]), r[1], r[2], r[3], r[4], bool(r[5]))
            for r in conn.execute(
                # length() of a text reads only its size, never the (long) text itself.
                "SELECT id, company_norm, title_norm, location, status, "
                "length(description) > 0 FROM jobs "
                f"WHERE company_norm IN ({marks})",
                list(part),
            )
        )
    return out


def job_keys_for_companies(conn: Any, *, companies: Sequence[str]) -> list[tuple[int, str, str]]:
    """(id, company_norm, title_norm) of every stored job of these (normalised) companies,
    read from the (company_norm, title_norm) index without touching the rows."""
    out: list[tuple[int, str, str]] = []
    for part in _chunks([c for c in dict.fromkeys(companies) if c]):
        marks = ", ".join("?" for _ in part)
        out.extend(
            (int(r[0]), r[1], r[2])
            for r in conn.execute(
                "SELECT id, company_norm, title_norm FROM jobs INDEXED BY jobs_company_title "
                f"WHERE company_norm IN ({marks})",
                list(part),
            )
        )
    return out


def job_details(conn: Any, *, ids: Sequence[int]) -> dict[int, tuple[str, str, bool]]:
    """id → (location, status, has a description) for these jobs."""
    out: dict[int, tuple[str, str, bool]] = {}
    for part in _chunks(list(dict.fromkeys(ids))):
        marks = ", ".join("?" for _ in part)
        for r in conn.execute(
            # length() of a text reads only its size, never the (long) text itself.
            f"SELECT id, location, status, length(description) > 0 FROM jobs WHERE id IN ({marks})",
            list(part),
        ):
            out[int(r[0])] = (r[1], r[2], bool(r[3]))
    return out


def link_sources(conn: Any, *, links: Iterable[tuple[int, str, str, str | None]], now: str) -> int:
    """Add (job_id, source, url, external_id) links; returns how many were new."""
    before = conn.total_changes
    conn.executemany(
        "INSERT OR IGNORE INTO job_sources (job_id, source, url, external_id, found_at) "
        "VALUES (?, ?, ?, ?, ?)",
        [(job_id, source, url, ext, now) for job_id, source, url, ext in links],
    )
    return int(conn.total_changes - before)


def fill_missing_description(conn: Any, *, values: Iterable[tuple[int, str]], now: str) -> None:
    """Give merged jobs the description another source had, never overwriting one."""
    conn.executemany(
        "UPDATE jobs SET description = ?, updated_at = ? WHERE id = ? AND description = ''",
        [(text, now, job_id) for job_id, text in values if text],
    )


def set_flags_by_url(
    conn: Any, *, values: Iterable[tuple[str, list[str], int | None]], now: str
) -> None:
    """Set flags and the applied-match link on freshly inserted jobs, by canonical URL."""
    conn.executemany(
        "UPDATE jobs SET flags = ?, applied_match_id = ?, updated_at = ? WHERE url = ?",
        [
            (json.dumps(sorted(set(flags))), match, now, url)
            for url, flags, match in values
            if flags or match is not None
        ],
    )


def ids_for_urls(conn: Any, *, urls: Sequence[str]) -> list[int]:
    return list(known_urls(conn, urls=urls).values())


@dataclass(frozen=True, slots=True)
class ScoringRow:
    id: int
    title: str
    company: str
    location: str
    work_mode: str
    description: str
    salary_annual_min: float | None
    salary_annual_max: float | None
    date_posted: str | None
    date_found: str


_SCORING_COLUMNS = (
    "id, title, company, location, work_mode, description, salary_annual_min, "
    "salary_annual_max, date_posted, date_found"
)


def scoring_rows(conn: Any, *, job_ids: Sequence[int] | None = None) -> list[ScoringRow]:
    """The fields scoring needs; all jobs when ``job_ids`` is None."""
    if job_ids is None:
        rows = conn.execute(f"SELECT {_SCORING_COLUMNS} FROM jobs ORDER BY id").fetchall()
        return [ScoringRow(*tuple(r)) for r in rows]
    out: list[ScoringRow] = []
    for part in _chunks(list(job_ids)):
        marks = ", ".join("?" for _ in part)
        out.extend(
            ScoringRow(*tuple(r))
            for r in conn.execute(
                f"SELECT {_SCORING_COLUMNS} FROM jobs WHERE id IN ({marks})", list(part)
            )
        )
    return out


def save_scores(
    conn: Any, *, values: Iterable[tuple[int, float, dict[str, Any], list[str]]], now: str
) -> None:
    conn.executemany(
        "UPDATE jobs SET match_score = ?, match_explanation = ?, keyword_gaps = ?, "
        "updated_at = ? WHERE id = ?",
        [
            (score, json.dumps(explanation, separators=(",", ":")), json.dumps(gaps), now, job_id)
            for job_id, score, explanation, gaps in values
        ],
    )


def jobs_without_description(conn: Any, *, limit: int) -> list[tuple[int, str]]:
    """(id, url) of jobs still waiting for a description, newest first."""
    return [
        (int(r[0]), r[1])
        for r in conn.execute(
            "SELECT id, url FROM jobs WHERE description = '' AND status = 'pending' "
            "ORDER BY id DESC LIMIT ?",
            (limit,),
        )
    ]


def set_description(conn: Any, *, job_id: int, text: str, now: str) -> bool:
    cur = conn.execute(
        "UPDATE jobs SET description = ?, updated_at = ? WHERE id = ? AND description = ''",
        (text, now, job_id),
    )
    return bool(cur.rowcount == 1)
