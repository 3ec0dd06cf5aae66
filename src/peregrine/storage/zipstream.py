"""A write-only, streaming zip writer that hashes and compresses each member in one pass.

The backup export writes about three times the database's size (the database, then the
same rows as JSON and as CSV). ``zipfile`` compresses with the standard zlib at the
level given; ISA-L's deflate (the ``isal`` package) produces ordinary deflate streams that
every unzip tool reads, about four times faster than zlib level 1 and a little smaller
(see bench/RESULTS.md). ``zipfile`` offers no way to plug in another compressor, so this
module writes the format itself, following ``zipfile``'s own layout for streamed members
(data descriptor after the data, zip64 sizes on every local header, zip64 end records only
when needed). ``zipfile`` reads what it writes; the tests check that, and the CRCs.

It also computes each member's SHA-256 while writing, so the manifest never re-reads a
member.
"""

from __future__ import annotations

import hashlib
import struct
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType

from isal import isal_zlib

STORED = 0
DEFLATED = 8
# ISA-L level 1: on our data it compresses better than zlib level 1 at ~4x the speed;
# level 0 is barely faster and compresses less, levels 2-3 cost more for ~1%.
_ISAL_LEVEL = 1
_ZIP64_LIMIT = (1 << 31) - 1
_ZIP64_VERSION = 45
_FLAG_DATA_DESCRIPTOR = 0x08
# Unix, regular file, rw-r--r--: restore refuses links and folders by these bits.
_CREATE_SYSTEM_UNIX = 3
_EXTERNAL_ATTR = (0o100644 & 0xFFFF) << 16

_LOCAL = struct.Struct("<4s2B4HL2L2H")
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
_END = struct.Struct("<4s4H2LH")
_END64 = struct.Struct("<4sQ2H2L4Q")
_END64_LOCATOR = struct.Struct("<4sLQL")
_DESCRIPTOR64 = struct.Struct("<LLQQ")


def _dos_time(when: float) -> tuple[int, int]:
    tm = time.gmtime(when)
    year = max(tm.tm_year, 1980)
    return (
        tm.tm_hour << 11 | tm.tm_min << 5 | tm.tm_sec // 2,
        (year - 1980) << 9 | tm.tm_mon << 5 | tm.tm_mday,
    )


@dataclass(frozen=True)
class _Entry:
    name: bytes
    method: int
    crc: int
    compress_size: int
    size: int
    offset: int


class MemberEncoder:
    """CRC-32, SHA-256, size and deflate of one member's bytes, sent to ``sink``.

    The export's worker threads use one on their own to stage a member in a file while the
    zip stream is busy with another (``ZipStream.copy_staged``); ``ZipMember`` uses one to
    write straight into the stream. Every call here releases the GIL on large buffers
    (hashlib, ISA-L), so encoders in different threads run on different cores.
    """

    def __init__(self, sink: Callable[[bytes], object], *, compress: bool = True) -> None:
        self._sink = sink
        self.method = DEFLATED if compress else STORED
        self._compressor = (
            isal_zlib.compressobj(_ISAL_LEVEL, isal_zlib.DEFLATED, -15) if compress else None
        )
        self.crc = 0
        self._sha = hashlib.sha256()
        self.size = 0
        self.compress_size = 0
        self.finished = False

    def write(self, data: bytes) -> None:
        if not data:
            return
        self.crc = isal_zlib.crc32(data, self.crc)
        self._sha.update(data)
        self.size += len(data)
        out = self._compressor.compress(data) if self._compressor is not None else data
        if out:
            self.compress_size += len(out)
            self._sink(out)

    @property
    def sha256(self) -> str:
        return self._sha.hexdigest()

    def finish(self) -> None:
        """Flush the compressor; no more writes after this."""
        if self.finished:
            return
        self.finished = True
        if self._compressor is not None:
            tail = self._compressor.flush()
            self.compress_size += len(tail)
            if tail:
                self._sink(tail)


class ZipMember:
    """One member being written; use as a context manager (``ZipStream.member``)."""

    def __init__(self, stream: ZipStream, name: bytes, method: int, offset: int) -> None:
        self._stream = stream
        self._name = name
        self._offset = offset
        self._encoder = MemberEncoder(stream.emit, compress=method == DEFLATED)
        self._closed = False

    def write(self, data: bytes) -> None:
        self._encoder.write(data)

    @property
    def size(self) -> int:
        return self._encoder.size

    @property
    def sha256(self) -> str:
        return self._encoder.sha256

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        self._encoder.finish()
        self._stream.end_member(self._name, self._encoder, self._offset)

    def __enter__(self) -> ZipMember:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        # A member interrupted by an error is not finished: the archive is abandoned.
        if kind is None:
            self.close()


class StagedCopy:
    """A member copied from bytes a ``MemberEncoder`` produced (``ZipStream.copy_staged``)."""

    def __init__(self, stream: ZipStream, name: bytes, encoder: MemberEncoder, offset: int) -> None:
        self._stream = stream
        self._name = name
        self._encoder = encoder
        self._offset = offset
        self._copied = 0
        self._closed = False

    def write(self, block: bytes) -> None:
        self._copied += len(block)
        self._stream.emit(block)

    def close(self) -> None:
        if self._closed:
            return
        if self._copied != self._encoder.compress_size:
            raise RuntimeError(f"staged zip member {self._name.decode()!r} is incomplete")
        self._closed = True
        self._stream.end_member(self._name, self._encoder, self._offset)


