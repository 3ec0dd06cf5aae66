"""The Home dashboard's figures: funnel, response rate by source, time to first response."""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field
from typing import Any

from peregrine.lib.clock import parse_iso
from peregrine.storage.queries import stats as stats_q

# (stage key, label, statuses that count as having reached it)
FUNNEL: tuple[tuple[str, str], ...] = (
    ("applied", "Applied"),
    ("screen", "Screen"),
    ("interview", "Interview"),
    ("offer", "Offer"),
    ("hired", "Hired"),
)
_RANK = {
    "applied": 0,
    "survey": 1,
    "phone_screen": 1,
    "interviewing": 2,
    "offer": 3,
    "declined": 3,
    "hired": 4,
}
# Any of these after applying means the employer answered (a rejection is an answer too).
_RESPONSES = frozenset({"survey", "phone_screen", "interviewing", "offer", "hired", "rejected"})
SMALL_SAMPLE = 5


@dataclass(frozen=True, slots=True)
class FunnelStep:
    key: str
    label: str
    count: int
    rate: float | None  # conversion from the previous step


@dataclass(frozen=True, slots=True)
class SourceRate:
    source: str
    applied: int
    responded: int

    @property
    def rate(self) -> float:
        return self.responded / self.applied if self.applied else 0.0

    @property
    def small(self) -> bool:
        return self.applied < SMALL_SAMPLE


@dataclass
class Dashboard:
    funnel: list[FunnelStep] = field(default_factory=list)
    by_source: list[SourceRate] = field(default_factory=list)
    median_days_to_response: float | None = None
    responses_measured: int = 0


def build(conn: Any) -> Dashboard:
    visits = stats_q.stage_visits(conn)
    best: dict[int, int] = {}
    applied_at: dict[int, str] = {}
    first_response: dict[int, str] = {}
    for visit in visits:
        rank = _RANK.get(visit.status)
        if rank is not None:
            best[visit.job_id] = max(best.get(visit.job_id, -1), rank)
        if visit.status == "applied" and visit.job_id not in applied_at:
            applied_at[visit.job_id] = visit.at
        if visit.status in _RESPONSES:
            best.setdefault(visit.job_id, 0)  # a rejection means they had applied
            start = applied_at.get(visit.job_id)
            if start is not None and visit.job_id not in first_response and visit.at >= start:
                first_response[visit.job_id] = visit.at

    funnel: list[FunnelStep] = []
    previous: int | None = None
    for rank, (key, label) in enumerate(FUNNEL):
        count = sum(1 for r in best.values() if r >= rank)
        rate = (count / previous) if previous else None
        funnel.append(FunnelStep(key, label, count, rate))
        previous = count

    sources = stats_q.sources_of(conn)
    per_source: dict[str, list[int]] = {}
    responded_jobs = {v.job_id for v in visits if v.status in _RESPONSES}
    for job_id in best:
        source = sources.get(job_id)
        if source is None:
            continue
        tally = per_source.setdefault(source, [0, 0])
        tally[0] += 1
        tally[1] += job_id in responded_jobs
    by_source = sorted(
        (SourceRate(s, a, r) for s, (a, r) in per_source.items()),
        key=lambda x: (-x.applied, x.source),
    )

    delays = [
        (parse_iso(first_response[j]) - parse_iso(applied_at[j])).total_seconds() / 86400
        for j in first_response
    ]
    return Dashboard(
        funnel=funnel,
        by_source=by_source,
        median_days_to_response=statistics.median(delays) if delays else None,
        responses_measured=len(delays),
    )
