"""Cloud-mode tenancy costs, measured in one run.

1. Cold open of a tenant: verify the session JWT + derive the key + open the SQLCipher
   database (schema check included) + first query. Target p99 ≤ 5 ms. A passphrase-form
   key (PBKDF2 on every open) is measured next to it for contrast.
2. Review-page throughput (``GET /review``, the target's figure, and the JSON list
   ``GET /api/v1/jobs?limit=50``) with 1,000 tenants rotating through one worker, against
   the same page in local mode, with the response caches on and off. Target ≥ 70 %.
   Measured with the default handle cache (1,024: every tenant stays open) and with a
   256-handle cache (round-robin over 1,000 tenants then makes every request a cold open:
   the worst case). Measured twice: the app called through ASGI in-process (its own cost,
   no server: the strict figure), and served by one ``peregrine serve`` worker (uvicorn)
   to 8 keep-alive clients, the worker's CPU per request read from /proc (throughput of
   one worker = 1 / CPU per request; the clients share the machine, so wall req/s are
   theirs as much as the server's).
3. Memory per open tenant handle (RSS growth per open handle, one pooled connection each).
4. 10,000 provisioned tenants on disk: time and disk use (``--tenants`` to change).

Run: python bench/tenancy.py [--tenants 10000] [--rotating 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import gc
import os
import secrets
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import jwt
import sqlcipher3
from starlette.datastructures import Headers

# The sibling benchmark's server start-up and raw keep-alive client (run from bench/).
from pages import cpu_seconds, free_port, keepalive_get, start
from peregrine.app import create_app
from peregrine.lib.clock import now_iso
from peregrine.settings import Settings
from peregrine.storage.queries import jobs as job_q
from peregrine.storage.userdb import UserDB
from peregrine.tenancy.cloud import CloudTenancy
from peregrine.tenancy.identity import TenantLayout
from peregrine.tenancy.provisioning import provision
from peregrine.tenancy.session import TokenVerifier
from peregrine.web.fragments import LRU, FragmentCache
from peregrine.web.node import ROUTE_COOKIE, route_value

COOKIE = "directus_session_token"
JOBS_PER_TENANT = 50


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def token(secret: str, user_id: str) -> str:
    now = int(time.time())
    claims = {
        "id": user_id,
        "role": "r",
        "app_access": True,
        "admin_access": False,
        "iat": now,
        "exp": now + 3600,
        "iss": "directus",
    }
    return jwt.encode(claims, secret, algorithm="HS256")


def seed_jobs(db: UserDB, n: int) -> None:
    jobs = [
        job_q.NewJob(
            title=f"Engineer {i}",
            url=f"https://jobs.example/{i}",
            company=f"Company {i % 37}",
            description="We build things. " * 20,
        )
        for i in range(n)
    ]
    with db.write() as conn:
        job_q.upsert_jobs(conn, jobs=jobs, now=now_iso())


def rss_kib() -> int:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def du_kib(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            total += os.lstat(os.path.join(root, name)).st_blocks * 512
    return total // 1024


def cold_open(root: Path, jwt_secret: str, server_secret: bytes, n: int) -> None:
    layout = TenantLayout(root, "peregrine", server_secret)
    verifier = TokenVerifier(jwt_secret.encode())
    users = [str(uuid.uuid4()) for _ in range(n)]
    for user in users:
        provision(layout.tenant(user))
    tokens = [token(jwt_secret, u) for u in users]
    # One untimed open first: the per-process work (loading the migrations shipped in the
    # package, first SQLCipher use) belongs to start-up, not to a tenant's cold open.
    warm = layout.tenant(users[0])
    UserDB.open(warm.db_path, key=warm.key).close()
    times, cpu = [], []
    for tok in tokens:
        start, start_cpu = time.perf_counter(), time.process_time()
        session = verifier.verify(tok)
        tenant = layout.tenant(session.user_id)
        db = UserDB.open(tenant.db_path, key=tenant.key, create=False)
        db.execute("SELECT count(*) FROM jobs")
        times.append((time.perf_counter() - start) * 1000)
        cpu.append((time.process_time() - start_cpu) * 1000)
        db.close()
    print(
        f"cold open (JWT + key + open + query), {n} tenants: "
        f"p50 {statistics.median(times):.2f} ms, p99 {pct(times, 0.99):.2f} ms "
        f"(target p99 ≤ 5 ms); CPU {statistics.mean(cpu):.2f} ms per open"
    )

    # Contrast: the same file shape keyed with a passphrase runs PBKDF2 on every open.
    path = root / "passphrase.db"
    conn = sqlcipher3.connect(str(path))
    conn.execute("PRAGMA key = 'correct horse battery staple'")
    conn.execute("CREATE TABLE jobs (id INTEGER PRIMARY KEY)")
    conn.close()
    slow = []
    for _ in range(10):
        start = time.perf_counter()
        conn = sqlcipher3.connect(str(path))
        conn.execute("PRAGMA key = 'correct horse battery staple'")
        conn.execute("SELECT count(*) FROM jobs").fetchone()
        slow.append((time.perf_counter() - start) * 1000)
        conn.close()
    print(f"  passphrase-form key for contrast: p50 {statistics.median(slow):.1f} ms")


def cold_open_through_tenancy(root: Path, jwt_secret: str, server_secret: str, n: int) -> None:
    """The same, through the code a request runs: cookie parsing, token checks, erasure
    tombstone, provisioning and crash-recovery checks, the handle registry."""
    settings = Settings.from_env(
        {
            "CLOUD_MODE": "true",
            "CLOUD_DATA_ROOT": str(root),
            "DIRECTUS_JWT_SECRET": jwt_secret,
            "CF_SERVER_SECRET": server_secret,
        }
    )
    tenancy = CloudTenancy(settings)
    tenancy.start()
    users = [str(uuid.uuid4()) for _ in range(n + 1)]
    for user in users:
        provision(tenancy.layout.tenant(user))
        # The first open of a tenant in a process also sweeps their scratch folder: once
        # per process, so it is not part of the cold open measured below.
        with tenancy.lease(user) as db:
            db.execute("SELECT 1")
        tenancy.close_user(user)
    headers = [Headers({"x-cf-session": f"{COOKIE}={token(jwt_secret, u)}"}) for u in users]
    times, cpu = [], []
    try:
        for user, header in zip(users[1:], headers[1:], strict=True):
            start, start_cpu = time.perf_counter(), time.process_time()
            user_id = tenancy.authenticate(header)
            with tenancy.lease(user_id) as db:
                db.execute("SELECT count(*) FROM jobs")
            times.append((time.perf_counter() - start) * 1000)
            cpu.append((time.process_time() - start_cpu) * 1000)
            tenancy.close_user(user)
    finally:
        tenancy.stop()
    print(
        f"  through CloudTenancy (cookie + checks + registry): p50 {statistics.median(times):.2f}"
        f" ms, p99 {pct(times, 0.99):.2f} ms; CPU {statistics.mean(cpu):.2f} ms per open"
    )


class AsgiDriver:
    """Calls the app directly, one request after another, on one event loop with its
    lifespan running: the app's own cost, with no HTTP server or client around it.

    Why not TestClient: it hops through a thread portal eight times per request, ~3 ms of
    client work that was most of what the local figure measured and diluted the ratio.
    Without a server's parsing cost (~0.3 ms per request under uvicorn, bench/pages.py)
    the ratio is stricter than what a user sees.

    Requests run in chunks, one event-loop run per chunk: anyio ties its worker threads to
    the task that ``run_until_complete`` runs, so one run per request started a new thread
    for every thread-pool hop (~0.3 ms that a server, whose loop runs for its lifetime,
    never pays) and charged it to cloud mode alone.
    """

    def __init__(self, app: Any) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self._lifespan: Any = None
        self._state: dict[str, Any] = {}

    def __enter__(self) -> AsgiDriver:
        self._lifespan = self.app.router.lifespan_context(self.app)
        state = self.loop.run_until_complete(self._lifespan.__aenter__())
        self._state = dict(state or {})
        return self

    def __exit__(self, *exc: object) -> None:
        self.loop.run_until_complete(self._lifespan.__aexit__(None, None, None))
        self.loop.close()

    def get(self, target: str, headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes]:
        return self.loop.run_until_complete(self._get(target, headers))

    def get_many(
        self, target: str, headers: list[list[tuple[bytes, bytes]]]
    ) -> list[tuple[int, bytes]]:
        """One request per header list, one after another, in one run of the loop."""

        async def run() -> list[tuple[int, bytes]]:
            return [await self._get(target, h) for h in headers]

        return self.loop.run_until_complete(run())

    async def _get(self, target: str, headers: list[tuple[bytes, bytes]]) -> tuple[int, bytes]:
        path, _, query = target.partition("?")
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "http",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query.encode(),
            "root_path": "",
            "headers": [(b"host", b"127.0.0.1:8505"), *headers],
            "client": ("127.0.0.1", 50000),
            "server": ("127.0.0.1", 8505),
            "state": dict(self._state),
        }
        status = 0
        body: list[bytes] = []

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        async def send(message: dict[str, Any]) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body":
                body.append(message.get("body", b""))

        await self.app(scope, receive, send)
        return status, b"".join(body)


# The page the target names first (the review page), then the JSON list it is built from.
ROUTES = ("/review", "/api/v1/jobs?limit=50")
PAGE_CACHES = {
    "/review": ("review_pages", "review_cards"),
    "/api/v1/jobs?limit=50": ("api_job_pages", "api_job_rows"),
}


def throughput(base: Path, jwt_secret: str, server_secret: str, tenants: int) -> None:
    requests = max(2000, tenants * 2)
    local = Settings.from_env({"PEREGRINE_DATA_DIR": str(base / "local")})
    db = UserDB.open(local.staging_db, create=True)
    seed_jobs(db, JOBS_PER_TENANT)
    db.close()

    root = base / "cloud"
    root.mkdir(mode=0o700)
    cloud = Settings.from_env(
        {
            "CLOUD_MODE": "true",
            "CLOUD_DATA_ROOT": str(root),
            "DIRECTUS_JWT_SECRET": jwt_secret,
            "CF_SERVER_SECRET": server_secret,
        }
    )
    layout = TenantLayout(root, "peregrine", server_secret.encode())
    users = [str(uuid.uuid4()) for _ in range(tenants)]
    start = time.perf_counter()
    for user in users:
        tenant = layout.tenant(user)
        provision(tenant)
        tdb = UserDB.open(tenant.db_path, key=tenant.key)
        seed_jobs(tdb, JOBS_PER_TENANT)
        tdb.close()
    print(f"  (provisioned and seeded {tenants} tenants in {time.perf_counter() - start:.1f} s)")
    # What a browser sends after its first page: the session and the sticky-routing cookie
    # (without it every answer carries a Set-Cookie the browser would have taken once).
    tokens = [
        [
            (
                b"x-cf-session",
                f"{COOKIE}={token(jwt_secret, u)}; {ROUTE_COOKIE}="
                f"{route_value(server_secret.encode(), u)}".encode(),
            )
        ]
        for u in users
    ]

    variants: dict[str, tuple[Settings, list[list[tuple[bytes, bytes]]] | None]] = {
        "local mode": (local, None),
        f"cloud, handle cache {cloud.cloud_db_cache_size}": (cloud, tokens),
        # Round-robin over more tenants than the cache holds: every request a cold open.
        "cloud, handle cache 256": (dataclasses.replace(cloud, cloud_db_cache_size=256), tokens),
    }
    print(
        f"throughput, {tenants} tenants in rotation, {requests} requests per figure, app called"
        " in-process through ASGI (no HTTP server), variants interleaved in chunks of 100:"
    )
    head = ("page", "caches", "variant", "req/s", "CPU ms", "of local")
    print("  {:24s} {:7s} {:26s} {:>8s} {:>7s} {:>9s}".format(*head))
    for route in ROUTES:
        for caches in (True, False):
            apps = {name: create_app(settings) for name, (settings, _) in variants.items()}
            if not caches:
                for app in apps.values():
                    # The routes keep their caches in the state's own __dict__ (attributes
                    # set on app.state land elsewhere, which left them on before).
                    pages, fragments = PAGE_CACHES[route]
                    app.state.__dict__[pages] = LRU(maxsize=0)
                    app.state.__dict__[fragments] = FragmentCache(maxsize=0)
            drivers = {name: AsgiDriver(app) for name, app in apps.items()}
            elapsed = dict.fromkeys(variants, 0.0)
            cpu = dict.fromkeys(variants, 0.0)
            done = dict.fromkeys(variants, 0)
            chunk = 100
            try:
                for driver in drivers.values():
                    driver.__enter__()
                # Untimed: every tenant once (first opens sweep scratch folders, once per
                # process) and the first build of every cacheable page.
                for name, (_, headers) in variants.items():
                    for status, body in drivers[name].get_many(route, headers or [[]]):
                        assert status == 200, body[:300]
                # Interleaved in chunks, so a noisy neighbour on a shared machine slows all alike.
                for _ in range(requests // chunk):
                    for name, (_, headers) in variants.items():
                        first = done[name]
                        batch = [
                            headers[i % tenants] if headers else []
                            for i in range(first, first + chunk)
                        ]
                        start, start_cpu = time.perf_counter(), time.process_time()
                        results = drivers[name].get_many(route, batch)
                        elapsed[name] += time.perf_counter() - start
                        cpu[name] += time.process_time() - start_cpu
                        done[name] += chunk
                        for status, body in results:
                            assert status == 200, body[:300]
            finally:
                for driver in drivers.values():
                    driver.__exit__(None, None, None)
            rates = {name: done[name] / elapsed[name] for name in variants}
            local_rate = rates["local mode"]
            for name, rate in rates.items():
                share = "" if name == "local mode" else f"{rate / local_rate:9.1%}"
                print(
                    f"  {route:24s} {'on' if caches else 'off':7s} {name:26s} {rate:8.1f}"
                    f" {cpu[name] / done[name] * 1000:7.2f} {share}"
                )
    print(
        f"  load average {os.getloadavg()[0]:.1f}. Target (issue 4): the review page (/review),"
        f" cloud with the default handle cache >= 70% of local mode, caches on and off alike"
    )
    served(base, jwt_secret, server_secret, tokens)


SERVED_CLIENTS = 8
SERVED_SECONDS = 6.0


async def _rotating_load(port: int, target: str, cookies: list[bytes]) -> tuple[int, float]:
    """Requests done and seconds taken by SERVED_CLIENTS keep-alive clients, each request
    with the next tenant's cookies (one tenant: the same request every time)."""
    requests = [
        f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: text/html\r\n".encode()
        + (b"Cookie: " + c + b"\r\n" if c else b"")
        + b"\r\n"
        for c in cookies
    ]
    turn = 0
    done = 0

    async def client(until: float) -> None:
        nonlocal turn, done
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        try:
            while time.perf_counter() < until:
                turn += 1
                status = await keepalive_get(reader, writer, requests[turn % len(requests)])
                assert status == 200, status
                done += 1
        finally:
            writer.close()

    began = time.perf_counter()
    await asyncio.gather(*(client(began + SERVED_SECONDS) for _ in range(SERVED_CLIENTS)))
    return done, time.perf_counter() - began


