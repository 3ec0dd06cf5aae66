"""A bounded LRU of open user-database handles.

Opening a tenant costs a file open, a key derivation and a schema check; keeping recent
handles open makes the common case a dictionary lookup. Handles are leased for the length
of a request: eviction (LRU size, idle time, ``close_user``) never closes a handle while a
request still holds it; the last lease to return closes it instead.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass

from peregrine.storage.userdb import UserDB


@dataclass
class _Entry:
    db: UserDB
    last_used: float
    leases: int = 0
    retired: bool = False
    user_id: str = ""


class HandleRegistry:
    def __init__(
        self,
        *,
        max_open: int,
        idle_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_open = max_open
        self.idle_seconds = idle_seconds
        self._clock = clock
        self._entries: OrderedDict[str, _Entry] = OrderedDict()
        # Evicted while leased: closed by the last release.
        self._retired: dict[int, _Entry] = {}
        self._lock = threading.Lock()
        # Opens are serialised per user so two first requests do not open twice.
        self._opening: dict[str, threading.Lock] = {}
        self._pid = os.getpid()

    def __len__(self) -> int:
        return len(self._entries)

    def _after_fork(self) -> None:
        # Handles inherited from the parent process must not be used (or closed) here;
        # they are dropped and reopened on demand.
        if self._pid != os.getpid():
            self._entries = OrderedDict()
            self._retired = {}
            self._opening = {}
            self._pid = os.getpid()

    def acquire(self, user_id: str, opener: Callable[[], UserDB]) -> UserDB:
        """The user's open handle (opened with ``opener`` if needed), leased to the caller."""
        to_close: list[UserDB] = []
        with self._lock:
            self._after_fork()
            entry = self._lease_existing(user_id)
            if entry is None:
                open_lock = self._opening.setdefault(user_id, threading.Lock())
        if entry is not None:
            return entry.db
        with open_lock:
            with self._lock:
                entry = self._lease_existing(user_id)
            if entry is not None:
                return entry.db
            try:
                db = opener()  # outside the registry lock: opening must not stall others
            finally:
                with self._lock:
                    if self._opening.get(user_id) is open_lock:
                        del self._opening[user_id]
            with self._lock:
                # A racing opener that took a fresh lock may have won; keep one handle.
                entry = self._lease_existing(user_id)
                if entry is None:
                    self._entries[user_id] = _Entry(
                        db=db, last_used=self._clock(), leases=1, user_id=user_id
                    )
                    to_close = self._evict_locked()
        if entry is not None:
            db.close()
            return entry.db
        for old in to_close:
            old.close()
        return db

    def acquire_open(self, user_id: str) -> UserDB | None:
        """The user's handle if it is open already (leased to the caller), else None.

        Never opens and never waits on another user's open: for callers on the event loop.
        """
        with self._lock:
            self._after_fork()
            entry = self._lease_existing(user_id)
        return None if entry is None else entry.db

    def in_use(self, user_id: str) -> bool:
        """Whether someone holds a lease on the user's current or retired handle."""
        with self._lock:
            entry = self._entries.get(user_id)
            if entry is not None and entry.leases > 0:
                return True
            return any(e.user_id == user_id for e in self._retired.values())

    def _lease_existing(self, user_id: str) -> _Entry | None:
        entry = self._entries.get(user_id)
        if entry is None:
            return None
        entry.leases += 1
        entry.last_used = self._clock()
        self._entries.move_to_end(user_id)
        return entry

    def release(self, user_id: str, db: UserDB) -> None:
        close = False
        with self._lock:
            entry = self._entries.get(user_id)
            if entry is not None and entry.db is db:
                entry.leases -= 1
                entry.last_used = self._clock()
            else:
                entry = self._retired.get(id(db))
                if entry is not None:
                    entry.leases -= 1
                    if entry.leases <= 0:
                        del self._retired[id(db)]
                        close = True
        if close:
            db.close()

    @contextlib.contextmanager
    def lease(self, user_id: str, opener: Callable[[], UserDB]) -> Iterator[UserDB]:
        db = self.acquire(user_id, opener)
        try:
            yield db
        finally:
            self.release(user_id, db)

    def _retire_locked(self, user_id: str) -> UserDB | None:
        """Remove a user's entry; return its handle if it can be closed now."""
        entry = self._entries.pop(user_id)
        if entry.leases > 0:
            entry.retired = True
            self._retired[id(entry.db)] = entry
            return None
        return entry.db

    def _evict_locked(self) -> list[UserDB]:
        to_close: list[UserDB] = []
        deadline = self._clock() - self.idle_seconds
        while self._entries:
            user_id, entry = next(iter(self._entries.items()))
            if len(self._entries) > self.max_open or (
                entry.leases == 0 and entry.last_used < deadline
            ):
                db = self._retire_locked(user_id)
                if db is not None:
                    to_close.append(db)
            else:
                break
        return to_close

    def sweep(self) -> int:
        """Close handles idle for longer than ``idle_seconds``; return how many."""
        with self._lock:
            self._after_fork()
            to_close = self._evict_locked()
        for db in to_close:
            db.close()
        return len(to_close)

    def close_user(self, user_id: str) -> None:
        """Close one user's handle (e.g. before deleting their data)."""
        with self._lock:
            db = self._retire_locked(user_id) if user_id in self._entries else None
        if db is not None:
            db.close()

    def close_all(self) -> None:
        with self._lock:
            entries, self._entries = self._entries, OrderedDict()
        for entry in entries.values():
            entry.db.close()
