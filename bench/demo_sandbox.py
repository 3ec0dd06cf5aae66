"""Demo instance costs: building the seed, a new visitor's first request (copy the seed
and open it), and a returning visitor's lookup.

Targets: a first visit adds under 50 ms (median) to the request; a returning visitor's
lookup is under 1 ms; the seed builds in under 5 s so a nightly reset is unnoticeable.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

from peregrine.demo.seed import build_seed
from peregrine.settings import Settings
from peregrine.tenancy.demo import DemoTenancy, new_token

VISITORS = 100


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        build_seed(folder / "staging.db", today=date(2026, 11, 27))
        seed_s = time.perf_counter() - started
        size_kb = (folder / "staging.db").stat().st_size / 1024

        settings = Settings.from_env(
            {"DEMO_MODE": "true", "PEREGRINE_DATA_DIR": str(folder), "DEMO_MAX_SANDBOXES": "500"}
        )
        tenancy = DemoTenancy(settings)
        tenancy.start()
        tokens = [new_token() for _ in range(VISITORS)]
        first: list[float] = []
        for token in tokens:
            t0 = time.perf_counter()
            db, _ = tenancy.sandbox_for(token)
            db.execute("SELECT count(*) FROM jobs")
            first.append((time.perf_counter() - t0) * 1000)
        again: list[float] = []
        for token in tokens[-20:]:  # still among the open handles
            t0 = time.perf_counter()
            tenancy.sandbox_for(token)
            again.append((time.perf_counter() - t0) * 1000)
        tenancy.stop()

    print(f"seed build:                {seed_s * 1000:8.1f} ms  ({size_kb:.0f} KB, 40 jobs)")
    print(
        f"first visit (copy + open): {statistics.median(first):8.2f} ms median, "
        f"{max(first):.2f} ms max over {VISITORS} visitors"
    )
    print(f"returning visitor lookup:  {statistics.median(again):8.3f} ms median")


if __name__ == "__main__":
    main()
