"""Cloud-mode tenancy costs, measured in one run.

1. Cold open of a tenant: verify the session JWT + derive the key + open the SQLCipher
   database (schema check included) + first query. Target p99 ≤ 5 ms. A passphrase-form
   key (PBKDF2 on every open) is measured next to it for contrast.
2. Review-page throughput (``GET /api/v1/jobs?limit=50``) with 1,000 tenants rotating
   through one worker, against the same page in local mode. Target ≥ 70 %. Measured with
   the default handle cache (1,024: every tenant stays open) and with a 256-handle cache
   (round-robin over 1,000 tenants then makes every request a cold open: the worst case).
3. Memory per open tenant handle (RSS growth per open handle, one pooled connection each).
4. 10,000 provisioned tenants on disk: time and disk use (``--tenants`` to change).

Run: python bench/tenancy.py [--tenants 10000] [--rotating 1000]
"""

from __future__ import annotations

import argparse
import dataclasses
import gc
import os
import secrets
import statistics
import tempfile
import time
import uuid
from pathlib import Path

import jwt
import sqlcipher3
from fastapi.testclient import TestClient
from starlette.datastructures import Headers

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
    tokens = [{"X-CF-Session": f"{COOKIE}={token(jwt_secret, u)}"} for u in users]

    variants = {
        "local mode": (local, None),
        f"cloud, default cache {cloud.cloud_db_cache_size}": (cloud, tokens),
        # Round-robin over more tenants than the cache holds: every request a cold open.
        "cloud, cache of 256": (dataclasses.replace(cloud, cloud_db_cache_size=256), tokens),
    }
    # The job list's response caches (web/fragments.py) can only hit in local mode here (one
    # user asking for one page), never with 1,000 tenants in rotation: with them on, the
    # ratio measures the caches' hit rate; with them off in every variant, what tenancy
    # costs, which is the question the target asks.
    for caches in (True, False):
        apps = {name: create_app(settings) for name, (settings, _) in variants.items()}
        if not caches:
            for app in apps.values():
                app.state.api_job_rows = FragmentCache(maxsize=0)
                app.state.api_job_pages = LRU(maxsize=0)
        clients = {
            name: TestClient(app, base_url="http://127.0.0.1:8505") for name, app in apps.items()
        }
        elapsed = dict.fromkeys(variants, 0.0)
        position = dict.fromkeys(variants, 0)
        chunk = 100
        try:
            for client in clients.values():
                client.__enter__()
            # Interleaved in chunks, so a noisy neighbour on a shared machine slows all alike.
            for _ in range(requests // chunk):
                for name, (_, headers) in variants.items():
                    client = clients[name]
                    start = time.perf_counter()
                    for _ in range(chunk):
                        h = headers[position[name] % tenants] if headers else {}
                        position[name] += 1
                        response = client.get("/api/v1/jobs?limit=50", headers=h)
                    elapsed[name] += time.perf_counter() - start
                    assert response.status_code == 200, response.text
        finally:
            for client in clients.values():
                client.__exit__(None, None, None)
        rates = {name: position[name] / elapsed[name] for name in variants}
        local_rate = rates["local mode"]
        label = "response caches on" if caches else "response caches off in every variant"
        print(f"GET /api/v1/jobs?limit=50, {requests} requests each, {tenants} tenants, {label}:")
        for name, rate in rates.items():
            share = "" if name == "local mode" else f" = {rate / local_rate:5.1%} of local"
            print(f"  {name + ':':28s} {rate:7.1f} req/s{share}")
    print("  target: cloud >= 70% of local with the caches off (what tenancy costs)")


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
