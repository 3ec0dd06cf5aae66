"""JSON API for the user's backup: download, restore from an upload, roll back.

The routes talk to the requester's store (``tenancy.store(request)``, not to a borrowed
handle) because a restore must wait for every borrowed handle to come back before it swaps
the database.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Annotated, Any

from fastapi import APIRouter, Depends, HTTPException, Request
from fastapi.responses import StreamingResponse
from starlette.concurrency import iterate_in_threadpool, run_in_threadpool

from peregrine.storage.backup_export import BackupExport, open_export
from peregrine.web import usage_events
from peregrine.web.backup_upload import UploadTooLargeError, restore_from_request
from peregrine.web.deps import SettingsDep

router = APIRouter(prefix="/api/v1", tags=["backup"])


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


@router.post(
    "/backup",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "required": ["file"],
                        "properties": {"file": {"type": "string", "format": "binary"}},
                    }
                }
            },
        }
    },
)
async def restore_backup(request: Request, settings: SettingsDep, _: NotDemo) -> dict[str, Any]:
    """Replace the user's data with a backup; the previous data is kept for rollback.

    The multipart field ``file`` is streamed into the user's private work folder as it
    arrives (web/backup_upload.py), never into the system's temporary folder.
    """
    try:
        staged = await restore_from_request(request, limit=settings.max_backup_bytes)
    except UploadTooLargeError as exc:
        raise HTTPException(413, str(exc)) from exc
    return {
        "restored": True,
        "schema_version": staged.schema_version,
        "backup_created_at": staged.created_at,
        "row_counts": staged.row_counts,
    }


@router.post("/backup/rollback")
async def rollback_backup(request: Request, _: NotDemo) -> dict[str, Any]:
    """Swap back the database from before the last restore (a second rollback undoes it)."""
    store = request.app.state.tenancy.store(request)
    await run_in_threadpool(store.rollback_database)
    return {"rolled_back": True}
