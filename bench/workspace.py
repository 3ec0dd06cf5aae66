"""Apply, Pipeline and Prep pages under load: one uvicorn worker (the real `peregrine serve`),
16 concurrent clients, a database of 2,000 jobs of which 400 are in the pipeline.

Prints requests/s, p50 and p99 per route. Reference target (issue 3, for pages): p99 < 50 ms.
"""

from __future__ import annotations

import asyncio
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from peregrine.lib.clock import now_iso
from peregrine.services import pipeline
from peregrine.storage.queries import jobs as job_q
from peregrine.storage.queries import letter_versions as letter_q
from peregrine.storage.userdb import UserDB

JOBS = 2_000
IN_PIPELINE = 400
CLIENTS = 16
REQUESTS = 400
STAGES = [
    ["approved", "applied"],
    ["approved", "applied", "phone_screen"],
    ["approved", "applied", "phone_screen", "interviewing"],
    ["approved", "applied", "rejected"],
]


def seed(path: Path) -> int:
    db = UserDB.open(path, create=True)
    now = now_iso()
    with db.write() as conn:
        job_q.upsert_jobs(
            conn,
            jobs=[
                job_q.NewJob(
                    title=f"Engineer {i}",
                    url=f"https://jobs.example/{i}",
                    company=f"Company {i % 300}",
                    description="<p>We build things.</p>" * 40,
                )
                for i in range(JOBS)
            ],
            now=now,
        )
    for i in range(1, IN_PIPELINE + 1):
        for status in STAGES[i % len(STAGES)]:
            pipeline.move(db, job_id=i, to_status=status)
    with db.write() as conn:
        for version in range(5):
            letter_q.add_version(
                conn, job_id=2, body=f"Letter {version}\n" * 30, origin="edited", now=now
            )
        job_q.update_job_fields(
            conn,
            job_id=3,
            values={"interview_at": "2026-12-04T14:30", "interview_tz": "Europe/Berlin"},
            now=now,
        )
    db.close()
    return 3


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def measure(url: str) -> tuple[float, float, float]:
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for n in range(REQUESTS):
        queue.put_nowait(n)

    async def worker(client: httpx.AsyncClient) -> None:
        while True:
            try:
                queue.get_nowait()
            except asyncio.QueueEmpty:
                return
            start = time.perf_counter()
            response = await client.get(url)
            latencies.append(time.perf_counter() - start)
            if response.status_code != 200:
                raise SystemExit(f"{url}: HTTP {response.status_code}")

    limits = httpx.Limits(max_connections=CLIENTS)
    async with httpx.AsyncClient(limits=limits, timeout=30) as client:
        for _ in range(20):  # warm-up
            await client.get(url)
        began = time.perf_counter()
        await asyncio.gather(*(worker(client) for _ in range(CLIENTS)))
        elapsed = time.perf_counter() - began
    latencies.sort()
    p99 = latencies[int(len(latencies) * 0.99) - 1]
    return REQUESTS / elapsed, statistics.median(latencies) * 1000, p99 * 1000


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        interview_job = seed(data / "staging.db")
        port = free_port()
        env = {
            **os.environ,
            "PEREGRINE_DATA_DIR": str(data),
            "PEREGRINE_PORT": str(port),
            "PEREGRINE_LOG_LEVEL": "warning",
        }
        server = subprocess.Popen([sys.executable, "-m", "peregrine", "serve"], env=env)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    if time.monotonic() > deadline:
                        raise SystemExit("server did not start") from None
                    time.sleep(0.1)
            print(
                f"{JOBS} jobs, {IN_PIPELINE} in the pipeline; "
                f"{CLIENTS} clients, {REQUESTS} requests"
            )
            print(f"{'route':<34} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
            for route in (
                "/pipeline",
                "/api/v1/pipeline",
                "/apply/2",
                f"/pipeline/{interview_job}",
                "/prep/2",
                f"/pipeline/{interview_job}/interview.ics",
            ):
                rate, p50, p99 = asyncio.run(measure(base + route))
                print(f"{route:<34} {rate:8.0f} {p50:8.1f} {p99:8.1f}")
        finally:
            server.terminate()
            server.wait(timeout=10)


if __name__ == "__main__":
    main()
