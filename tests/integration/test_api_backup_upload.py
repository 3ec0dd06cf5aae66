"""The restore upload is streamed into the user's private work folder, with the size cap
counted while it arrives, and gets clear messages when it is not what we expect."""

from __future__ import annotations

import asyncio
import io
import os
import tempfile
import zipfile
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from peregrine.app import create_app
from peregrine.settings import Settings

BASE = "http://127.0.0.1:8502"
BOUNDARY = "peregrine-test-boundary"


def _settings(tmp_path: Path, **env: str) -> Settings:
    return Settings.from_env({"PEREGRINE_DATA_DIR": str(tmp_path / "data"), **env})


def _filler_backup(size: int) -> bytes:
    """A real backup zip padded past ``size`` bytes with an extra member the restore refuses
    only after the whole upload arrived (so the upload itself is what we observe)."""
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("peregrine.db", os.urandom(size))
        zf.writestr("manifest.json", b"{}")
    return out.getvalue()


async def _chunks(
    head: bytes, data: bytes, tail: bytes, seen: list[list[str]], workdirs: Path
) -> AsyncIterator[bytes]:
    yield head
    step = 256 * 1024
    for at in range(0, len(data), step):
        yield data[at : at + step]
        # What is on disk while the body is still arriving.
        seen.append(
            sorted(str(p.relative_to(workdirs)) for p in workdirs.rglob("*") if p.is_file())
            if workdirs.exists()
            else []
        )
    yield tail


def _multipart(data: bytes, *, field: str = "file") -> tuple[bytes, bytes]:
    head = (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="{field}"; '
        f'filename="b.zip"\r\nContent-Type: application/zip\r\n\r\n'
    ).encode()
    return head, f"\r\n--{BOUNDARY}--\r\n".encode()


def _post_streamed(settings: Settings, data: bytes, seen: list[list[str]]) -> httpx.Response:
    app = create_app(settings)
    workdirs = settings.data_dir / ".backup-tmp"
    head, tail = _multipart(data)

    async def go() -> httpx.Response:
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url=BASE) as client:
                return await client.post(
                    "/api/v1/backup",
                    content=_chunks(head, data, tail, seen, workdirs),
                    headers={"content-type": f"multipart/form-data; boundary={BOUNDARY}"},
                )

    # A thread of its own: the browser tests' Playwright keeps an event loop running in
    # the main thread for the whole session, and asyncio.run refuses to nest in it.
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, go()).result()


def test_the_upload_is_written_into_the_private_work_folder_as_it_arrives(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    system_tmp = tmp_path / "system-tmp"
    system_tmp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_tmp))
    settings = _settings(tmp_path)
    seen: list[list[str]] = []
    response = _post_streamed(settings, _filler_backup(3 * 1024 * 1024), seen)
    # The zip is refused (its manifest is empty), after it was received in full.
    assert response.status_code == 422
    assert "manifest" in response.json()["error"]
    # Mid-upload, the partial archive already sits in one private operation folder.
    middle = seen[len(seen) // 2]
    assert len(middle) == 1
    assert middle[0].endswith("/upload.zip")
    folder = settings.data_dir / ".backup-tmp" / middle[0].split("/")[0]
    assert not folder.exists()  # removed once the restore ended
    assert oct((settings.data_dir / ".backup-tmp").stat().st_mode & 0o777) == "0o700"
    assert list(system_tmp.iterdir()) == []


def test_an_upload_over_the_limit_is_cut_off_while_it_arrives(tmp_path: Path) -> None:
    settings = _settings(tmp_path, PEREGRINE_MAX_BACKUP_BYTES=str(1024 * 1024))
    seen: list[list[str]] = []
    response = _post_streamed(settings, _filler_backup(4 * 1024 * 1024), seen)
    assert response.status_code == 413
    assert "1 MB limit" in response.json()["error"]
    # Reading stopped at the limit: most of the body was never consumed.
    assert len(seen) < 8
    assert list((settings.data_dir / ".backup-tmp").iterdir()) == []


def test_a_restore_without_a_file_field_gets_a_clear_message(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    with TestClient(create_app(_settings(tmp_path)), base_url=BASE) as client:
        wrong_field = client.post(
            "/api/v1/backup", files={"archive": ("b.zip", b"PK", "application/zip")}
        )
        assert wrong_field.status_code == 422
        assert "field is 'file'" in wrong_field.json()["error"]
        not_multipart = client.post("/api/v1/backup", json={"file": "b.zip"})
        assert not_multipart.status_code == 422
        assert "multipart form" in not_multipart.json()["error"]
