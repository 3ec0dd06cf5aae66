"""The CSRF token of a streamed multipart upload, read from the front of its body.

The Settings → Data restore form posts a backup archive of up to hundreds of megabytes,
which must stream to its route rather than be buffered for a token check. Browsers send a
form's fields in document order, and the form puts its hidden ``csrf_token`` field before
the file, so the token is the first part of the body: the middleware reads just that far,
checks it, and hands the route every byte it read followed by the rest of the stream.

The token used to travel in the form's action URL instead, where proxies' access logs
(Caddy's included) would keep it.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from python_multipart.multipart import parse_options_header

from peregrine.web.multipart import PartHeaders

Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]

# The token part (headers and a ~43-character value) fits in far less; a body whose first
# part has not ended by then is not our form.
MAX_PREFIX = 16 * 1024
_MAX_TOKEN = 200


class _Found(Exception):
    """Stops the parser once the first part has been seen."""


class _FirstPart(PartHeaders):
    def __init__(self, field: bytes) -> None:
        super().__init__()
        self._field_name = field
        self.matches = False
        self.token = b""

    def on_part(self, name: bytes | None, filename: bytes | None) -> None:
        if name != self._field_name or filename is not None:
            raise _Found
        self.matches = True

    def on_part_data(self, data: bytes, start: int, end: int) -> None:
        self.token += data[start:end]
        if len(self.token) > _MAX_TOKEN:
            self.matches = False
            raise _Found

    def on_part_end(self) -> None:
        raise _Found


async def leading_token(
    content_type: str, receive: Receive, *, field: str
) -> tuple[str | None, list[Message]]:
    """Read ``receive`` until the body's first multipart part is complete.

    Returns the value of that part when it is the form field ``field`` (else ``None``),
    and the messages read, which the caller must replay to the route before the rest.
    """
    kind, params = parse_options_header(content_type)
    boundary = params.get(b"boundary")
    read: list[Message] = []
    if kind != b"multipart/form-data" or not boundary:
        return None, read
    part = _FirstPart(field.encode())
    parser = part.parser(boundary)
    size = 0
    try:
        while size <= MAX_PREFIX:
            message = await receive()
            read.append(message)
            if message["type"] != "http.request":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            # Only the part of the chunk inside the prefix is parsed: the rest is file data.
            parser.write(chunk[: max(0, MAX_PREFIX - (size - len(chunk)))])
            if not message.get("more_body", False):
                break
    except _Found:
        pass
    except Exception:
        # python-multipart's own errors: a malformed body carries no token.
        return None, read
    if not part.matches:
        return None, read
    try:
        return part.token.decode("ascii"), read
    except UnicodeDecodeError:
        return None, read


def replaying(read: list[Message], receive: Receive) -> Receive:
    """A receive that gives back ``read`` first, then continues with ``receive``."""
    pending = list(read)

    async def wrapped() -> Message:
        if pending:
            return pending.pop(0)
        return await receive()

    return wrapped
