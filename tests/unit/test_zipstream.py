"""The streaming zip writer behind the backup export: what it writes must be an ordinary zip."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import subprocess
import zipfile
from pathlib import Path

import pytest

from peregrine.storage import zipstream
from peregrine.storage.zipstream import ZipStream


def _archive(members: dict[str, tuple[bytes, bool]]) -> tuple[bytes, dict[str, str]]:
    out = io.BytesIO()
    zs = ZipStream(out.write)
    digests = {}
    for name, (data, compress) in members.items():
        with zs.member(name, compress=compress) as member:
            # Uneven pieces, as the export writes them.
            for at in range(0, len(data), 70_001):
                member.write(data[at : at + 70_001])
        digests[name] = member.sha256
    zs.close()
    return out.getvalue(), digests


def _sample() -> dict[str, tuple[bytes, bool]]:
    text = b"alice applied to the staff engineer role at bob's company\n" * 20_000
    return {
        "peregrine.db": (os.urandom(300_000) + text, True),
        "data/jobs.csv": (text, True),
        "data/empty.json": (b"", True),
        "README.txt": (b"plain words", False),
    }


def test_zipfile_reads_every_member_back_with_valid_crcs() -> None:
    members = _sample()
    raw, digests = _archive(members)
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        assert zf.testzip() is None
        assert [i.filename for i in zf.infolist()] == list(members)
        for name, (data, compress) in members.items():
            info = zf.getinfo(name)
            assert zf.read(name) == data
            assert info.file_size == len(data)
            assert info.compress_type == (zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED)
            assert digests[name] == hashlib.sha256(data).hexdigest()
            # Regular-file mode bits: restore refuses links and folders by them.
            assert info.external_attr >> 16 == 0o100644
    text_info = zipfile.ZipFile(io.BytesIO(raw)).getinfo("data/jobs.csv")
    assert text_info.compress_size < text_info.file_size // 10


@pytest.mark.skipif(shutil.which("unzip") is None, reason="Info-ZIP unzip is not installed")
def test_info_zip_unzip_accepts_the_archive(tmp_path: Path) -> None:
    raw, _ = _archive(_sample())
    archive = tmp_path / "b.zip"
    archive.write_bytes(raw)
    result = subprocess.run(
        ["unzip", "-t", str(archive)], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No errors detected" in result.stdout


def test_it_writes_zip64_records_when_offsets_pass_the_limit(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Real 2 GiB archives are too slow for a unit test; a lower limit takes the same path.
    monkeypatch.setattr(zipstream, "_ZIP64_LIMIT", 1000)
    members = _sample()
    raw, _ = _archive(members)
    assert b"PK\x06\x06" in raw[-200:]
    assert b"PK\x06\x07" in raw[-200:]
    with zipfile.ZipFile(io.BytesIO(raw)) as zf:
        assert zf.testzip() is None
        for name, (data, _compress) in members.items():
            assert zf.read(name) == data


def test_it_refuses_a_duplicate_name_and_an_unfinished_member() -> None:
    zs = ZipStream(io.BytesIO().write)
    zs.writestr("a.txt", b"x")
    with pytest.raises(ValueError, match="duplicate"):
        zs.member("a.txt")
    zs.member("b.txt")
    with pytest.raises(RuntimeError, match="still open"):
        zs.member("c.txt")
    with pytest.raises(RuntimeError, match="still open"):
        zs.close()
