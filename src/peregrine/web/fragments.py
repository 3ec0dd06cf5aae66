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
from typing import Any, Generic, TypeVar

from markupsafe import Markup

from peregrine.storage.queries.jobs import changes_mark
from peregrine.storage.userdb import DatabaseError, UserDB

V = TypeVar("V")


class LRU(Generic[V]):
    """Bounded by entries and, with ``maxbytes``, by the length of what it holds (``bytes``
    or ``str`` values, or tuples of them)."""

    def __init__(self, maxsize: int = 2048, *, maxbytes: int | None = None) -> None:
        self.maxsize = maxsize
        self.maxbytes = maxbytes
        self.nbytes = 0
        self._items: OrderedDict[Hashable, V] = OrderedDict()
        # Handlers run on the event loop today, but a sync handler in the thread pool may
        # share a cache tomorrow; an uncontended lock costs well under a microsecond.
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def get(self, key: Hashable) -> V | None:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
            return hit

    def clear(self) -> None:
        with self._lock:
            self._items.clear()
            self.nbytes = 0

    def put(self, key: Hashable, fragment: V) -> None:
        size = _size(fragment) if self.maxbytes is not None else 0
        with self._lock:
            old = self._items.pop(key, None)
            if old is not None and self.maxbytes is not None:
                self.nbytes -= _size(old)
            self._items[key] = fragment
            self.nbytes += size
            while len(self._items) > self.maxsize or (
                self.maxbytes is not None and self.nbytes > self.maxbytes and self._items
            ):
                _, dropped = self._items.popitem(last=False)
                if self.maxbytes is not None:
                    self.nbytes -= _size(dropped)


def _size(value: object) -> int:
    if isinstance(value, bytes | str):
        return len(value)
    if isinstance(value, tuple):
        return sum(_size(part) for part in value)
    return 0


# Whole pages are kept per tenant and filter set, one version each (see ``page_cache``).
PAGE_CACHE_MIN_ENTRIES = 64


def page_cache(open_tenants: int, maxbytes: int) -> LRU[Any]:
    """A whole-page cache sized for every tenant the app keeps open, bounded by bytes.

    Why: with fewer entries than tenants in rotation an LRU misses on every request
    (measured: 64 entries and 1,000 tenants rebuilt every page, 4-14 ms each). Callers key
    a page by its database and filters and store ``(mark, page)``, so a change replaces
    the tenant's entry instead of leaving the old version to age out; keys always name the
    tenant's database, so pages are never shared.
    """
    return LRU(maxsize=max(PAGE_CACHE_MIN_ENTRIES, 2 * open_tenants), maxbytes=maxbytes)


def current_page(db: UserDB, cache: LRU[tuple[int, V]], key: Hashable) -> V | None:
    """The page cached under ``key`` if it was built at the database's current change mark
    (migration 0002), else None.

    Cheap enough for the event loop (see ``web.deps.read_with``): a dictionary lookup and
    one indexed row read on an idle pooled connection that never waits on a lock.
    """
    entry = cache.get(key)
    if entry is None:
        return None
    with db.read_idle() as conn:
        if conn is None:
            return None
        try:
            mark = changes_mark(conn)
        except DatabaseError:
            return None  # busy or damaged: the full path waits for it or reports it
    return entry[1] if mark is not None and entry[0] == mark else None


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
