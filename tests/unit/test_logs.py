"""Logs carry a request id and never tokens, keys, cookies, passwords or e-mail addresses."""

from __future__ import annotations

import io
import json
import logging

import pytest

from peregrine.observability.logs import make_handler, redact, request_id_var

JWT = (
    "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpZCI6ImExMWNlMDAwIn0."
    "Zm9vYmFyYmF6cXV4cXV1eGNvcmdlZ3JhdWx0"
)
KEY = "9f1c2d3e4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a69789f1c2d3e4b5a6978"


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (f"cookie header: directus_session_token={JWT}; other=1", JWT),
        (f"Authorization: Bearer {JWT}", JWT),
        ("connecting to postgresql://peregrine:hunter2pass@db:5432/platform", "hunter2pass"),
        ("retrying with password=hunter2pass", "hunter2pass"),
        ('{"api_key": "sk-live-abcdef123456"}', "sk-live-abcdef123456"),
        (f"PRAGMA key = \"x'{KEY}'\"", KEY),
        (f"server secret {KEY}", KEY),
        ("GET /api/v1/things?token=abc123def456", "abc123def456"),
        ("sent a letter for alice.smith@example.com", "alice.smith@example.com"),
    ],
)
def test_it_redacts_secrets_and_personal_data(text: str, secret: str) -> None:
    assert secret not in redact(text)


def test_ordinary_messages_are_left_alone() -> None:
    line = "GET /api/v1/jobs/{job_id} 200 3.1ms user a11ce000-0000-4000-8000-000000000001"
    assert redact(line) == line


def _capture(log_format: str) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    logger = logging.getLogger(f"peregrine.test.{log_format}")
    logger.handlers = [make_handler(log_format, stream)]
    logger.propagate = False
    logger.setLevel(logging.INFO)
    return logger, stream


def test_json_lines_carry_the_request_id_and_are_redacted() -> None:
    logger, stream = _capture("json")
    token = request_id_var.set("req-12345678")
    try:
        logger.info("session %s refused", JWT)
    finally:
        request_id_var.reset(token)
    entry = json.loads(stream.getvalue())
    assert entry["request_id"] == "req-12345678"
    assert entry["level"] == "info"
    assert JWT not in stream.getvalue()
    assert "[REDACTED-JWT]" in entry["msg"]


def test_exception_text_is_redacted_too() -> None:
    logger, stream = _capture("json")
    try:
        raise RuntimeError("could not connect to postgresql://u:hunter2pass@db/platform")
    except RuntimeError:
        logger.exception("platform failed")
    entry = json.loads(stream.getvalue())
    assert "hunter2pass" not in stream.getvalue()
    assert "RuntimeError" in entry["exc"]


def test_text_format_redacts_as_well() -> None:
    logger, stream = _capture("text")
    logger.warning("user alice@example.com used token=%s", "abcdef123456")
    assert "alice@example.com" not in stream.getvalue()
    assert "abcdef123456" not in stream.getvalue()
