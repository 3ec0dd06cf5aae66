"""Serve the review page and ``GET /api/v1/jobs`` from ONE uvicorn worker with 2,000 jobs in
the database, under 16 concurrent clients, next to a bare Starlette "hello" app measured in
the same run with the same load generator.

Target (issue 3): review page throughput >= 30% of the bare app's, review p99 < 50 ms.
The load generator runs on the same machine, so absolute figures depend on the host; the
ratio to the bare app is the figure to watch.
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from peregrine.lib.clock import now_iso
from peregrine.services import jobs as job_service
from peregrine.storage.queries import jobs as job_q
from peregrine.storage.userdb import UserDB

JOBS = 2_000
CLIENTS = 16
WARMUP_S = 1.5
DURATION_S = 6.0
HELLO_APP = """
from starlette.applications import Starlette
from starlette.responses import PlainTextResponse
from starlette.routing import Route

async def hello(request):
    return PlainTextResponse("hello")

app = Starlette(routes=[Route("/", hello)])
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def seed(data_dir: Path) -> None:
    rng = random.Random(7)
    db = UserDB.open(data_dir / "staging.db", create=True)
    paragraph = (
        "<p>We are looking for an engineer to build <b>reliable</b> systems. "
        "You will work with Python, SQL and <a href='https://example.org'>our team</a>.</p>"
    )
    jobs = [
        job_service.build_new_job(
            url=f"https://jobs.example.org/{i}",
            title=f"{rng.choice(['Senior', 'Staff', ''])} {rng.choice(['Python', 'Data'])} "
            f"Engineer {i}",
            company=f"Company {rng.randrange(400)}",
            location=rng.choice(["Berlin", "Remote", "London"]),
            description=paragraph * rng.randrange(3, 15),
            salary_text="$120k - $150k",
            work_mode=rng.choice(["remote", "hybrid", "onsite"]),
            source=rng.choice(["indeed", "greenhouse", "feed"]),
        )
        for i in range(JOBS)
    ]
    job_service.store_imported(db, jobs)
    now = now_iso()
    with db.write() as conn:
        for job_id in range(1, JOBS + 1):
            job_q.set_score(
                conn,
                job_id=job_id,
                score=rng.uniform(10, 99),
                explanation={"matched": ["python", "sql"], "title": 0.8},
                gaps=["kubernetes"],
                now=now,
            )
    db.close()


def start(cmd: list[str], env: dict[str, str], url: str) -> subprocess.Popen[bytes]:
    process = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL)
    # Imports alone take ~20 s when the shared machine is busy.
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            if httpx.get(url, timeout=1).status_code < 500:
                return process
        except httpx.HTTPError:
            time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"{cmd} did not start")


async def keepalive_get(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, request: bytes
) -> int:
    """One keep-alive GET on a raw connection; returns the status code.

    A bare-socket client instead of httpx: on a small shared machine httpx's own CPU cost
    would cap every target at the client's speed and hide the server's.
    """
    writer.write(request)
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head[9:12])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    await reader.readexactly(length)
    return status


async def load(url: str) -> tuple[float, float, float, int]:
    """Requests/s, p50 ms, p99 ms and error count for ``url`` under CLIENTS clients."""
    parts = httpx.URL(url)
    target = parts.raw_path.decode()
    request = (
        f"GET {target} HTTP/1.1\r\nHost: {parts.host}:{parts.port}\r\n"
        "Accept: text/html,application/json\r\n\r\n"
    ).encode()
    latencies: list[float] = []
    errors = 0

    async def worker(until: float, record: bool) -> None:
        nonlocal errors
        reader, writer = await asyncio.open_connection(parts.host, parts.port)
        try:
            while time.perf_counter() < until:
                start = time.perf_counter()
                status = await keepalive_get(reader, writer, request)
                elapsed = time.perf_counter() - start
                if status != 200:
                    errors += 1
                if record:
                    latencies.append(elapsed)
        finally:
            writer.close()

    warm_until = time.perf_counter() + WARMUP_S
    await asyncio.gather(*(worker(warm_until, False) for _ in range(CLIENTS)))
    began = time.perf_counter()
    await asyncio.gather(*(worker(began + DURATION_S, True) for _ in range(CLIENTS)))
    took = time.perf_counter() - began
    latencies.sort()
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return len(latencies) / took, statistics.median(latencies) * 1000, p99 * 1000, errors


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process (Linux), to report CPU per request: on a shared
    machine the wall-clock figures move with everyone else's load, this one much less."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data_dir = Path(tmp) / "data"
        print(f"seeding {JOBS} jobs…", flush=True)
        seed(data_dir)
        app_port, hello_port = free_port(), free_port()
        env = {
            **os.environ,
            "PEREGRINE_DATA_DIR": str(data_dir),
            "PEREGRINE_PORT": str(app_port),
            "PEREGRINE_LOG_LEVEL": "warning",
        }
        hello_file = Path(tmp) / "hello_app.py"
        hello_file.write_text(HELLO_APP)
        app = start(
            [sys.executable, "-m", "peregrine", "serve"],
            env,
            f"http://127.0.0.1:{app_port}/healthz",
        )
        hello = start(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--app-dir",
                tmp,
                "--port",
                str(hello_port),
                "--log-level",
                "warning",
                "--no-access-log",
                "hello_app:app",
            ],
            env,
            f"http://127.0.0.1:{hello_port}/",
        )
        try:
            targets = {
                "bare Starlette hello": f"http://127.0.0.1:{hello_port}/",
                "review page (50/page)": f"http://127.0.0.1:{app_port}/review",
                "GET /api/v1/jobs": f"http://127.0.0.1:{app_port}/api/v1/jobs?limit=50",
            }
            results = {}
            cpu: dict[str, float] = {}
            for name, url in targets.items():
                server = hello if name.startswith("bare") else app
                before = cpu_seconds(server.pid)
                results[name] = asyncio.run(load(url))
                requests = results[name][0] * (DURATION_S + WARMUP_S)
                cpu[name] = (cpu_seconds(server.pid) - before) / requests * 1000
        finally:
            for process in (app, hello):
                process.terminate()
                process.wait(timeout=10)
    bare = results["bare Starlette hello"][0]
    print(f"\n{CLIENTS} concurrent clients, {DURATION_S:.0f} s each, one uvicorn worker")
    print(
        f"{'target':<24}{'req/s':>9}{'p50 ms':>9}{'p99 ms':>9}{'% bare':>8}{'errors':>8}"
        f"{'CPU ms/req':>12}"
    )
    for name, (rps, p50, p99, errors) in results.items():
        print(
            f"{name:<24}{rps:>9.0f}{p50:>9.1f}{p99:>9.1f}{rps / bare:>8.0%}{errors:>8}"
            f"{cpu[name]:>12.2f}"
        )
    print(f"load average during the run: {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")
    review = results["review page (50/page)"]
    ok = review[0] >= 0.3 * bare and review[2] < 50
    print(f"\ntarget (review >= 30% of bare, p99 < 50 ms): {'MET' if ok else 'NOT MET'}")


if __name__ == "__main__":
    main()