def served(
    base: Path, jwt_secret: str, server_secret: str, tokens: list[list[tuple[bytes, bytes]]]
) -> None:
    cookies = [headers[0][1] for headers in tokens]
    common = {**os.environ, "PEREGRINE_LOG_LEVEL": "warning", "PEREGRINE_EMBEDDED_WORKER": "false"}
    modes = {
        "local mode": ({"PEREGRINE_DATA_DIR": str(base / "local")}, [b""]),
        "cloud, handle cache 1024": (
            {
                "CLOUD_MODE": "true",
                "CLOUD_DATA_ROOT": str(base / "cloud"),
                "DIRECTUS_JWT_SECRET": jwt_secret,
                "CF_SERVER_SECRET": server_secret,
            },
            cookies,
        ),
    }
    print(
        f"served by one `peregrine serve` worker, {SERVED_CLIENTS} keep-alive clients,"
        f" {SERVED_SECONDS:.0f} s per figure, cloud rotating through {len(cookies)} tenants:"
    )
    print(
        "  {:24s} {:26s} {:>8s} {:>10s} {:>9s}".format(
            "page", "variant", "req/s", "server CPU", "of local"
        )
    )
    for route in ROUTES:
        cpu_ms: dict[str, float] = {}
        for name, (env, mode_cookies) in modes.items():
            port = free_port()
            process = start(
                [sys.executable, "-m", "peregrine", "serve", "--port", str(port)],
                {**common, **env},
                f"http://127.0.0.1:{port}/healthz",
            )
            try:
                # Untimed: every tenant's first open, then every page built once.
                for _ in range(2):
                    for cookie in mode_cookies:
                        asyncio.run(_one(port, route, cookie))
                before = cpu_seconds(process.pid)
                done, took = asyncio.run(_rotating_load(port, route, mode_cookies))
                cpu_ms[name] = (cpu_seconds(process.pid) - before) / done * 1000
            finally:
                process.terminate()
                process.wait(timeout=10)
            share = "" if name == "local mode" else f"{cpu_ms['local mode'] / cpu_ms[name]:9.1%}"
            print(f"  {route:24s} {name:26s} {done / took:8.1f} {cpu_ms[name]:7.2f} ms {share}")
    print(
        "  (of local: local mode's server CPU per request over cloud's, i.e. one worker's"
        " throughput in cloud mode as a share of local mode's)"
    )


