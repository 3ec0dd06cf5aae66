"""Shared helpers for the backup tests: real databases with alice's data, hand-made zips."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

from peregrine.storage.backup import DB_MEMBER, MANIFEST_MEMBER
from peregrine.storage.userdb import UserDB

STAMP = "2026-11-01T10:00:00Z"


def make_user_db(path: Path, *, key: bytes | None = None, jobs: int = 3, tag: str = "a") -> None:
    """A database with jobs, stage history, a letter, a contact and a profile."""
    db = UserDB.open(path, key=key, create=True)
    try:
        with db.write() as conn:
            for n in range(1, jobs + 1):
                conn.execute(
                    "INSERT INTO jobs (title, company, url, date_found, updated_at, status,"
                    " description) VALUES (?, ?, ?, ?, ?, 'applied', ?)",
                    (
                        f"Engineer {tag}{n}",
                        "Acme",
                        f"https://jobs.test/{tag}/{n}",
                        STAMP,
                        STAMP,
                        f'Build things, "quoted", comma, ünïcode {n}',
                    ),
                )
                job_id = conn.execute("SELECT max(id) FROM jobs").fetchone()[0]
                conn.execute(
                    "INSERT INTO job_events (job_id, from_status, to_status, at) "
                    "VALUES (?, 'pending', 'applied', ?)",
                    (job_id, STAMP),
                )
                conn.execute(
                    "INSERT INTO cover_letters (job_id, version, body, created_at) "
                    "VALUES (?, 1, ?, ?)",
                    (job_id, f"Dear Acme, letter {tag}{n}", STAMP),
                )
            conn.execute(
                "INSERT INTO contacts (job_id, name, email, created_at) VALUES (1, ?, ?, ?)",
                ("Rita Recruiter", "rita@acme.test", STAMP),
            )
            conn.execute(
                "INSERT INTO profile (id, full_name, email, updated_at) VALUES (1, ?, ?, ?)",
                (f"Alice {tag}", "alice@example.test", STAMP),
            )
    finally:
        db.close()


def job_titles(path: Path, *, key: bytes | None = None) -> list[str]:
    db = UserDB.open(path, key=key)
    try:
        return [row[0] for row in db.execute("SELECT title FROM jobs ORDER BY id")]
    finally:
        db.close()


def manifest_for(db_bytes: bytes, **extra: object) -> bytes:
    manifest = {
        "format": "peregrine-backup",
        "format_version": 1,
        "schema_version": 1,
        "created_at": STAMP,
        "members": {
            DB_MEMBER: {"size": len(db_bytes), "sha256": hashlib.sha256(db_bytes).hexdigest()}
        },
        **extra,
    }
    return json.dumps(manifest).encode()


def zip_with_db(path: Path, db_bytes: bytes, *, extra: dict[str, bytes] | None = None) -> Path:
    """A structurally valid backup zip around arbitrary database bytes."""
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(DB_MEMBER, db_bytes)
        zf.writestr(MANIFEST_MEMBER, manifest_for(db_bytes))
        for name, data in (extra or {}).items():
            zf.writestr(name, data)
    return path
