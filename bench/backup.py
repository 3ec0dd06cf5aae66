"""Export and restore of a 100 MB encrypted user database, next to a plain file copy of
the same database in the same run. Each operation runs in its own subprocess so its peak
RSS (VmHWM) is its own.

Target (issue 8): export reaches at least 25% of the copy rate; peak RSS under 100 MB.
"""

from __future__ import annotations

import json
import os
import random
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_MB = 100
_SENTENCE = (
    "we are looking for an engineer to build and run services data platform python "
    "postgres kubernetes team remote hybrid salary benefits growth mentoring customers "
    "product design reliability on-call testing observability security privacy startup "
    "experience years senior staff lead backend frontend api cloud scale performance"
)
WORDS = _SENTENCE.split()


def build(path: Path, key: bytes) -> None:
    from peregrine.storage.userdb import UserDB

    rng = random.Random(8)
    db = UserDB.open(path, key=key, create=True)
    n = 0
    while not path.exists() or path.stat().st_size < TARGET_MB * 1024 * 1024:
        with db.write() as conn:
            for _ in range(2000):
                n += 1
                text = " ".join(rng.choice(WORDS) for _ in range(rng.randrange(300, 900)))
                conn.execute(
                    "INSERT INTO jobs (title, company, url, date_found, updated_at, description,"
                    " cover_letter) VALUES (?, ?, ?, '2026-11-01T00:00:00Z',"
                    " '2026-11-01T00:00:00Z', ?, ?)",
                    (
                        f"Engineer {n}",
                        f"Company {n % 700}",
                        f"https://jobs.test/{n}",
                        text,
                        text[:1500],
                    ),
                )
                conn.execute(
                    "INSERT INTO job_events (job_id, to_status, at) VALUES "
                    "(last_insert_rowid(), 'pending', '2026-11-01T00:00:00Z')"
                )
        with db.read() as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()


def child(kind: str, args: list[str]) -> None:
    started = time.perf_counter()
    if kind == "noop":
        pass
    elif kind == "copy":
        shutil.copyfile(args[0], args[1])
        with open(args[1], "rb+") as fh:
            os.fsync(fh.fileno())
    elif kind == "export":
        from peregrine.storage.backup_export import write_export

        write_export(
            Path(args[0]), key=bytes.fromhex(args[1]), workdir_root=Path(args[2]), out=Path(args[3])
        )
    elif kind == "restore":
        from peregrine.storage.backup_restore import stage_restore, swap_in

        key = bytes.fromhex(args[1])
        staged = stage_restore(
            Path(args[0]), target=Path(args[3]), key=key, workdir_root=Path(args[2])
        )
        swap_in(staged.path, Path(args[3]), key=key)
    elapsed = time.perf_counter() - started
    hwm_kb = 0
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            hwm_kb = int(line.split()[1])
    usage = resource.getrusage(resource.RUSAGE_SELF)
    cpu = usage.ru_utime + usage.ru_stime
    print(json.dumps({"seconds": elapsed, "cpu_seconds": cpu, "peak_rss_mb": hwm_kb / 1024}))


def run(kind: str, *args: str) -> dict[str, float]:
    out = subprocess.run(
        [sys.executable, __file__, "--child", kind, *args],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return dict(json.loads(out.strip().splitlines()[-1]))


def main() -> None:
    key = os.urandom(32)
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        source = root / "user" / "staging.db"
        print(f"building a {TARGET_MB} MB encrypted database…", flush=True)
        build(source, key)
        size_mb = source.stat().st_size / 1024**2
        # The baseline interpreter's own RSS, to read the others against.
        base = run("noop")
        cpu_base = base["cpu_seconds"]
        copy = run("copy", str(source), str(root / "copy.db"))
        export = run("export", str(source), key.hex(), str(root / "work"), str(root / "b.zip"))
        target = root / "restored" / "staging.db"
        target.parent.mkdir()
        restore = run(
            "restore", str(root / "b.zip"), os.urandom(32).hex(), str(root / "work"), str(target)
        )
        zip_mb = (root / "b.zip").stat().st_size / 1024**2
    print(f"database: {size_mb:.1f} MB encrypted; backup zip {zip_mb:.1f} MB")
    print(f"python baseline peak RSS: {base['peak_rss_mb']:.1f} MB")
    rows = [
        ("plain file copy", copy),
        ("export (decrypt+zip)", export),
        ("restore (check+rebuild+encrypt)", restore),
    ]
    # The machine may be shared: CPU time (minus interpreter start-up) is printed next to
    # wall time so a loaded run can still be read.
    for label, figures in rows:
        rate = size_mb / figures["seconds"]
        cpu = max(figures["cpu_seconds"] - cpu_base, 1e-3)
        print(
            f"{label:34s} wall {figures['seconds']:6.2f} s {rate:7.1f} MB/s | "
            f"cpu {cpu:6.2f} s {size_mb / cpu:7.1f} MB/s | "
            f"peak RSS {figures['peak_rss_mb']:5.1f} MB"
        )
    ratio = copy["seconds"] / export["seconds"]
    cpu_ratio = max(copy["cpu_seconds"] - cpu_base, 1e-3) / max(
        export["cpu_seconds"] - cpu_base, 1e-3
    )
    print(f"export rate / copy rate: wall {ratio:.1%}, cpu {cpu_ratio:.1%} (target >= 25%)")
    worst = max(export["peak_rss_mb"], restore["peak_rss_mb"])
    print(f"peak RSS export/restore: {worst:.1f} MB (target < 100 MB)")


if __name__ == "__main__":
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3:])
    else:
        main()