async def _one(port: int, target: str, cookie: bytes) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    request = f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n".encode()
    if cookie:
        request += b"Cookie: " + cookie + b"\r\n"
    try:
        assert await keepalive_get(reader, writer, request + b"\r\n") == 200
    finally:
        writer.close()


def memory(root: Path, server_secret: bytes, n: int) -> None:
    layout = TenantLayout(root, "peregrine", server_secret)
    tenants = [layout.tenant(str(uuid.uuid4())) for _ in range(n)]
    for tenant in tenants:
        provision(tenant)
    handles = []
    # Warm up allocator and caches with a few handles first.
    for tenant in tenants[:20]:
        handles.append(UserDB.open(tenant.db_path, key=tenant.key))
    gc.collect()
    before = rss_kib()
    for tenant in tenants[20:]:
        db = UserDB.open(tenant.db_path, key=tenant.key)
        db.execute("SELECT count(*) FROM jobs")
        handles.append(db)
    per = (rss_kib() - before) / (n - 20)
    print(f"memory per open tenant handle: {per:.0f} KiB (RSS growth over {n - 20} handles)")
    for db in handles:
        db.close()


def provisioned_on_disk(root: Path, server_secret: bytes, n: int) -> None:
    layout = TenantLayout(root, "peregrine", server_secret)
    start = time.perf_counter()
    for _ in range(n):
        provision(layout.tenant(str(uuid.uuid4())))
    elapsed = time.perf_counter() - start
    size = du_kib(root)
    print(
        f"{n} provisioned tenants: {elapsed:.1f} s ({elapsed / n * 1000:.1f} ms each), "
        f"{size / 1024:.0f} MiB on disk ({size / n:.0f} KiB each)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--tenants", type=int, default=10_000, help="tenants to provision (0 skips)"
    )
    parser.add_argument("--rotating", type=int, default=1_000, help="tenants in rotation")
    args = parser.parse_args()
    jwt_secret, server_secret = secrets.token_hex(32), secrets.token_hex(32)
    with tempfile.TemporaryDirectory(prefix="peregrine-bench-") as tmp:
        base = Path(tmp)
        for name in ("open", "tenancy", "mem", "disk"):
            (base / name).mkdir(mode=0o700)
        cold_open(base / "open", jwt_secret, server_secret.encode(), 300)
        cold_open_through_tenancy(base / "tenancy", jwt_secret, server_secret, 300)
        # Before the throughput run: memory that run frees would hide the growth measured.
        memory(base / "mem", server_secret.encode(), 520)
        throughput(base, jwt_secret, server_secret, args.rotating)
        if args.tenants:
            provisioned_on_disk(base / "disk", server_secret.encode(), args.tenants)


if __name__ == "__main__":
    main()
