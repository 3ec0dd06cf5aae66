"""Structured logs: one JSON object per line with the request id, and a redaction filter so
tokens, keys, cookies, passwords and e-mail addresses never reach a log file."""

from __future__ import annotations

import json
import logging
import re
import sys
from contextvars import ContextVar
from datetime import UTC, datetime

# The request id only — never identity or authority (ARCHITECTURE.md §2).
request_id_var: ContextVar[str | None] = ContextVar("peregrine_request_id", default=None)

_REDACTIONS: tuple[tuple[re.Pattern[str], str], ...] = (
    # JSON Web Tokens (Directus sessions) wherever they appear.
    (re.compile(r"eyJ[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]{5,}\.[A-Za-z0-9_-]*"), "[REDACTED-JWT]"),
    # Authorization headers.
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), r"\1 [REDACTED]"),
    # Credentials inside URLs: scheme://user:password@host.
    (re.compile(r"([a-zA-Z][a-zA-Z0-9+.-]*://[^/\s:@]+):[^/\s@]+@"), r"\1:[REDACTED]@"),
    # name=value / name: value pairs whose name says secret (cookies, query strings, DSNs).
    (
        re.compile(
            r"(?i)\b([a-z0-9_.-]*(?:token|session|secret|passw(?:or)?d|api[_-]?key|cookie"
            r"|authorization|credential)[a-z0-9_.-]*)([\"']?\s*[=:]\s*)([\"']?)[^\s\"';,&]+"
        ),
        r"\1\2\3[REDACTED]",
    ),
    # SQLCipher raw keys and other long hex secrets.
    (re.compile(r"(?i)x'[0-9a-f]{16,}'"), "x'[REDACTED]'"),
    (re.compile(r"(?i)\b[0-9a-f]{40,}\b"), "[REDACTED-HEX]"),
    # E-mail addresses are personal data.
    (re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"), "[EMAIL]"),
)


def redact(text: str) -> str:
    for pattern, replacement in _REDACTIONS:
        text = pattern.sub(replacement, text)
    return text


class RedactionFilter(logging.Filter):
    """Rewrites every record's message (arguments merged in) and exception text."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record must not kill logging
            message = str(record.msg)
        record.msg = redact(message)
        record.args = None
        if record.exc_info:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
            record.exc_info = None
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        record.request_id = request_id_var.get()
        return True


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        request_id = getattr(record, "request_id", None) or request_id_var.get()
        if request_id:
            entry["request_id"] = request_id
        for key in ("method", "route", "status", "duration_ms"):
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = value
        if record.exc_text:
            entry["exc"] = record.exc_text
        elif record.exc_info:
            entry["exc"] = redact(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False)


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        request_id = getattr(record, "request_id", None)
        return f"{line} [{request_id}]" if request_id else line


def make_handler(log_format: str, stream: object = None) -> logging.Handler:
    handler = logging.StreamHandler(stream or sys.stderr)  # type: ignore[arg-type]
    handler.addFilter(RedactionFilter())
    if log_format == "json":
        handler.setFormatter(JsonFormatter())
    else:
        handler.setFormatter(_TextFormatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.set_name("peregrine")
    return handler


def configure_logging(*, level: str, log_format: str) -> None:
    """Route every logger (uvicorn's included) through one redacting handler. Called once
    by the process entry point (``peregrine serve``), not at import time."""
    root = logging.getLogger()
    for existing in list(root.handlers):
        if existing.get_name() == "peregrine":
            root.removeHandler(existing)
    root.addHandler(make_handler(log_format))
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
