"""Receive a backup upload straight into the user's private work folder.

FastAPI's ``UploadFile`` would have Starlette spool any part over 1 MB into the system's
temporary folder first, shared with every other program and outside the size check, and
copy it a second time afterwards. Here the multipart body is parsed as it arrives and
the ``file`` part is written to a new 0600 file in the folder ``private_workdir`` made
for this restore, with the limit counted on the bytes as they come: nothing is written
past the limit and nothing lands anywhere else.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from python_multipart.multipart import parse_options_header
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request

from peregrine.storage.backup import BackupError, private_workdir
from peregrine.storage.backup_restore import RestoreLimits, StagedRestore, stage_restore
from peregrine.web.multipart import PartHeaders
from peregrine.web.security import BodyTooLargeError

FIELD = b"file"


class UploadTooLargeError(BackupError):
    """The upload is over the backup size limit (answered with 413)."""


class _FilePart(PartHeaders):
    """Collects part headers and writes the ``file`` part's bytes to ``dest``."""

    def __init__(self, dest: Path, limit: int) -> None:
        super().__init__()
        self._dest = dest
        self._limit = limit
        self._fd: int | None = None
        self._in_file = False
        self.size = 0
        self.found = False

    def on_part_begin(self) -> None:
        super().on_part_begin()
        self._in_file = False

    def on_part(self, name: bytes | None, filename: bytes | None) -> None:
        if name != FIELD:
            return
        if self.found:
            raise BackupError("send one backup file at a time")
        self.found = True
        self._in_file = True
        self._fd = os.open(self._dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        if not self._in_file or self._fd is None:
            return
        self.size += end - start
        if self.size > self._limit:
            raise UploadTooLargeError(
                f"the backup is larger than the {self._limit // 1024**2} MB limit"
            )
        # A blocking write on the event loop, but into the page cache and at most one
        # network chunk (64 KiB) at a time: cheaper than a thread hop per chunk.
        view = memoryview(data)[start:end]
        while view:
            view = view[os.write(self._fd, view) :]

    def on_part_end(self) -> None:
        self._in_file = False

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


async def receive_backup(request: Request, dest: Path, *, limit: int) -> int:
    """Write the multipart field ``file`` of ``request`` to ``dest``; return its size.

    ``dest`` must not exist (it is created 0600). Raises ``BackupError`` with a message for
    a person when the body is not a multipart form with one ``file`` part, or when the file
    passes ``limit`` bytes (``UploadTooLargeError``).
    """
    content_type, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if content_type != b"multipart/form-data" or not boundary:
        raise BackupError("send the backup as a multipart form with the zip in the field 'file'")
    part = _FilePart(dest, limit)
    parser = part.parser(boundary)
    try:
        async for chunk in request.stream():
            parser.write(chunk)
        parser.finalize()
    except BodyTooLargeError as exc:
        # The middleware's count of the whole body (same limit) tripped before ours.
        raise UploadTooLargeError(
            f"the backup is larger than the {limit // 1024**2} MB limit"
        ) from exc
    except ClientDisconnect as exc:
        raise BackupError("the upload was interrupted") from exc
    except OSError as exc:
        raise BackupError(f"cannot store the upload: {exc.strerror}") from exc
    except (BackupError, HTTPException):
        raise
    except Exception as exc:
        # python-multipart reports a malformed body with its own exception types.
        raise BackupError("the upload is not a valid multipart form") from exc
    finally:
        part.close()
    if not part.found:
        raise BackupError("no backup file in the upload (the form field is 'file')")
    return part.size


def _stage_and_swap(store: Any, archive: Path, limit: int) -> StagedRestore:
    path, key = store.location()
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
    return staged


async def restore_from_request(request: Request, *, limit: int) -> StagedRestore:
    """Receive the upload, check it, rebuild the database and swap it in (API and page).

    ``store`` comes from the tenancy (not a borrowed handle): the swap must wait for every
    borrowed handle to come back.
    """
    store = await run_in_threadpool(request.app.state.tenancy.store, request)
    with private_workdir(store.workdir_root) as work:
        archive = work / "upload.zip"
        await receive_backup(request, archive, limit=limit)
        return await run_in_threadpool(_stage_and_swap, store, archive, limit)
