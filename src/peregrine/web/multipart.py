"""A streaming multipart parser's callbacks, with each part's headers collected.

Both streamed uploads (the backup archive, and the CSRF token read from the front of the
restore form) parse the body as it arrives with python-multipart's low-level parser; this
is the part they share: gather a part's headers, then tell the subclass the part's form
field name and file name.
"""

from __future__ import annotations

from typing import Any

from python_multipart.multipart import MultipartParser, parse_options_header


class PartHeaders:
    """Subclasses implement ``on_part`` (and ``on_part_data``/``on_part_end`` as needed)."""

    def __init__(self) -> None:
        self._field = b""
        self._value = b""
        self._headers: dict[bytes, bytes] = {}

    def on_part_begin(self) -> None:
        self._headers = {}

    def on_header_field(self, data: bytes, start: int, end: int) -> None:
        self._field += data[start:end]

    def on_header_value(self, data: bytes, start: int, end: int) -> None:
        self._value += data[start:end]

    def on_header_end(self) -> None:
        self._headers[self._field.lower()] = self._value
        self._field = self._value = b""

    def on_headers_finished(self) -> None:
        _, options = parse_options_header(self._headers.get(b"content-disposition", b""))
        self.on_part(options.get(b"name"), options.get(b"filename"))

    def on_part(self, name: bytes | None, filename: bytes | None) -> None:
        raise NotImplementedError

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        pass

    def on_part_end(self) -> None:
        pass

    def parser(self, boundary: bytes) -> MultipartParser:
        callbacks: dict[str, Any] = {
            "on_part_begin": self.on_part_begin,
            "on_header_field": self.on_header_field,
            "on_header_value": self.on_header_value,
            "on_header_end": self.on_header_end,
            "on_headers_finished": self.on_headers_finished,
            "on_part_data": self.on_part_data,
            "on_part_end": self.on_part_end,
        }
        return MultipartParser(boundary, callbacks)  # type: ignore[arg-type]
