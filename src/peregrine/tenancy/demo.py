"""Demo mode: every visitor works in a private copy of the seeded demo database.

Why a sandbox rather than a read-only demo: visitors should be able to try everything
(move jobs, edit letters, undo) and a read-only app would have to special-case every
form. Each visitor gets a random cookie; the first request that needs the database copies
the seed (a few hundred KB, milliseconds) into ``<data>/sandboxes/<digest>/staging.db``.
Sandboxes idle for ``DEMO_SANDBOX_TTL_MINUTES`` are deleted; past ``DEMO_MAX_SANDBOXES``
the least recently used one is dropped, so disk use has a ceiling whatever the traffic.

The cookie value never becomes a path: it must look like a token we issued, and the
folder is named after its SHA-256 digest. The demo runs as one server process (the
locks here are per process); sandboxes survive restarts.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import re
import secrets
import shutil
import threading
import time
from collections.abc import Iterator
from pathlib import Path

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from peregrine.demo.seed import check_seeded, sandbox_root
from peregrine.settings import Settings
from peregrine.storage.registry import HandleRegistry
from peregrine.storage.userdb import StorageError, UserDB

log = logging.getLogger("peregrine.demo")

VISITOR_COOKIE = "peregrine_demo"
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")  # secrets.token_urlsafe(32)
_OPEN_HANDLES_MAX = 32
_TOUCH_EVERY_S = 60.0
_SWEEP_EVERY_S = 60.0


def new_token() -> str:
    return secrets.token_urlsafe(32)


def valid_token(value: str | None) -> bool:
    return bool(value and _TOKEN.fullmatch(value))


class DemoTenancy:
    """Resolves each request to its visitor's sandbox database."""

    def __init__(self, settings: Settings) -> None:
        self.seed = settings.staging_db
        self.root = sandbox_root(settings.staging_db)
        self.max_sandboxes = settings.demo_max_sandboxes
        self.ttl_s = settings.demo_sandbox_ttl_minutes * 60
        # The same leased LRU as cloud mode: past the cap the least recently used handle
        # is retired, but a handle still borrowed by a request or a task is closed by its
        # last release, never under its borrower.
        self.registry = HandleRegistry(max_open=_OPEN_HANDLES_MAX, idle_seconds=self.ttl_s)
        self._owners: dict[str, str] = {}  # database path → sandbox digest (task queue)
        self._touched: dict[str, float] = {}
        self._lock = threading.Lock()
        self._last_sweep = 0.0

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> None:
        check_seeded(self.seed)
        self.root.mkdir(parents=True, exist_ok=True)
        with self._lock:
            self._sweep_locked(time.time())

    def stop(self) -> None:
        self.registry.close_all()

    def ready(self) -> bool:
        """The seed is there to copy visitors' sandboxes from."""
        return self.seed.exists()

    @property
    def workdir_root(self) -> Path:
        """Scratch space swept at start-up (backups are refused in demo mode)."""
        return self.root / ".backup-tmp"

    # -- per request -----------------------------------------------------------------------
    def store(self, request: Request) -> SandboxStore:
        """The visitor's storage (see ``tenancy/store.py`` for the interface)."""
        token = request.scope.get("state", {}).get("demo_visitor")
        if not valid_token(token):
            raise StorageError("demo visitor middleware is not installed")
        assert isinstance(token, str)
        return SandboxStore(self, token, request)

    @contextlib.contextmanager
    def borrow_sandbox(self, token: str) -> Iterator[tuple[UserDB, bool]]:
        """The sandbox for ``token``, leased for the block, and whether the visitor's
        cookie should be (re)sent: when the sandbox is new, and about once a minute so an
        active visitor's cookie keeps pace with the sandbox's idle expiry."""
        digest = _digest(token)
        db, refresh = self._acquire(digest)
        try:
            yield db, refresh
        finally:
            self.registry.release(digest, db)

    def sandbox_for(self, token: str) -> tuple[UserDB, bool]:
        """The sandbox for ``token`` without a lease, for tests and benchmarks that look
        inside a visitor's sandbox: the handle stays usable only while fewer than 32
        visitors are active. Requests and tasks use ``borrow_sandbox``/``lease``."""
        with self.borrow_sandbox(token) as found:
            return found

    # -- the task queue's door (the same shape as cloud mode's) ----------------------------
    def owner_of(self, db: UserDB) -> str | None:
        """The sandbox a handle belongs to, so a worker can lease it again by name."""
        return self._owners.get(str(db.path))

    @contextlib.contextmanager
    def lease(self, digest: str) -> Iterator[UserDB]:
        """A sandbox for a background task: never created (a sandbox dropped since the
        task was queued stays dropped) and never closed under the task."""
        with self._lock:
            path = self._path(digest)
            if not path.exists():
                raise StorageError("this demo sandbox was dropped")
            db = self.registry.acquire(digest, lambda: self._open_locked(digest))
        try:
            yield db
        finally:
            self.registry.release(digest, db)

    def _acquire(self, digest: str) -> tuple[UserDB, bool]:
        now = time.time()
        # One lock for lookups, copies and evictions: a first visit holds it for the copy
        # (about 12 ms, see bench/demo_sandbox.py), which keeps two requests with the same
        # new cookie from copying over each other and eviction from racing creation. The
        # lease is taken under it too, so a sandbox cannot be dropped between its file
        # being checked and its handle being leased.
        with self._lock:
            if now - self._last_sweep > _SWEEP_EVERY_S:
                self._sweep_locked(now)
            path = self._path(digest)
            created = False
            if not path.exists():
                # `demo reset` deletes the sandboxes: a vanished file means start afresh,
                # and a handle still cached on the deleted file must not be served.
                self._forget_locked(digest)
                self._make_room_locked(digest)
                self._copy_seed(path)
                created = True
            db = self.registry.acquire(digest, lambda: self._open_locked(digest))
            refresh = created or now - self._touched.get(digest, 0) > _TOUCH_EVERY_S
            if refresh:
                # The folder's mtime records the last visit, so expiry survives restarts.
                os.utime(path.parent, (now, now))
                self._touched[digest] = now
        return db, refresh

    # -- helpers (called with the lock held) -----------------------------------------------
    def _path(self, digest: str) -> Path:
        return self.root / digest / "staging.db"

    def _open_locked(self, digest: str) -> UserDB:
        db = UserDB.open(self._path(digest))
        self._owners[str(db.path)] = digest
        return db

    def _copy_seed(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(".staging.db.copying")
        shutil.copyfile(self.seed, partial)
        os.replace(partial, path)

    def _sandboxes_by_age(self) -> list[tuple[float, str]]:
        found: list[tuple[float, str]] = []
        if not self.root.is_dir():  # `demo reset` removes the whole folder
            return found
        for entry in os.scandir(self.root):
            if entry.is_dir(follow_symlinks=False):
                found.append((entry.stat(follow_symlinks=False).st_mtime, entry.name))
        return sorted(found)

    def _sweep_locked(self, now: float) -> None:
        self._last_sweep = now
        self.registry.sweep()
        for mtime, name in self._sandboxes_by_age():
            if now - mtime > self.ttl_s and not self.registry.in_use(name):
                self._remove_locked(name)

    def _make_room_locked(self, keep: str) -> None:
        existing = self._sandboxes_by_age()
        excess = len(existing) - self.max_sandboxes + 1
        # A sandbox borrowed right now (a request or a running task) is skipped: deleting
        # its file would pull the data from under its borrower. The cap is then exceeded
        # by the few busy ones until a later visit makes room.
        idle = [n for _, n in existing if n != keep and not self.registry.in_use(n)]
        for name in idle[: max(excess, 0)]:
            log.info("demo sandbox limit reached; dropping the least recently used one")
            self._remove_locked(name)

    def _forget_locked(self, name: str) -> None:
        self._touched.pop(name, None)
        self._owners.pop(str(self._path(name)), None)
        # Closed now if nobody holds it, else by its last borrower.
        self.registry.close_user(name)

    def _remove_locked(self, name: str) -> None:
        self._forget_locked(name)
        shutil.rmtree(self.root / name, ignore_errors=True)


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()[:32]


class SandboxStore:
    """One visitor's sandbox seen through the storage interface. Exports work; replacing
    the database is refused (the routes refuse restores in demo mode before this)."""

    def __init__(self, tenancy: DemoTenancy, token: str, request: Request) -> None:
        self._tenancy = tenancy
        self._token = token
        self._request = request
        self._path = tenancy._path(_digest(token))
        self.workdir_root = self._path.parent / ".backup-tmp"

    @contextlib.contextmanager
    def borrow(self) -> Iterator[UserDB]:
        with self._tenancy.borrow_sandbox(self._token) as (db, refresh_cookie):
            if refresh_cookie:
                self._request.scope["state"]["demo_issue_cookie"] = True
            yield db

    def location(self) -> tuple[Path, bytes | None]:
        return self._path, None

    def replace_database(self, staged: Path) -> None:
        raise StorageError("restoring a backup is not available in the demo")

    def rollback_database(self) -> None:
        raise StorageError("restoring a backup is not available in the demo")


class DemoVisitorMiddleware:
    """Gives each visitor a random token; the cookie is sent once a sandbox exists."""

    def __init__(self, app: ASGIApp, *, ttl_minutes: int, cookie_path: str = "/") -> None:
        self.app = app
        self.max_age = ttl_minutes * 60
        self.cookie_path = cookie_path or "/"

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        token = HTTPConnection(scope).cookies.get(VISITOR_COOKIE)
        if not valid_token(token):
            token = new_token()
        state = scope.setdefault("state", {})
        state["demo_visitor"] = token
        secure = scope.get("scheme") == "https"

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and state.get("demo_issue_cookie"):
                headers = MutableHeaders(scope=message)
                headers.append(
                    "set-cookie",
                    f"{VISITOR_COOKIE}={token}; Path={self.cookie_path}; Max-Age={self.max_age}"
                    f"; HttpOnly; SameSite=Lax{'; Secure' if secure else ''}",
                )
            await send(message)

        await self.app(scope, receive, send_with_cookie)
