"""Storing a batch of normalised listings once each.

1. Filters: blocklist (company, industry, location), exclude keywords (whole words, so
   "intern" does not drop "Internal Tools") and the salary floor (unknown salary is kept and
   flagged ``salary_unknown``).
2. Exact duplicates by canonical URL, within the batch and against the database.
3. Cross-source duplicates: same normalised company, similar title (same seniority, mostly the
   same words) and compatible location are merged into ONE job; every source link is kept in
   ``job_sources``.
4. Already-applied guard: a listing that matches a job the user has applied to (any source,
   any age — reposts included) is stored, flagged ``already_applied`` with
   ``applied_match_id`` pointing at that job, so it shows up marked instead of as news.

Fuzzy comparison only happens inside a block of the same normalised company, so a batch costs
about O(n × jobs per company) instead of O(n²).
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from peregrine.lib.text import fold, keyword_pattern, normalise_company, normalise_title
from peregrine.services.normalise import finish_text, locations_compatible
from peregrine.services.scoring import ScoringContext, score_new_job
from peregrine.services.titles import core_words, seniority, tokenise
from peregrine.storage.queries import discovery as disc_q
from peregrine.storage.queries import jobs as job_q
from peregrine.storage.queries import profile as profile_q

APPLIED_STATUSES = frozenset(
    {"applied", "survey", "phone_screen", "interviewing", "offer", "hired", "declined",
     "rejected", "withdrawn"}
)  # fmt: skip


@dataclass(frozen=True)
class Filters:
    blocked_companies: frozenset[str] = frozenset()
    blocked_industries: re.Pattern[str] | None = None
    blocked_locations: re.Pattern[str] | None = None
    exclude: re.Pattern[str] | None = None
    salary_floor: float | None = None

    @classmethod
    def load(cls, conn: Any, *, profile: profile_q.SearchProfile | None) -> Filters:
        blocked = profile_q.list_blocklist(conn)
        keywords = profile_q.list_keywords(conn)
        exclude = list(keywords["exclude"]) + (list(profile.exclude_keywords) if profile else [])
        return cls(
            blocked_companies=frozenset(
                normalise_company(c) for c in blocked["company"] if normalise_company(c)
            ),
            blocked_industries=keyword_pattern(blocked["industry"]),
            blocked_locations=keyword_pattern(blocked["location"]),
            exclude=keyword_pattern(exclude),
            salary_floor=profile.salary_floor if profile else None,
        )

    def reason_to_drop(self, job: job_q.NewJob) -> str | None:
        """Why a listing is filtered out, or None to keep it."""
        if self.blocked_companies and _company_key(job.company) in self.blocked_companies:
            return "blocked_company"
        if self.blocked_locations and self.blocked_locations.search(fold(job.location)):
            return "blocked_location"
        if self.exclude and self.exclude.search(fold(f"{job.title} \n {job.company}")):
            return "excluded_keyword"
        if self.blocked_industries and self.blocked_industries.search(fold(job.description[:3000])):
            return "blocked_industry"
        if self.salary_floor is not None:
            best = job.salary_annual_max or job.salary_annual_min
            if best is not None and best < self.salary_floor:
                return "below_salary_floor"
        return None


@dataclass
class StoreReport:
    received: int = 0
    inserted: int = 0
    exact_duplicates: int = 0
    merged: int = 0  # cross-source duplicates folded into an existing job
    already_applied: int = 0
    salary_unknown: int = 0
    filtered: Counter[str] = field(default_factory=Counter)
    new_urls: list[str] = field(default_factory=list)
    new_ids: list[int] = field(default_factory=list)  # in the order of ``new_urls``
    scored: int = 0  # new jobs stored with their score
    merged_ids: list[int] = field(default_factory=list)  # stored jobs that gained a source
    # Stored jobs (new in this batch or not) whose scoring input this batch may have changed:
    # repeats that can fill in what a job lacked, merge targets given a description.
    touched_ids: set[int] = field(default_factory=set)

    def as_dict(self) -> dict[str, Any]:
        return {
            "received": self.received,
            "inserted": self.inserted,
            "exact_duplicates": self.exact_duplicates,
            "merged": self.merged,
            "already_applied": self.already_applied,
            "salary_unknown": self.salary_unknown,
            "filtered": dict(self.filtered),
        }


# Companies repeat across a batch (and across sources); normalising each once saves a third
# of the de-duplication time.
_company_key = lru_cache(maxsize=65_536)(normalise_company)
# Titles repeat as much ("Senior Software Engineer"), across sources and runs.
_title_key = lru_cache(maxsize=65_536)(normalise_title)


@lru_cache(maxsize=65_536)
def _signature(title_norm: str) -> tuple[int | None, frozenset[str]]:
    tokens = tokenise(title_norm)
    level = seniority(tokens)
    return (level[0] if level else None, core_words(tokens))


def same_role(title_a: str, title_b: str) -> bool:
    """Similar normalised titles: same seniority and ≥ 75 % of core words shared."""
    if title_a == title_b:
        return True
    level_a, words_a = _signature(title_a)
    level_b, words_b = _signature(title_b)
    if level_a != level_b or not words_a or not words_b:
        return False
    return len(words_a & words_b) / len(words_a | words_b) >= 0.75


@dataclass
class _Entry:
    title_norm: str
    location: str
    job_id: int | None  # stored job, or None for one inserted in this batch
    url: str
    applied: bool
    has_description: bool


def _stored_blocks(conn: Any, companies: list[str], titles: list[str]) -> dict[str, list[_Entry]]:
    """The stored jobs of these companies, by company, in the order the index gives them.

    Company and title come from the index alone; place, status and whether there is a
    description are read (from the long rows) only for jobs whose title is the same role as
    one in the batch, the only ones de-duplication looks at beyond their title.
    """
    wanted: dict[str, set[str]] = {}
    for company, title in zip(companies, titles, strict=True):
        if company:
            wanted.setdefault(company, set()).add(title)
    keys = disc_q.job_keys_for_companies(conn, companies=list(wanted))
    needed = [
        job_id
        for job_id, company, title in keys
        if any(same_role(mine, title) for mine in wanted[company])
    ]
    details = disc_q.job_details(conn, ids=needed)
    blocks: dict[str, list[_Entry]] = {}
    for job_id, company, title in keys:
        # A job not looked up is never compared beyond its title: no value here is read.
        location, status, has_description = details.get(job_id, ("", "", True))
        blocks.setdefault(company, []).append(
            _Entry(title, location, job_id, "", status in APPLIED_STATUSES, has_description)
        )
    return blocks


def store_listings(
    conn: Any,
    *,
    jobs: list[job_q.NewJob],
    filters: Filters,
    now: str,
    scorer: ScoringContext | None = None,
) -> StoreReport:
    """Filter, de-duplicate and store a batch in the caller's (write) transaction.

    With a ``scorer``, each new job is stored with its score, explanation and gaps.
    """
    report = StoreReport(received=len(jobs))
    if filters.blocked_industries:
        # The one filter that reads the description needs it as text.
        jobs = [finish_text(job) for job in jobs]
    kept: list[job_q.NewJob] = []
    for job in jobs:
        reason = filters.reason_to_drop(job)
        if reason:
            report.filtered[reason] += 1
        else:
            kept.append(job)

    # Exact duplicates by canonical URL: inside the batch first, then against the database.
    by_url: dict[str, job_q.NewJob] = {}
    extra_links: list[tuple[str, job_q.NewJob]] = []  # (target url, listing)
    for job in kept:
        if job.url in by_url:
            report.exact_duplicates += 1
            extra_links.append((job.url, job))
        else:
            by_url[job.url] = job
    known = disc_q.known_urls(conn, urls=list(by_url))
    repeats = [finish_text(job) for url, job in by_url.items() if url in known]
    report.exact_duplicates += len(repeats)
    fresh = [job for url, job in by_url.items() if url not in known]

    # Cross-source duplicates and the applied guard, block by block.
    companies = [_company_key(job.company) for job in fresh]
    titles = [_title_key(job.title) for job in fresh]
    blocks = _stored_blocks(conn, companies, titles)
    to_insert: list[tuple[job_q.NewJob, job_q.NewJobExtras]] = []
    merges: list[tuple[_Entry, job_q.NewJob]] = []
    for listing, company, title_norm in zip(fresh, companies, titles, strict=True):
        block = blocks.setdefault(company, []) if company else []
        applied_match: int | None = None
        target: _Entry | None = None
        for entry in block:
            if not same_role(title_norm, entry.title_norm):
                continue
            if entry.applied:
                # Company and role are enough: a repost often moves city or goes remote.
                applied_match = entry.job_id
                break
            if target is None and locations_compatible(listing.location, entry.location):
                target = entry
        job_flags: list[str] = []
        if applied_match is None and target is not None:
            merges.append((target, listing))
            continue
        job = finish_text(listing)
        if applied_match is not None:
            job_flags.append("already_applied")
            report.already_applied += 1
        if (
            filters.salary_floor is not None
            and job.salary_annual_min is None
            and (job.salary_annual_max is None)
        ):
            job_flags.append("salary_unknown")
            report.salary_unknown += 1
        extras = job_q.NewJobExtras(_company_key(job.company), title_norm, job_flags, applied_match)
        if scorer is not None:
            score = score_new_job(scorer, job, found=now)
            extras = extras._replace(
                match_score=score.score, match_explanation=score.explanation,
                keyword_gaps=score.gaps,
            )  # fmt: skip
        to_insert.append((job, extras))
        if company:
            entry = _Entry(title_norm, job.location, None, job.url, False, bool(job.description))
            block.append(entry)

    if repeats:
        job_q.upsert_jobs(conn, jobs=repeats, now=now)
        report.touched_ids.update(known[job.url] for job in repeats)
    new_ids = job_q.insert_new_jobs(conn, jobs=to_insert, now=now)
    report.inserted = len(to_insert)
    report.new_urls = [job.url for job, _ in to_insert]
    report.new_ids = new_ids
    report.scored = len(to_insert) if scorer is not None else 0

    # Links for exact repeats within the batch and for cross-source merges.
    ids = {**known, **dict(zip(report.new_urls, new_ids, strict=True))}
    links: list[tuple[int, str, str, str | None]] = []
    descriptions: list[tuple[int, str]] = []
    for url, job in extra_links:
        if url in ids:
            links.append((ids[url], job.source, job.source_url or job.url, job.external_id))
    merged_targets: set[int] = set()
    for target, job in merges:
        job_id = target.job_id if target.job_id is not None else ids.get(target.url)
        if job_id is None:
            continue
        links.append((job_id, job.source, job.source_url or job.url, job.external_id))
        if job.description and not target.has_description:
            # Only a job without a description takes this one (the UPDATE says so too); the
            # description of every other duplicate is never sent to the database, nor
            # turned into text.
            text = finish_text(job).description
            if text:
                descriptions.append((job_id, text))
                target.has_description = True
                report.touched_ids.add(job_id)
        merged_targets.add(job_id)
        report.merged += 1
    disc_q.link_sources(conn, links=links, now=now)
    disc_q.fill_missing_description(conn, values=descriptions, now=now)
    report.merged_ids = sorted(merged_targets)
    return report
