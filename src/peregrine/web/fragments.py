"""A small LRU of rendered fragments (HTML cards, JSON rows), keyed by what they show.

A key must change whenever what the fragment shows changes. Callers key on the job's
revision mark (``jobs.rev``, bumped by triggers on every change, see migration 0002) and
the database the job lives in, never on a job id alone: ids are reused and every tenant has
a job 1.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

from markupsafe import Markup

V = TypeVar("V")


class LRU(Generic[V]):
    def __init__(self, maxsize: int = 2048) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        # Handlers run on the event loop today, but a sync handler in the thread pool may
        # share a cache tomorrow; an uncontended lock costs well under a microsecond.
        self._lock = threading.Lock()

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
            return hit

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def put(self, key: Hashable, fragment: V) -> None:
        with self._lock:
            self._items[key] = fragment
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)


class FragmentCache(LRU[str]):
    def get_or_render(self, key: Hashable, render: Callable[[], str]) -> Markup:
        """An HTML fragment; ``render`` must be an autoescaping template render."""
        hit = self.get(key)
        if hit is None:
            # Rendered outside the lock: two threads may render the same fragment once each,
            # which is cheaper than serialising every render.
            hit = render()
            self.put(key, hit)
        return Markup(hit)  # noqa: S704
