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
from collections import OrderedDict
from collections.abc import Iterator
from pathlib import Path

from starlette.datastructures import MutableHeaders
from starlette.requests import HTTPConnection, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from peregrine.demo.seed import check_seeded, sandbox_root
from peregrine.settings import Settings
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
        self._handles: OrderedDict[str, UserDB] = OrderedDict()
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
        with self._lock:
            handles, self._handles = list(self._handles.values()), OrderedDict()
        for handle in handles:
            handle.close()

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
        handle = self.resolve(request)
        return SandboxStore(handle)

    def resolve(self, request: Request) -> UserDB:
        """The visitor's sandbox, created from the seed on first use."""
        token = request.scope.get("state", {}).get("demo_visitor")
        if not valid_token(token):
            raise StorageError("demo visitor middleware is not installed")
        assert isinstance(token, str)
        handle, refresh_cookie = self.sandbox_for(token)
        if refresh_cookie:
            request.scope["state"]["demo_issue_cookie"] = True
        return handle

    def sandbox_for(self, token: str) -> tuple[UserDB, bool]:
        """The sandbox for ``token`` and whether the visitor's cookie should be (re)sent:
        when the sandbox is new, and about once a minute so an active visitor's cookie
        keeps pace with the sandbox's idle expiry."""
        digest = hashlib.sha256(token.encode()).hexdigest()[:32]
        now = time.time()
        # One lock for lookups, copies and evictions: a first visit holds it for the copy
        # (about 12 ms, see bench/demo_sandbox.py), which keeps two requests with the same
        # new cookie from copying over each other and eviction from racing creation.
        with self._lock:
            if now - self._last_sweep > _SWEEP_EVERY_S:
                self._sweep_locked(now)
            path = self.root / digest / "staging.db"
            handle = self._handles.get(digest)
            # `demo reset` deletes the sandboxes: a vanished file means start afresh.
            if handle is not None and not path.exists():
                self._forget_locked(digest)
                handle = None
            created = False
            if handle is None:
                if not path.exists():
                    self._make_room_locked(now)
                    self._copy_seed(path)
                    created = True
                handle = UserDB.open(path)
                self._handles[digest] = handle
                while len(self._handles) > _OPEN_HANDLES_MAX:
                    _, oldest = self._handles.popitem(last=False)
                    oldest.close()
            self._handles.move_to_end(digest)
            refresh = created or now - self._touched.get(digest, 0) > _TOUCH_EVERY_S
            if refresh:
                # The folder's mtime records the last visit, so expiry survives restarts.
                os.utime(path.parent, (now, now))
                self._touched[digest] = now
        return handle, refresh

    # -- helpers (called with the lock held) -----------------------------------------------
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
        for mtime, name in self._sandboxes_by_age():
            if now - mtime > self.ttl_s:
                self._remove_locked(name)

    def _make_room_locked(self, now: float) -> None:
        existing = self._sandboxes_by_age()
        excess = len(existing) - self.max_sandboxes + 1
        for _, name in existing[: max(excess, 0)]:
            log.info("demo sandbox limit reached; dropping the least recently used one")
            self._remove_locked(name)

    def _forget_locked(self, name: str) -> None:
        handle = self._handles.pop(name, None)
        self._touched.pop(name, None)
        if handle is not None:
            handle.close()

    def _remove_locked(self, name: str) -> None:
        self._forget_locked(name)
        shutil.rmtree(self.root / name, ignore_errors=True)


class SandboxStore:
    """One visitor's sandbox seen through the storage interface. Exports work; replacing
    the database is refused (the routes refuse restores in demo mode before this)."""

    def __init__(self, handle: UserDB) -> None:
        self._handle = handle
        self.workdir_root = handle.path.parent / ".backup-tmp"

    @contextlib.contextmanager
    def borrow(self) -> Iterator[UserDB]:
        yield self._handle

    def location(self) -> tuple[Path, bytes | None]:
        return self._handle.path, None

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
