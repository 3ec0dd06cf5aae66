"""Runs the real `peregrine` command with two extra task kinds registered, so subprocess
workers and app nodes in the tests have handlers whose behaviour the tests control.

    python peregrine_with_test_tasks.py worker --concurrency 2

- ``mark`` writes ``params["canary"]`` into the running user's ``preferences`` (key
  ``mark-<job id>``) and appends one line to ``PEREGRINE_TEST_RUN_LOG``.
- ``gated`` reports progress ``waiting`` 0.5, then waits (checking for a cancel) until the
  file ``params["gate"]`` exists, and logs like ``mark``.
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path
from typing import Any

from peregrine.cli.main import main
from peregrine.tasks.model import TaskContext
from peregrine.tasks.registry import register_handler

WHO = os.environ.get("PEREGRINE_TEST_WHO", "?")


def _log(ctx: TaskContext, outcome: str) -> None:
    line = f"{WHO} {ctx.db.path.parent.parent.name} {ctx.task_id} {outcome}\n"
    with open(os.environ["PEREGRINE_TEST_RUN_LOG"], "a") as out:
        out.write(line)


def mark(ctx: TaskContext) -> dict[str, Any]:
    ctx.report("marking", 0.5)
    time.sleep(float(ctx.params.get("sleep", 0.2)))
    with ctx.db.write() as conn:
        conn.execute(
            "INSERT INTO preferences (key, value) VALUES (?, ?)",
            (f"mark-{ctx.job_id}", f'"{ctx.params["canary"]}"'),
        )
    _log(ctx, "done")
    return {"canary": ctx.params["canary"]}


def gated(ctx: TaskContext) -> dict[str, Any]:
    ctx.report("waiting", 0.5)
    gate = Path(ctx.params["gate"])
    try:
        while not gate.exists():
            ctx.check()
            time.sleep(0.05)
    except BaseException:
        _log(ctx, "stopped")
        raise
    _log(ctx, "done")
    return {"gate": "opened"}


register_handler("mark", mark)
register_handler("gated", gated)

if __name__ == "__main__":
    sys.argv = ["peregrine", *sys.argv[1:]]
    main()
