"""A discovery run: every source of every search profile → normalise → store once → enrich → score.

One failing source never stops the others: each source reports its own health, counts and
time. Listings that cannot be read are skipped and counted with a reason; nothing already
stored is touched except to fill in what it lacked.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from peregrine.lib.clock import now_iso, utcnow
from peregrine.lib.html import html_to_text
from peregrine.lib.http import FetchError, HttpClient
from peregrine.services import scoring
from peregrine.services.dedupe import Filters, store_listings
from peregrine.services.normalise import MAX_DESCRIPTION, ListingError, read_listing
from peregrine.sources import registry
from peregrine.sources.adzuna import AdzunaConfig
from peregrine.sources.base import Source, SourceQuery, SourceResult
from peregrine.sources.job_page import parse_page
from peregrine.storage.queries import discovery as disc_q
from peregrine.storage.queries import jobs as job_q
from peregrine.storage.queries import preferences as pref_q
from peregrine.storage.queries import profile as profile_q
from peregrine.storage.userdb import UserDB

Progress = Callable[[str, float], None]
ENRICH_LIMIT = 50  # job pages fetched per run; the rest wait for the next run
SOURCE_WORKERS = 4
MAX_ERRORS = 50


class DiscoveryError(ValueError):
    """Discovery cannot start (no such profile or source); the message says what to do."""


@dataclass
class SourceReport:
    profile: str
    source: str
    health: str
    fetched: int = 0
    invalid: int = 0
    message: str = ""
    elapsed: float = 0.0
    problems: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class DiscoveryReport:
    profiles: list[str] = field(default_factory=list)
    sources: list[SourceReport] = field(default_factory=list)
    received: int = 0
    invalid: int = 0
    too_old: int = 0
    inserted: int = 0
    exact_duplicates: int = 0
    merged: int = 0
    already_applied: int = 0
    salary_unknown: int = 0
    filtered: Counter[str] = field(default_factory=Counter)
    enriched: int = 0
    enrich_failed: int = 0
    scored: int = 0
    errors: list[str] = field(default_factory=list)
    elapsed: float = 0.0
    cancelled: bool = False
    new_urls: list[str] = field(default_factory=list, repr=False)
    new_ids: list[int] = field(default_factory=list, repr=False)
    touched_ids: set[int] = field(default_factory=set, repr=False)

    def as_dict(self) -> dict[str, Any]:
        hidden = {"sources", "new_urls", "new_ids", "touched_ids"}
        data = {k: v for k, v in self.__dict__.items() if k not in hidden}
        data["filtered"] = dict(self.filtered)
        data["sources"] = [s.as_dict() for s in self.sources]
        return data


def _noop(_stage: str, _fraction: float) -> None:
    return None


def _profiles(conn: Any, name: str | None) -> list[profile_q.SearchProfile]:
    if name:
        found = profile_q.get_search_profile(conn, name=name)
        if found is None:
            known = ", ".join(p.name for p in profile_q.list_search_profiles(conn)) or "none yet"
            raise DiscoveryError(f"no search profile named {name!r} (known: {known})")
        return [found]
    enabled = [p for p in profile_q.list_search_profiles(conn) if p.enabled]
    if not enabled:
        raise DiscoveryError(
            "there is no enabled search profile; add one in Settings or with "
            "`peregrine config import`"
        )
    return enabled


def _sources_for(profile: profile_q.SearchProfile, only: str | None) -> tuple[list[str], list[str]]:
    """(source names, feed URLs) a profile asks for; feed URLs may be listed as sources."""
    feeds = [s for s in profile.sources if s.startswith(("http://", "https://"))]
    names = [s.lower() for s in profile.sources if s not in feeds]
    if feeds and "feeds" not in names:
        names.append("feeds")
    if not names:
        names = [*registry.WATCH_LIST_SOURCES] if profile.watch_companies else []
    if only:
        names = [only] if only in names or only in registry.DISCOVERY_SOURCES else []
    return list(dict.fromkeys(names)), feeds


def _options(conn: Any) -> registry.SourceOptions:
    raw = pref_q.get_preference(conn, key="adzuna", default=None)
    adzuna = None
    if isinstance(raw, dict):
        adzuna = AdzunaConfig(
            app_id=str(raw.get("app_id", "")),
            app_key=str(raw.get("app_key", "")),
            country=str(raw.get("country", "us")),
        )
    proxies = pref_q.get_preference(conn, key="jobspy_proxies", default=[])
    return registry.SourceOptions(
        adzuna=adzuna,
        proxies=tuple(p for p in proxies if isinstance(p, str))
        if isinstance(proxies, list)
        else (),
    )


def _query(
    profile: profile_q.SearchProfile, feeds: list[str], extra_feeds: list[str]
) -> SourceQuery:
    return SourceQuery(
        titles=tuple(profile.titles),
        locations=tuple(profile.locations),
        remote=profile.remote_preference == "remote",
        results_wanted=profile.results_per_source,
        max_age_days=profile.max_age_days,
        companies=tuple(profile.watch_companies),
        feed_urls=tuple(dict.fromkeys([*feeds, *extra_feeds])),
    )


def _fetch(source: Source, query: SourceQuery) -> SourceResult:
    try:
        result: SourceResult = source.fetch(query)
    except Exception as exc:
        return SourceResult(
            source=source.name, health="error", message=f"{type(exc).__name__}: {exc}"[:300]
        )
    return result


def run_discovery(
    db: UserDB,
    *,
    profile_name: str | None = None,
    source: str | None = None,
    progress: Progress | None = None,
    cancelled: Callable[[], bool] | None = None,
    http: HttpClient | None = None,
    options: registry.SourceOptions | None = None,
    enrich: bool = True,
    score: bool = True,
) -> DiscoveryReport:
    """Run discovery for one profile (or every enabled one), optionally one source only."""
    started = time.monotonic()
    progress_fn = progress or _noop
    report = DiscoveryReport()
    is_cancelled = cancelled or (lambda: False)
    if source is not None and source not in registry.DISCOVERY_SOURCES:
        raise DiscoveryError(
            f"unknown source {source!r}; choose one of {', '.join(registry.DISCOVERY_SOURCES)}"
        )
    with db.read() as conn:
        profiles = _profiles(conn, profile_name)
        run_options = options or _options(conn)
        extra_feeds = pref_q.get_preference(conn, key="feed_urls", default=[])
    extra_feeds = (
        [u for u in extra_feeds if isinstance(u, str)] if isinstance(extra_feeds, list) else []
    )
    report.profiles = [p.name for p in profiles]

    own_http = http is None
    client = http or HttpClient()
    try:
        plan: list[tuple[profile_q.SearchProfile, Source, SourceQuery]] = []
        for profile in profiles:
            names, feeds = _sources_for(profile, source)
            query = _query(profile, feeds, extra_feeds)
            for name in names:
                try:
                    plan.append((profile, registry.create(name, client, run_options), query))
                except registry.UnknownSourceError as exc:
                    # A typo in one profile's source list must not stop the other sources.
                    report.errors.append(f"{profile.name}: {exc}")
        if not plan:
            report.errors.append("no sources to run: add sources or watch-list companies")
        progress_fn("fetching", 0.0)
        results: list[tuple[profile_q.SearchProfile, SourceResult]] = []
        with ThreadPoolExecutor(max_workers=SOURCE_WORKERS) as pool:
            futures = [(p, pool.submit(_fetch, s, q)) for p, s, q in plan]
            for done, (profile, future) in enumerate(futures, start=1):
                results.append((profile, future.result()))
                progress_fn("fetching", 0.6 * done / len(futures))
        if is_cancelled():
            report.cancelled = True
            return _finish(report, started)

        today = utcnow().date()
        scorer: scoring.ScoringContext | None = None
        scorer_error: scoring.ScoringError | None = None
        if score:
            try:
                scorer = load_scorer(db, profile_name=profile_name)
            except scoring.ScoringError as exc:
                # Unusable weights fail the run where scoring happens, after storing, as
                # before: the listings found are kept.
                scorer_error = exc
        for profile, result in results:
            jobs = normalise_result(report, profile, result, today)
            store_jobs(db, report, profile, jobs, scorer=scorer)
        progress_fn("storing", 0.7)

        new_ids = sorted(report.new_ids)
        enriched_ids: list[int] = []
        if enrich and not is_cancelled():
            enriched_ids, report.enrich_failed = _enrich(
                db,
                client,
                job_ids=new_ids,
                limit=ENRICH_LIMIT,
                progress=lambda f: progress_fn("enriching", 0.7 + 0.2 * f),
                cancelled=is_cancelled,
            )
            report.enriched = len(enriched_ids)
        if scorer_error is not None and not is_cancelled() and new_ids:
            raise scorer_error
        if scorer is not None and not is_cancelled():
            rescore_changed(
                db,
                report,
                enriched_ids,
                profile_name=profile_name,
                progress=lambda d, t: progress_fn("scoring", 0.9 + 0.1 * d / max(t, 1)),
                cancelled=is_cancelled,
            )
        report.cancelled = is_cancelled()
    finally:
        if own_http:
            client.close()
    progress_fn("done", 1.0)
    return _finish(report, started)


def _finish(report: DiscoveryReport, started: float) -> DiscoveryReport:
    report.elapsed = round(time.monotonic() - started, 3)
    return report


def load_scorer(db: UserDB, *, profile_name: str | None) -> scoring.ScoringContext:
    """What scoring needs from the user, read once per run (new jobs are scored as stored)."""
    with db.read() as conn:
        return scoring.ScoringContext.load(conn, profile_name=profile_name)


def normalise_result(
    report: DiscoveryReport,
    profile: profile_q.SearchProfile,
    result: SourceResult,
    today: date,
) -> list[job_q.NewJob]:
    """The listings of one source, normalised; unreadable and too old ones are counted."""
    entry = SourceReport(
        profile=profile.name,
        source=result.source,
        health=result.health,
        fetched=len(result.listings),
        message=result.message,
        elapsed=result.elapsed,
        problems=list(result.problems),
    )
    entry.invalid = result.skipped
    report.sources.append(entry)
    if result.health in {"blocked", "error"} and len(report.errors) < MAX_ERRORS:
        report.errors.append(f"{profile.name}/{result.source}: {result.health}: {result.message}")
    oldest = (today - timedelta(days=profile.max_age_days)).isoformat()
    jobs: list[job_q.NewJob] = []
    for raw in result.listings:
        try:
            job = read_listing(raw, today=today)
        except ListingError as exc:
            entry.invalid += 1
            if len(entry.problems) < 20:
                entry.problems.append(f"{raw.title[:80] or raw.url[:80]!r}: {exc}")
            continue
        if job.date_posted and job.date_posted < oldest:
            report.too_old += 1
            continue
        jobs.append(job)
    report.received += len(result.listings)
    report.invalid += entry.invalid
    return jobs


def store_jobs(
    db: UserDB,
    report: DiscoveryReport,
    profile: profile_q.SearchProfile,
    jobs: list[job_q.NewJob],
    *,
    scorer: scoring.ScoringContext | None,
) -> None:
    """Filter, de-duplicate and store one source's jobs in one transaction, each new job
    with its score when there is a ``scorer``."""
    if not jobs:
        return
    with db.write() as conn:
        filters = Filters.load(conn, profile=profile)
        stored = store_listings(conn, jobs=jobs, filters=filters, now=now_iso(), scorer=scorer)
    report.inserted += stored.inserted
    report.exact_duplicates += stored.exact_duplicates
    report.merged += stored.merged
    report.already_applied += stored.already_applied
    report.salary_unknown += stored.salary_unknown
    report.filtered.update(stored.filtered)
    report.new_urls.extend(stored.new_urls)
    report.new_ids.extend(stored.new_ids)
    report.scored += stored.scored
    report.touched_ids.update(stored.touched_ids)


def rescore_changed(
    db: UserDB,
    report: DiscoveryReport,
    enriched_ids: list[int],
    *,
    profile_name: str | None,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> int:
    """Score again the jobs of this run that changed after they were stored with a score
    (a later source filled in what they lacked, enrichment fetched their description), so
    every new job ends with the score a pass over the finished rows would give it."""
    changed = (report.touched_ids | set(enriched_ids)) & set(report.new_ids)
    if not changed:
        return 0
    summary = scoring.score_jobs(
        db,
        job_ids=sorted(changed),
        profile_name=profile_name,
        progress=progress,
        cancelled=cancelled,
    )
    return summary.scored


def enrich_jobs(
    db: UserDB,
    http: HttpClient,
    *,
    job_ids: list[int] | None = None,
    limit: int = ENRICH_LIMIT,
    progress: Callable[[float], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> tuple[int, int]:
    """Fetch the page of jobs that have no description; returns (enriched, failed)."""
    enriched, failed = _enrich(
        db, http, job_ids=job_ids, limit=limit, progress=progress, cancelled=cancelled
    )
    return len(enriched), failed


def _enrich(
    db: UserDB,
    http: HttpClient,
    *,
    job_ids: list[int] | None,
    limit: int,
    progress: Callable[[float], None] | None,
    cancelled: Callable[[], bool] | None,
) -> tuple[list[int], int]:
    """(ids of the jobs given a description, how many pages failed)."""
    with db.read() as conn:
        waiting = disc_q.jobs_without_description(conn, limit=10_000)
    if job_ids is not None:
        wanted = set(job_ids)
        waiting = [(i, u) for i, u in waiting if i in wanted]
    waiting = waiting[:limit]
    enriched: list[int] = []
    failed = 0
    for done, (job_id, url) in enumerate(waiting, start=1):
        if cancelled is not None and cancelled():
            break
        try:
            page = http.get(url)
        except FetchError:
            failed += 1
            continue
        listing, _layer = parse_page(page.text(), page.url)
        text = listing.description if listing is not None else ""
        text = html_to_text(text, limit=MAX_DESCRIPTION) if text else ""
        if len(text) < 200:
            text = html_to_text(page.text(), limit=MAX_DESCRIPTION)
        if text:
            with db.write() as conn:
                if disc_q.set_description(conn, job_id=job_id, text=text, now=now_iso()):
                    enriched.append(job_id)
        else:
            failed += 1
        if progress is not None:
            progress(done / len(waiting))
    return enriched, failed
