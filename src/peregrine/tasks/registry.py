"""Task handlers by kind.

Module-level ``register_handler`` fills the shared default registry (for handlers that need
nothing but the database). The app factory may also give its queue a private ``Registry``
whose handlers close over app resources such as the LLM router; the queue looks there
first, so two differently configured apps in one process never see each other's handlers.
"""

from __future__ import annotations

import re
import threading

from peregrine.tasks.model import Handler, TaskError

_KIND = re.compile(r"[a-z][a-z0-9_]{0,39}")


class Registry:
    def __init__(self, parent: Registry | None = None) -> None:
        self._handlers: dict[str, Handler] = {}
        self._lock = threading.Lock()
        self._parent = parent

    def register(self, kind: str, handler: Handler) -> None:
        if not _KIND.fullmatch(kind):
            raise ValueError(f"task kind {kind!r} must be lower-case letters, digits and _")
        with self._lock:
            self._handlers[kind] = handler

    def get(self, kind: str) -> Handler | None:
        with self._lock:
            found = self._handlers.get(kind)
        if found is None and self._parent is not None:
            return self._parent.get(kind)
        return found

    def kinds(self) -> list[str]:
        with self._lock:
            own = set(self._handlers)
        return sorted(own | set(self._parent.kinds() if self._parent else ()))

    def require(self, kind: str) -> None:
        if self.get(kind) is None:
            known = ", ".join(self.kinds()) or "none"
            raise TaskError(f"unknown task kind {kind!r} (known: {known})")


DEFAULT = Registry()


def register_handler(kind: str, handler: Handler) -> None:
    """Register (or replace) the handler of ``kind`` in the shared default registry."""
    DEFAULT.register(kind, handler)


def get_handler(kind: str) -> Handler | None:
    return DEFAULT.get(kind)