class ZipStream:
    """Writes a zip archive to ``emit`` (a callable receiving bytes), member by member."""

    def __init__(self, emit: Callable[[bytes], None], *, when: float | None = None) -> None:
        self._emit = emit
        self.offset = 0
        self._entries: list[_Entry] = []
        self._names: set[bytes] = set()
        self._time, self._date = _dos_time(time.time() if when is None else when)
        self._open: ZipMember | StagedCopy | None = None

    def emit(self, data: bytes) -> None:
        self.offset += len(data)
        self._emit(data)

    def member(self, name: str, *, compress: bool = True) -> ZipMember:
        """Start a member; the previous one must be closed."""
        method = DEFLATED if compress else STORED
        offset = self.offset
        encoded = self._local_header(name, method)
        member = ZipMember(self, encoded, method, offset)
        self._open = member
        return member

    def copy_staged(self, name: str, encoder: MemberEncoder) -> StagedCopy:
        """Start a member whose bytes were encoded elsewhere: write the ``encoder``'s
        output (already compressed) into the returned copy, then close it."""
        if not encoder.finished:
            raise RuntimeError("the staged zip member is not finished")
        offset = self.offset
        encoded = self._local_header(name, encoder.method)
        copy = StagedCopy(self, encoded, encoder, offset)
        self._open = copy
        return copy

    def end_member(self, name: bytes, encoder: MemberEncoder, offset: int) -> None:
        self.emit(_DESCRIPTOR64.pack(0x08074B50, encoder.crc, encoder.compress_size, encoder.size))
        self._entries.append(
            _Entry(name, encoder.method, encoder.crc, encoder.compress_size, encoder.size, offset)
        )

    def _local_header(self, name: str, method: int) -> bytes:
        if self._open is not None and not self._open._closed:
            raise RuntimeError("the previous zip member is still open")
        encoded = name.encode("ascii")
        if encoded in self._names:
            raise ValueError(f"duplicate zip member {name!r}")
        self._names.add(encoded)
        # Sizes are unknown until the end: zero CRC, 0xFFFFFFFF sizes with a zip64 extra
        # field, the real values in the data descriptor (as zipfile does with force_zip64).
        extra = struct.pack("<HHQQ", 1, 16, 0, 0)
        header = _LOCAL.pack(
            b"PK\x03\x04",
            _ZIP64_VERSION,
            0,
            _FLAG_DATA_DESCRIPTOR,
            method,
            self._time,
            self._date,
            0,
            0xFFFFFFFF,
            0xFFFFFFFF,
            len(encoded),
            len(extra),
        )
        self.emit(header + encoded + extra)
        return encoded

    def writestr(self, name: str, data: bytes, *, compress: bool = True) -> ZipMember:
        with self.member(name, compress=compress) as member:
            member.write(data)
        return member

    def close(self) -> None:
        """Write the central directory and the end records."""
        if self._open is not None and not self._open._closed:
            raise RuntimeError("the last zip member is still open")
        start = self.offset
        for e in self._entries:
            zip64: list[int] = []
            size, compress_size, offset = e.size, e.compress_size, e.offset
            if size > _ZIP64_LIMIT or compress_size > _ZIP64_LIMIT:
                zip64 += [size, compress_size]
                size = compress_size = 0xFFFFFFFF
            if offset > _ZIP64_LIMIT:
                zip64.append(offset)
                offset = 0xFFFFFFFF
            extra = struct.pack(f"<HH{len(zip64)}Q", 1, 8 * len(zip64), *zip64) if zip64 else b""
            self.emit(
                _CENTRAL.pack(
                    b"PK\x01\x02",
                    _ZIP64_VERSION,
                    _CREATE_SYSTEM_UNIX,
                    _ZIP64_VERSION,
                    0,
                    _FLAG_DATA_DESCRIPTOR,
                    e.method,
                    self._time,
                    self._date,
                    e.crc,
                    compress_size,
                    size,
                    len(e.name),
                    len(extra),
                    0,
                    0,
                    0,
                    _EXTERNAL_ATTR,
                    offset,
                )
                + e.name
                + extra
            )
        end = self.offset
        count, dir_size, dir_offset = len(self._entries), end - start, start
        if count > 0xFFFF or dir_offset > _ZIP64_LIMIT or dir_size > _ZIP64_LIMIT:
            self.emit(
                _END64.pack(b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, dir_size, dir_offset)
                + _END64_LOCATOR.pack(b"PK\x06\x07", 0, end, 1)
            )
            count = min(count, 0xFFFF)
            dir_size = min(dir_size, 0xFFFFFFFF)
            dir_offset = min(dir_offset, 0xFFFFFFFF)
        self.emit(_END.pack(b"PK\x05\x06", 0, 0, count, count, dir_size, dir_offset, 0))
