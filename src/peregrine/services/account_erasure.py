"""Erasing one cloud account everywhere: the data tree, then the platform rows.

The files go first (``erase_user`` tombstones, then deletes); the platform rows are queued
in ``<data root>/.erasure-queue.json`` and the queue is drained against PostgreSQL in the
same call. When PostgreSQL is down the rows stay queued and are reported as pending; the
next run (of any user) retries them.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from peregrine.settings import Settings
from peregrine.storage.erasure import ErasureResult, PlatformErasureQueue, erase_user
from peregrine.tenancy.identity import IdentityError, canonical_user_id

QUEUE_NAME = ".erasure-queue.json"
# Every table that holds rows about a user (see platform/migrations).
PLATFORM_TABLES = (
    "subscriptions",
    "telemetry_consent",
    "usage_events",
    "support_access_grants",
    "pending_deletions",
)


class AccountIdError(ValueError):
    """The user id is not a canonical lowercase UUID."""


@dataclass(frozen=True)
class AccountErasure:
    files: ErasureResult
    pending: list[str]
    platform_configured: bool


def check_account_id(user_id: str) -> str:
    try:
        return canonical_user_id(user_id)
    except IdentityError:
        raise AccountIdError(
            f"{user_id!r} is not a user id (a lowercase UUID such as "
            "a11ce000-0000-4000-8000-000000000001)"
        ) from None


def erasure_queue(settings: Settings) -> PlatformErasureQueue:
    return PlatformErasureQueue(settings.cloud_data_root / QUEUE_NAME)


def delete_platform_rows(settings: Settings, user_id: str) -> None:
    """Delete every platform row of ``user_id`` in one transaction; raises when the
    platform database cannot be reached (the caller keeps the id queued)."""
    import psycopg
    from psycopg import sql

    assert settings.platform_db_url is not None
    uid = uuid.UUID(user_id)
    with (
        psycopg.connect(
            settings.platform_db_url.reveal(),
            connect_timeout=settings.platform_connect_timeout,
            application_name="peregrine-erasure",
        ) as conn,
        conn.transaction(),
    ):
        for table in PLATFORM_TABLES:
            conn.execute(
                sql.SQL("DELETE FROM {} WHERE user_id = %s").format(sql.Identifier(table)),
                (uid,),
            )


def erase_account(
    settings: Settings,
    user_id: str,
    *,
    dry_run: bool = False,
    close_handles: Callable[[str], None] | None = None,
    delete_rows: Callable[[str], None] | None = None,
) -> AccountErasure:
    """Erase the account's files now and its platform rows now or later. Idempotent."""
    uid = check_account_id(user_id)
    root: Path = settings.cloud_data_root
    queue = erasure_queue(settings)
    result = erase_user(root, uid, dry_run=dry_run, queue=queue, close_handles=close_handles)
    configured = settings.platform_db_url is not None
    if dry_run:
        return AccountErasure(result, queue.pending(), configured)
    if delete_rows is None and configured:

        def delete_rows(u: str) -> None:
            delete_platform_rows(settings, u)

    pending = queue.drain(delete_rows) if delete_rows is not None else queue.pending()
    return AccountErasure(result, pending, configured)
