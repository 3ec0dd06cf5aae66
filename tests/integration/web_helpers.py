"""Helpers for page tests: the CSRF token a browser would have, and jobs to look at."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from peregrine.services import jobs as job_service
from peregrine.storage.userdb import UserDB


def csrf(client: TestClient) -> str:
    if client.cookies.get("peregrine_csrf") is None:
        client.get("/healthz")
    token = client.cookies.get("peregrine_csrf")
    assert token
    return token


def post_form(client: TestClient, path: str, data: dict[str, Any], **kw: Any) -> Any:
    return client.post(path, data={"csrf_token": csrf(client), **data}, **kw)


def user_db(client: TestClient) -> UserDB:
    db: UserDB = client.app.state.tenancy.db  # type: ignore[attr-defined]
    return db


def add_jobs(db: UserDB, count: int, **fields: Any) -> list[int]:
    ids = []
    for n in range(count):
        job = job_service.build_new_job(
            url=f"https://jobs.example.org/{n}-{fields.get('title', 'job')}".replace(" ", "-"),
            title=fields.get("title", f"Engineer {n}"),
            company=fields.get("company", f"Company {n}"),
            description=fields.get("description", ""),
            source=fields.get("source", "manual"),
            work_mode=fields.get("work_mode", "unknown"),
        )
        ids.append(job_service.add_job(db, job).job_id)
    return ids
