"""Loopback servers and probe handlers for the isolation sweep with background tasks.

Every outside system a task touches answers with the *caller's* canary: the job-page and
feed server puts the tenant named in the path into the page, and the model server echoes
every canary it finds in the prompt. So a task that ran against the wrong tenant's
database, or mixed two tenants' data in one prompt, leaves a foreign canary behind.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler
from typing import Any

from peregrine.lib.clock import now_iso
from peregrine.lib.http import HttpClient, allow_entries
from peregrine.services import discovery
from peregrine.services.research import SECTIONS
from peregrine.storage.queries import jobs as job_q
from peregrine.storage.queries import profile as profile_q
from peregrine.storage.userdb import UserDB
from peregrine.tasks.model import TaskCancelled, TaskContext
from peregrine.tasks.registry import Registry
from tests.replay import ReplayServer, Seen, html_reply, serve
from tests.support.llm_servers import FakeLLMServer

CANARY = re.compile(r"CANARY-[a-z]+-[a-z_]+-[a-z_]+")
TENANTS = ("alice", "bob")
LETTER_WORDS = " ".join(["I would bring care and curiosity to this role."] * 8)


def _page(request: Seen) -> tuple[int, dict[str, str], bytes]:
    owner = request.path.split("/")[1]
    body = (
        f"<html><head><title>Engineer</title></head><body><main><h1>Engineer</h1>"
        f"<p>CANARY-{owner}-page-description: build reliable systems with Python and "
        "PostgreSQL, review code, mentor others and care about the people who use them. "
        f"{'We ship small changes often. ' * 12}</p></main></body></html>"
    )
    return html_reply(body)


def _feed(request: Seen) -> tuple[int, dict[str, str], bytes]:
    owner = request.path.split("/")[1]
    when = format_datetime(datetime.now(UTC))
    items = "".join(
        f"<item><title>Engineer CANARY-{owner}-feed-title {n} at Feedco</title>"
        f"<link>https://{owner}.example/feed/{n}</link><pubDate>{when}</pubDate>"
        f"<description>CANARY-{owner}-feed-description</description></item>"
        for n in range(3)
    )
    body = (
        f'<?xml version="1.0"?><rss version="2.0"><channel><title>f</title>{items}</channel></rss>'
    )
    return (200, {"Content-Type": "application/rss+xml"}, body.encode())


@contextmanager
def job_sites() -> Iterator[ReplayServer]:
    routes: dict[str, Any] = {}
    for owner in TENANTS:
        routes[f"/{owner}/rss"] = _feed
        for n in range(4):
            routes[f"/{owner}/job/{n}"] = _page
    with serve(routes) as server:
        yield server


class EchoingModel(FakeLLMServer):
    """An Ollama-shaped server whose answer repeats the canaries found in the prompt."""

    def __init__(self) -> None:
        super().__init__("ollama")

    def _completion_body(self, body: dict[str, Any]) -> dict[str, Any]:
        prompt = json.dumps(body)
        noted = "Noted: " + " ".join(sorted(set(CANARY.findall(prompt)))) + "."
        # Answer in the shape each service asks for, so research and prep are stored too.
        if "research brief" in prompt:
            text = json.dumps(dict.fromkeys(SECTIONS, noted))
        elif "keys question and answer" in prompt:
            text = json.dumps([{"question": f"Question {n}?", "answer": noted} for n in range(5)])
        else:
            text = f"Dear hiring team,\n\n{LETTER_WORDS} {noted}\n\nKind regards,"
        return {
            "model": body.get("model", ""),
            "created_at": "2026-11-27T10:00:00Z",
            "message": {"role": "assistant", "content": text},
            "done": True,
            "done_reason": "stop",
            "prompt_eval_count": 21,
            "eval_count": 7,
        }

    def _stream(self, h: BaseHTTPRequestHandler, body: dict[str, Any]) -> None:
        raise AssertionError("tasks do not stream")


def prepare_tenant(db: UserDB, owner: str, sites: ReplayServer) -> dict[str, int]:
    """Jobs whose pages live on the loopback site, a feed profile, and a mark the probe
    handler reads back. Returns {'job': id of a described job, 'bare': ids to enrich}."""
    now = now_iso()
    jobs = [
        job_q.NewJob(
            title=f"Engineer CANARY-{owner}-posted-title",
            url=f"{sites.base}/{owner}/job/{n}",
            company=f"CANARY-{owner}-posted-company",
            description="" if n else f"CANARY-{owner}-posted-description " * 30,
        )
        for n in range(4)
    ]
    with db.write() as conn:
        job_q.upsert_jobs(conn, jobs=jobs, now=now)
        ids = {
            row[1]: row[0]
            for row in conn.execute(
                "SELECT id, url FROM jobs WHERE url LIKE ?", (f"{sites.base}/%",)
            ).fetchall()
        }
        profile_q.save_search_profile(
            conn,
            profile=profile_q.SearchProfile(
                name="sweep",
                titles=["Engineer"],
                sources=[f"{sites.base}/{owner}/rss"],
                max_age_days=30,
            ),
            now=now,
        )
        profile_q.add_resume(
            conn,
            structured={
                "skills": ["Python", "PostgreSQL"],
                "experiences": [
                    {
                        "employer": f"CANARY-{owner}-resume-employer",
                        "title": "Engineer",
                        "start": "2020",
                        "end": "2026",
                        "bullets": ["Built reliable systems with Python and PostgreSQL."],
                    }
                ],
            },
            raw_text="",
            filename="",
            now=now,
        )
        conn.execute(
            "INSERT INTO preferences (key, value) VALUES ('sweep_mark', ?) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (json.dumps(f"CANARY-{owner}-sweep-mark"),),
        )
    by_n = {int(url.rsplit("/", 1)[1]): job_id for url, job_id in ids.items()}
    return {"job": by_n[0], "bare_1": by_n[1], "bare_2": by_n[2], "bare_3": by_n[3]}


def register_probes(registry: Registry, sites: ReplayServer) -> None:
    """Task kinds the sweep adds next to the app's own.

    ``enrich_site`` and ``discover_site`` run the real enrichment and discovery services;
    they differ from the registered ``enrich``/``discover`` only in that their HTTP client
    may reach the loopback site (production refuses loopback addresses, as it should).
    ``probe`` reads the tenant's mark from the database it was given, reports it as
    progress, and holds until cancelled or ``hold`` seconds pass.
    """
    allow = allow_entries([sites.host_port])

    def enrich_site(ctx: TaskContext) -> dict[str, Any]:
        with HttpClient(allow=allow, max_retries=0) as http:
            enriched, failed = discovery.enrich_jobs(
                ctx.db,
                http,
                job_ids=[ctx.job_id] if ctx.job_id is not None else None,
                cancelled=ctx.cancelled,
            )
        return {"enriched": enriched, "failed": failed}

    def discover_site(ctx: TaskContext) -> dict[str, Any]:
        with HttpClient(allow=allow, max_retries=0) as http:
            report = discovery.run_discovery(
                ctx.db, profile_name="sweep", http=http, enrich=False, cancelled=ctx.cancelled
            )
        return report.as_dict()

    def probe(ctx: TaskContext) -> dict[str, Any]:
        with ctx.db.read() as conn:
            row = conn.execute("SELECT value FROM preferences WHERE key = 'sweep_mark'").fetchone()
        mark = json.loads(row[0]) if row else None
        ctx.report(f"read {mark}", 0.5)
        deadline = time.monotonic() + float(ctx.params.get("hold", 0))
        while time.monotonic() < deadline:
            if ctx.cancelled():
                raise TaskCancelled()
            time.sleep(0.02)
        return {"read": mark}

    handlers: dict[str, Callable[[TaskContext], dict[str, Any]]] = {
        "enrich_site": enrich_site,
        "discover_site": discover_site,
        "probe": probe,
    }
    for kind, handler in handlers.items():
        registry.register(kind, handler)
