"""Discovery pipeline speed: 10,000 raw listings from several sources, 30% of them
cross-source duplicates (other source, other URL, title and company spelled differently)
→ normalise → filter and de-duplicate → store → score, into a fresh user database.

Target (issue 5): at least 5,000 listings/s end to end on one core.
Prints listings/s end to end, the share of each stage, and the scoring rate.
"""

from __future__ import annotations

import os
import random
import statistics
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

from peregrine.lib.clock import now_iso
from peregrine.services import scoring
from peregrine.services.dedupe import Filters, store_listings
from peregrine.services.normalise import to_new_job
from peregrine.sources.base import RawListing
from peregrine.storage.queries import discovery as disc_q
from peregrine.storage.queries import profile as profile_q
from peregrine.storage.userdb import UserDB

N = 10_000
DUPLICATE_SHARE = 0.30
ROUNDS = 3
TARGET = 5_000
SOURCES = ["linkedin", "indeed", "greenhouse", "lever", "feeds", "adzuna"]
LEVELS = [("Senior", "Sr."), ("Staff", "Staff"), ("Junior", "Jr."), ("", ""), ("Lead", "Lead")]
AREAS = ["Python", "Data", "Platform", "Backend", "Frontend", "Mobile", "ML", "Security"]
ROLES = ["Engineer", "Developer", "Analyst", "Architect", "Scientist"]
CITIES = ["Austin, TX", "Berlin, Germany", "New York, NY", "London, UK", "Remote", "Toronto, ON"]
SKILLS = ["Python", "Go", "Rust", "C++", "C#", ".NET", "Node.js", "CI/CD", "Kubernetes",
          "PostgreSQL", "React", "AWS", "Terraform", "Kafka", "Spark", "Django", "SQL"]  # fmt: skip
SALARIES = ["$120k - $150k", "$45/hr", "up to £70,000 a year", "", "€5.000 per month", ""]
FILLER = (
    "You will design, build and operate services used by millions of people. We value "
    "ownership, kindness and clear writing. Benefits include health cover and learning budget. "
)


def make_listings(rng: random.Random) -> list[RawListing]:
    unique = int(N * (1 - DUPLICATE_SHARE))
    today = date(2026, 11, 27)
    base: list[RawListing] = []
    for i in range(unique):
        level, _short = rng.choice(LEVELS)
        skills = ", ".join(rng.sample(SKILLS, 5))
        base.append(
            RawListing(
                source=rng.choice(SOURCES),
                title=f"{level} {rng.choice(AREAS)} {rng.choice(ROLES)} {i % 97}".strip(),
                url=f"https://jobs.example.org/{i}?utm_source=bench",
                company=f"Company {rng.randrange(1500)}",
                location=rng.choice(CITIES),
                description=f"<p>{FILLER * rng.randrange(3, 8)}</p><p>Stack: {skills}.</p>",
                salary_text=rng.choice(SALARIES),
                date_posted=(today - timedelta(days=rng.randrange(30))).isoformat(),
            )
        )
    duplicates = []
    for n in range(N - unique):
        original = base[rng.randrange(unique)]
        title = original.title
        for full, short in LEVELS:
            if full and title.startswith(full):
                title = short + title[len(full) :]
        duplicates.append(
            RawListing(
                source=rng.choice([s for s in SOURCES if s != original.source]),
                title=title,
                url=f"https://board{n % 7}.example.net/view/{n}",
                company=original.company + rng.choice([", Inc.", " LLC", " Corporation", ""]),
                location=original.location,
                description=original.description,
                salary_text=original.salary_text,
                date_posted=original.date_posted,
            )
        )
    listings = base + duplicates
    rng.shuffle(listings)
    return listings


def one_round(listings: list[RawListing], folder: Path) -> dict[str, float]:
    db = UserDB.open(folder / "staging.db", create=True)
    with db.write() as conn:
        profile_q.add_resume(
            conn, structured={"skills": SKILLS[:8]}, raw_text="", filename="", now=now_iso()
        )
        profile = profile_q.SearchProfile(
            name="bench", titles=["Senior Python Engineer", "Staff Data Engineer"],
            locations=["Austin, TX", "Berlin"], exclude_keywords=["intern", "unpaid"],
            salary_floor=80_000,
        )  # fmt: skip
        profile_q.save_search_profile(conn, profile=profile, now=now_iso())
    started = time.perf_counter()
    cpu_started = time.process_time()
    jobs = [to_new_job(raw) for raw in listings]
    normalised = time.perf_counter()
    with db.write() as conn:
        filters = Filters.load(conn, profile=profile)
        report = store_listings(conn, jobs=jobs, filters=filters, now=now_iso())
        ids = disc_q.ids_for_urls(conn, urls=report.new_urls)
    stored = time.perf_counter()
    summary = scoring.score_jobs(db, job_ids=ids)
    finished = time.perf_counter()
    cpu = time.process_time() - cpu_started
    with db.read() as conn:
        ctx = scoring.ScoringContext.load(conn)
        rows = disc_q.scoring_rows(conn)
    pure_start = time.perf_counter()
    for row in rows:
        scoring.score_job(ctx, row)
    pure = time.perf_counter() - pure_start
    db.close()
    return {
        "total": finished - started,
        "cpu": cpu,
        "normalise": normalised - started,
        "store": stored - normalised,
        "score": finished - stored,
        "scored": summary.scored,
        "inserted": report.inserted,
        "merged": report.merged,
        "filtered": sum(report.filtered.values()),
        "pure_rate": len(rows) / pure,
    }


def main() -> None:
    rng = random.Random(5)
    listings = make_listings(rng)
    results = []
    for _ in range(ROUNDS):
        with tempfile.TemporaryDirectory() as tmp:
            results.append(one_round(listings, Path(tmp)))
    best = min(results, key=lambda r: r["total"])
    median_total = statistics.median(r["total"] for r in results)
    rate = N / median_total
    print(f"listings: {N} ({DUPLICATE_SHARE:.0%} cross-source duplicates), rounds: {ROUNDS}")
    print(
        f"stored new: {best['inserted']:.0f}, merged across sources: {best['merged']:.0f}, "
        f"filtered: {best['filtered']:.0f}"
    )
    print(
        f"end to end (median): {median_total:.3f} s = {rate:,.0f} listings/s "
        f"(target >= {TARGET:,}/s: {'met' if rate >= TARGET else 'NOT met'})"
    )
    median_cpu = statistics.median(r["cpu"] for r in results)
    cpu_rate = N / median_cpu
    print(
        f"end to end CPU time of this process (median): {median_cpu:.3f} s = "
        f"{cpu_rate:,.0f} listings/s per core "
        f"(target: {'met' if cpu_rate >= TARGET else 'NOT met'})"
    )
    print(f"load average while running: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    print(
        f"stages (fastest round): normalise {best['normalise']:.3f} s, "
        f"de-duplicate+store {best['store']:.3f} s, score+store {best['score']:.3f} s"
    )
    print(
        f"scoring: {best['scored'] / best['score']:,.0f} jobs/s with storage, "
        f"{best['pure_rate']:,.0f} jobs/s computation only"
    )


if __name__ == "__main__":
    main()
