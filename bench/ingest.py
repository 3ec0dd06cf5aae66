"""Upsert 10,000 jobs (30% duplicates by URL) into one user database in one transaction,
next to a bare executemany INSERT of the same rows into the same schema, in the same run.

Target (issue 2): the upsert path reaches at least 50% of the bare insert rate.
"""

from __future__ import annotations

import random
import statistics
import tempfile
import time
from pathlib import Path

from peregrine.lib.clock import now_iso
from peregrine.storage.queries import jobs as job_q
from peregrine.storage.userdb import UserDB

N = 10_000
DUPLICATE_SHARE = 0.30
ROUNDS = 5
LEVELS = ["Senior", "Staff", "Lead", ""]
AREAS = ["Python", "Data", "Platform", "Backend"]


def make_jobs(rng: random.Random) -> list[job_q.NewJob]:
    unique = int(N * (1 - DUPLICATE_SHARE))
    base = [
        job_q.NewJob(
            title=f"{rng.choice(LEVELS)} {rng.choice(AREAS)} Engineer {i}",
            url=f"https://jobs.example/{i}",
            company=f"Company {rng.randrange(2000)} Inc.",
            location=rng.choice(["Berlin", "Remote", "New York, NY", "London"]),
            work_mode=rng.choice(["remote", "hybrid", "onsite", "unknown"]),
            source=rng.choice(["indeed", "linkedin", "greenhouse", "feed"]),
            description="We build things. " * rng.randrange(5, 60),
            salary_text="$120k - $150k",
        )
        for i in range(unique)
    ]
    dupes = [
        job_q.NewJob(
            title=j.title, url=j.url, company=j.company, source="adzuna", description=j.description
        )
        for j in rng.sample(base, N - unique)
    ]
    rows = base + dupes
    rng.shuffle(rows)
    return rows


def bare_insert(path: Path, jobs: list[job_q.NewJob], now: str) -> float:
    """The floor: the same 10,000 rows, prepared up front, in one executemany.

    ``OR IGNORE`` is the least a bare insert must do to survive the duplicate URLs.
    """
    db = UserDB.open(path, create=True)
    rows = [job_q._params(j, now) for j in jobs]
    sql = job_q._UPSERT.split("ON CONFLICT")[0].replace("INSERT INTO", "INSERT OR IGNORE INTO")
    start = time.perf_counter()
    with db.write() as conn:
        conn.executemany(sql, rows)
    elapsed = time.perf_counter() - start
    db.close()
    return elapsed


def upsert(path: Path, jobs: list[job_q.NewJob], now: str) -> tuple[float, job_q.UpsertResult]:
    db = UserDB.open(path, create=True)
    start = time.perf_counter()
    with db.write() as conn:
        result = job_q.upsert_jobs(conn, jobs=jobs, now=now)
    elapsed = time.perf_counter() - start
    db.close()
    return elapsed, result


def main() -> None:
    rng = random.Random(7)
    jobs = make_jobs(rng)
    now = now_iso()
    bare_times, upsert_times = [], []
    result = None
    with tempfile.TemporaryDirectory() as tmp:
        for r in range(ROUNDS):
            bare_times.append(bare_insert(Path(tmp) / f"bare{r}.db", jobs, now))
            elapsed, result = upsert(Path(tmp) / f"upsert{r}.db", jobs, now)
            upsert_times.append(elapsed)
    bare = statistics.median(bare_times)
    ups = statistics.median(upsert_times)
    print(f"rows: {N} ({DUPLICATE_SHARE:.0%} duplicates by URL), median of {ROUNDS} rounds")
    print(f"bare executemany INSERT OR IGNORE    : {N / bare:8,.0f} rows/s ({bare * 1e3:.0f} ms)")
    print(f"upsert_jobs (normalise, merge, links): {N / ups:8,.0f} rows/s ({ups * 1e3:.0f} ms)")
    print(f"result: {result}")
    ratio = bare / ups
    print(f"upsert / bare = {ratio:.0%} (target >= 50%): {'OK' if ratio >= 0.5 else 'MISSED'}")


if __name__ == "__main__":
    main()
