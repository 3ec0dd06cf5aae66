"""Cloud and platform checks for `peregrine doctor` (ids P05x and P06x, docs/doctor.md).

They run after the default checks through ``run_checks(extra=CLOUD_CHECKS)`` and say
nothing in local and demo mode. None of them creates or re-keys anything.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable

from peregrine.services.doctor import Check, DoctorContext, Finding
from peregrine.storage.userdb import StorageError
from peregrine.tenancy.identity import IdentityError, canonical_user_id


def _cloud(ctx: DoctorContext) -> bool:
    return ctx.settings is not None and ctx.settings.cloud


def check_key_canary(ctx: DoctorContext) -> Iterable[Finding]:
    if not _cloud(ctx) or ctx.settings is None or not ctx.settings.cloud_data_root.is_dir():
        return
    from peregrine.tenancy.keycheck import CANARY_NAME, check_canary

    secret = ctx.settings.cf_server_secret
    if secret is None:
        return  # P001 already reported the missing secret
    root = ctx.settings.cloud_data_root
    if not (root / CANARY_NAME).exists():
        yield Finding(
            "P050", "warning", "no key-check canary yet; the first start of the app creates it"
        )
        return
    try:
        check_canary(root, secret.reveal().encode(), create=False)
    except StorageError as exc:
        previous = ctx.settings.cf_server_secret_previous
        if previous is not None:
            try:
                check_canary(root, previous.reveal().encode(), create=False)
            except StorageError:
                pass
            else:
                yield Finding(
                    "P050",
                    "warning",
                    "the key-check canary still opens with CF_SERVER_SECRET_PREVIOUS only; "
                    "run peregrine admin rotate-secret",
                )
                return
        yield Finding("P050", "error", str(exc))
        return
    yield Finding("P050", "ok", "CF_SERVER_SECRET opens the key-check canary")


def check_tenant_folders(ctx: DoctorContext) -> Iterable[Finding]:
    if not _cloud(ctx) or ctx.settings is None or not ctx.settings.cloud_data_root.is_dir():
        return
    loose: list[str] = []
    links = 0
    count = 0
    for entry in os.scandir(ctx.settings.cloud_data_root):
        try:
            canonical_user_id(entry.name)
        except IdentityError:
            continue
        count += 1
        info = os.lstat(entry.path)
        if stat.S_ISLNK(info.st_mode):
            links += 1
        elif stat.S_IMODE(info.st_mode) & 0o077:
            loose.append(entry.name)
    if links:
        yield Finding("P051", "error", f"{links} user folder(s) are symbolic links; remove them")
    if loose:
        yield Finding(
            "P051",
            "warning",
            f"{len(loose)} user folder(s) are readable by other system users; chmod 700 them",
        )
    if not links and not loose:
        yield Finding("P051", "ok", f"{count} user folder(s), all private")


def check_erasure_queue(ctx: DoctorContext) -> Iterable[Finding]:
    if not _cloud(ctx) or ctx.settings is None or not ctx.settings.cloud_data_root.is_dir():
        return
    from peregrine.services.account_erasure import erasure_queue

    pending = erasure_queue(ctx.settings).pending()
    if pending:
        yield Finding(
            "P052",
            "warning",
            f"platform rows of {len(pending)} erased user(s) are still pending; run "
            "peregrine admin delete-user for any of them once PostgreSQL is reachable",
        )
    else:
        yield Finding("P052", "ok", "no erasure is pending")


def check_platform_db(ctx: DoctorContext) -> Iterable[Finding]:
    if not _cloud(ctx) or ctx.settings is None:
        return
    url = ctx.settings.platform_db_url
    if url is None:
        yield Finding("P060", "warning", "PLATFORM_DB_URL is not set: tiers and consent are off")
        return
    import psycopg

    from peregrine.platform.migrate import applied_versions, available_migrations

    try:
        conn = psycopg.connect(
            url.reveal(),
            connect_timeout=ctx.settings.platform_connect_timeout,
            application_name="peregrine-doctor",
        )
    except psycopg.Error as exc:
        text = str(exc).strip()
        reason = text.splitlines()[0] if text else type(exc).__name__
        yield Finding("P060", "error", f"cannot reach the platform database: {reason}")
        return
    try:
        applied = applied_versions(conn)
    finally:
        conn.close()
    yield Finding("P060", "ok", "the platform database answers")
    latest = available_migrations()[-1].version
    level = max(applied, default=0)
    if level < latest:
        yield Finding(
            "P061",
            "error",
            f"platform schema at {level}, this Peregrine needs {latest}: run "
            "peregrine platform migrate",
        )
    elif level > latest:
        yield Finding(
            "P061", "error", f"platform schema at {level} is newer than this Peregrine ({latest})"
        )
    else:
        yield Finding("P061", "ok", f"platform schema at {level}")


CLOUD_CHECKS: tuple[Check, ...] = (
    check_key_canary,
    check_tenant_folders,
    check_erasure_queue,
    check_platform_db,
)
