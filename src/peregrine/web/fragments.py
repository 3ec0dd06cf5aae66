"""A small LRU of rendered HTML fragments, keyed by everything the fragment shows.

The key holds the displayed values themselves (not an id and a timestamp), so any change to
what a fragment shows is a new key and a stale fragment can never be served.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable

from markupsafe import Markup


class FragmentCache:
    def __init__(self, maxsize: int = 2048) -> None:
        self.maxsize = maxsize
        self._items: OrderedDict[Hashable, Markup] = OrderedDict()
        self._lock = threading.Lock()

    def get_or_render(self, key: Hashable, render: Callable[[], str]) -> Markup:
        with self._lock:
            hit = self._items.get(key)
            if hit is not None:
                self._items.move_to_end(key)
                return hit
        # Rendered outside the lock: two threads may render the same fragment once each,
        # which is cheaper than serialising every render.
        # `render` is an autoescaping template render, so its output is already safe HTML.
        fragment = Markup(render())  # noqa: S704
        with self._lock:
            self._items[key] = fragment
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)
        return fragment
