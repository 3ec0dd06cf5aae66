"""JSON API for the user's backup: download, restore from an upload, roll back.

The routes talk to the requester's store (``tenancy.store(request)``, not to a borrowed
handle) because a restore must wait for every borrowed handle to come back before it swaps
the database.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, HTTPException, Request, UploadFile
from fastapi.responses import StreamingResponse
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from peregrine.storage.backup import BackupError, private_workdir
from peregrine.storage.backup_export import BackupExport, open_export
from peregrine.storage.backup_restore import RestoreLimits, stage_restore
from peregrine.web import usage_events
from peregrine.web.deps import SettingsDep

router = APIRouter(prefix="/api/v1", tags=["backup"])
_UPLOAD_CHUNK = 1024 * 1024


def writable_mode(settings: SettingsDep) -> None:
    """The public demo's data is shared by every visitor: nobody may replace it."""
    if settings.demo:
        raise HTTPException(403, "restoring a backup is not available in the demo")


NotDemo = Annotated[None, Depends(writable_mode)]


def _take_snapshot(request: Request) -> BackupExport:
    store = request.app.state.tenancy.store(request)
    with store.borrow():
        path, key = store.location()
        return open_export(path, key=key, workdir_root=store.workdir_root)


@router.get("/backup", response_class=StreamingResponse)
async def download_backup(request: Request) -> StreamingResponse:
    """The user's backup as a zip, streamed (also the GDPR portability export)."""
    export = await run_in_threadpool(_take_snapshot, request)
    chunks = export.chunks()

    async def body() -> AsyncIterator[bytes]:
        sent = 0
        try:
            async for chunk in iterate_in_threadpool(chunks):
                if chunk:
                    sent += len(chunk)
                    yield chunk
            # Only a download that reached its end counts as an export.
            usage_events.backup_exported(request, size_bytes=sent)
        finally:
            # The client may go away mid-download: closing the generator removes the
            # decrypted snapshot right now, not at garbage collection.
            await run_in_threadpool(_close, chunks, export)

    return StreamingResponse(
        body(),
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="{export.filename}"',
            "Cache-Control": "no-store",
        },
    )


def _close(chunks: Iterator[bytes], export: BackupExport) -> None:
    close = getattr(chunks, "close", None)
    if close is not None:
        close()
    export.close()


def _restore(request: Request, upload: Any, limit: int) -> dict[str, Any]:
    store = request.app.state.tenancy.store(request)
    path, key = store.location()
    with private_workdir(store.workdir_root) as work:
        archive = work / "upload.zip"
        fd = os.open(archive, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        size = 0
        try:
            with open(fd, "wb") as out:
                while block := upload.read(_UPLOAD_CHUNK):
                    size += len(block)
                    if size > limit:
                        raise BackupError(
                            f"the backup is larger than the {limit // 1024**2} MB limit"
                        )
                    out.write(block)
        except OSError as exc:
            raise BackupError(f"cannot store the upload: {exc.strerror}") from exc
        staged = stage_restore(
            archive,
            target=path,
            key=key,
            workdir_root=store.workdir_root,
            limits=RestoreLimits(max_archive_bytes=limit),
        )
    try:
        store.replace_database(staged.path)
    except BaseException:
        staged.discard()
        raise
    return {
        "restored": True,
        "schema_version": staged.schema_version,
        "backup_created_at": staged.created_at,
        "row_counts": staged.row_counts,
    }


@router.post("/backup")
async def restore_backup(
    request: Request,
    settings: SettingsDep,
    _: NotDemo,
    file: Annotated[UploadFile, File(description="a Peregrine backup zip")],
) -> dict[str, Any]:
    """Replace the user's data with a backup; the previous data is kept for rollback."""
    try:
        return await run_in_threadpool(_restore, request, file.file, settings.max_backup_bytes)
    finally:
        await file.close()


@router.post("/backup/rollback")
async def rollback_backup(request: Request, _: NotDemo) -> dict[str, Any]:
    """Swap back the database from before the last restore (a second rollback undoes it)."""
    store = request.app.state.tenancy.store(request)
    await run_in_threadpool(store.rollback_database)
    return {"rolled_back": True}
