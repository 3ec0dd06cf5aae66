"""Error translation shared by the providers built on the vendors' official clients.

The ``anthropic`` and ``openai`` packages come from the same generator and raise the same
family of exceptions under different base classes; one translation keeps the messages the
user sees identical whichever backend failed, and keeps keys and bodies out of them.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from peregrine.llm.errors import BackendError


@dataclass(frozen=True, slots=True)
class SdkErrors:
    """One client library's exception classes."""

    timeout: type[Exception]
    status: type[Exception]
    connection: type[Exception]
    base: type[Exception]


@contextlib.contextmanager
def translated(errors: SdkErrors, timeout_s: float) -> Iterator[None]:
    """Turn the client's exceptions into ``BackendError`` with a short, key-free message."""
    try:
        yield
    except BackendError:
        raise
    # Order matters: the timeout class is a kind of connection error in both libraries.
    except errors.timeout:
        raise BackendError(f"timed out after {timeout_s:g} s") from None
    except errors.status as exc:
        status = getattr(exc, "status_code", "?")
        raise BackendError(f"HTTP {status}: {_detail(exc)}") from None
    except errors.connection:
        raise BackendError("cannot reach the server") from None
    except (errors.base, ValueError) as exc:
        raise BackendError(f"unexpected answer ({type(exc).__name__})") from None


def _detail(exc: Exception) -> str:
    body: Any = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict):
            return str(error.get("message", ""))[:300]
        return str(error)[:300]
    return str(getattr(exc, "message", ""))[:300]
