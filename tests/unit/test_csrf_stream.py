"""The restore form's CSRF token, read from the front of a streamed multipart body."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from peregrine.web.csrf_stream import MAX_PREFIX, leading_token, replaying

BOUNDARY = "b0undary"
CONTENT_TYPE = f"multipart/form-data; boundary={BOUNDARY}"
TOKEN = "t" * 43


def _body(first: bytes, file_size: int = 200_000) -> bytes:
    return (
        f'--{BOUNDARY}\r\nContent-Disposition: form-data; name="csrf_token"\r\n\r\n'.encode()
        + first
        + f'\r\n--{BOUNDARY}\r\nContent-Disposition: form-data; name="file"; '
        f'filename="b.zip"\r\n\r\n'.encode()
        + b"z" * file_size
        + f"\r\n--{BOUNDARY}--\r\n".encode()
    )


def _receiver(body: bytes, chunk: int) -> tuple[Any, list[int]]:
    pieces = [body[i : i + chunk] for i in range(0, len(body), chunk)]
    served: list[int] = []

    async def receive() -> dict[str, Any]:
        served.append(len(served))
        piece = pieces[len(served) - 1]
        return {"type": "http.request", "body": piece, "more_body": len(served) < len(pieces)}

    return receive, served


def _run(body: bytes, chunk: int) -> tuple[str | None, bytes, int]:
    receive, served = _receiver(body, chunk)

    async def go() -> tuple[str | None, bytes, int]:
        token, read = await leading_token(CONTENT_TYPE, receive, field="csrf_token")
        peeked = len(served)
        again = replaying(read, receive)
        out = b""
        while True:
            message = await again()
            out += message.get("body", b"")
            if not message.get("more_body"):
                return token, out, peeked

    # A thread of its own: the browser tests keep an event loop running in the main thread.
    result: list[tuple[str | None, bytes, int]] = []
    thread = threading.Thread(target=lambda: result.append(asyncio.run(go())))
    thread.start()
    thread.join()
    return result[0]


def test_the_token_is_found_however_the_body_is_split_and_every_byte_reaches_the_route() -> None:
    body = _body(TOKEN.encode())
    for chunk in (1, 7, 64, 4096, 65536, len(body)):
        token, replayed, _ = _run(body, chunk)
        assert token == TOKEN
        assert replayed == body


def test_only_the_front_of_a_large_upload_is_read_before_the_check() -> None:
    body = _body(TOKEN.encode(), file_size=5_000_000)
    _, replayed, peeked = _run(body, 65536)
    assert peeked == 1
    assert replayed == body
    _, _, peeked_small = _run(body, 1024)
    assert peeked_small * 1024 <= MAX_PREFIX + 1024


def test_a_first_part_that_is_not_the_token_gives_none() -> None:
    not_token = _body(TOKEN.encode()).replace(b'name="csrf_token"', b'name="other"', 1)
    assert _run(not_token, 4096)[0] is None
    assert _run(_body(b"x" * 5000), 4096)[0] is None  # longer than any token
    assert _run(_body("é".encode()), 4096)[0] is None  # not ASCII
    assert _run(b"garbage without a boundary", 4096)[0] is None
