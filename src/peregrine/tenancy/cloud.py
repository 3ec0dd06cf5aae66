"""Cloud mode: every request names its user through a Directus session; each user has
their own encrypted database. Code below this module receives a ``UserDB`` and never
learns that other tenants exist.
"""

from __future__ import annotations

import contextlib
import logging
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from peregrine.settings import Settings
from peregrine.storage.backup import RestoreInProgressError, sweep_workdirs
from peregrine.storage.backup_swap import recover_after_crash, rollback_files, swap_in
from peregrine.storage.erasure import is_tombstoned
from peregrine.storage.migrate import MigrationError
from peregrine.storage.registry import HandleRegistry
from peregrine.storage.userdb import NotADatabaseError, StorageError, UserDB
from peregrine.tenancy import provisioning
from peregrine.tenancy.identity import IdentityError, Tenant, TenantLayout, derive_key
from peregrine.tenancy.keycheck import KeyCheckError, check_canary
from peregrine.tenancy.local import WORKDIR_NAME
from peregrine.tenancy.rotation import rekey
from peregrine.tenancy.session import (
    RevocationCheck,
    SessionCheckUnavailable,
    SessionError,
    TokenVerifier,
    cookie_header,
    session_token,
)

log = logging.getLogger("peregrine.tenancy")

_SWEEP_EVERY_SECONDS = 30.0


class AuthenticationRequired(Exception):
    """The request has no valid session; it gets the sign-in page or a JSON 401."""


class AccountDeleted(Exception):
    """The account was erased; its session may still be valid but gets 410, and nothing is
    provisioned for it again."""


class TenantUnavailable(Exception):
    """The user is known but their data cannot be served now (503); the operator log says
    why. The message is safe to show."""


class CloudTenancy:
    """Resolves each request to its user's database; owns the handle registry."""

    def __init__(self, settings: Settings) -> None:
        if settings.directus_jwt_secret is None or settings.cf_server_secret is None:
            raise StorageError("cloud mode needs DIRECTUS_JWT_SECRET and CF_SERVER_SECRET")
        self.settings = settings
        self._owners: dict[str, str] = {}  # database path → user id
        self._server_secret = settings.cf_server_secret.reveal().encode()
        previous = settings.cf_server_secret_previous
        self._previous_secret = previous.reveal().encode() if previous else None
        self.verifier = TokenVerifier(settings.directus_jwt_secret.reveal().encode())
        self.layout = TenantLayout(
            settings.cloud_data_root, settings.cloud_app_slug, self._server_secret
        )
        self.registry = HandleRegistry(
            max_open=settings.cloud_db_cache_size, idle_seconds=settings.cloud_db_idle_seconds
        )
        self.revocation: RevocationCheck | None = None
        self._next_sweep = 0.0
        # Per-user restore gate: requests in flight are counted so a restore can wait for
        # them, and users being restored get 409 instead of a half-swapped database.
        self._gate = threading.Condition()
        self._in_flight: Counter[str] = Counter()
        self._replacing: set[str] = set()
        # Users whose scratch folder this process has swept (see ``_open_existing``).
        self._swept: set[str] = set()
        # Tenants whose folder passed the containment checks (see ``tenant``), by user id.
        self._tenants: OrderedDict[str, Tenant] = OrderedDict()
        self._tenants_max = max(64, 2 * settings.cloud_db_cache_size)
        self._tenants_lock = threading.Lock()

    @property
    def workdir_root(self) -> Path:
        """Process-wide scratch space (per-user scratch lives in each user's folder)."""
        return self.settings.cloud_data_root / WORKDIR_NAME

    # -- lifespan ---------------------------------------------------------------------

    def start(self) -> None:
        root = self.settings.cloud_data_root
        if not root.is_dir():
            raise StorageError(
                f"CLOUD_DATA_ROOT {root} does not exist or is not a folder; create it "
                "(owned by the service user, mode 0700) before starting"
            )
        if check_canary(self.layout.root, self._server_secret, previous=self._previous_secret):
            log.info("fresh data root: created the key-check canary")
        if self.settings.directus_url:
            self.revocation = RevocationCheck(
                self.settings.directus_url,
                self.settings.session_cookie_name,
            )
        else:
            log.warning(
                "DIRECTUS_URL is not set: a signed-out or suspended user keeps access until "
                "their session token expires"
            )

    def stop(self) -> None:
        self.registry.close_all()
        if self.revocation is not None:
            self.revocation.close()
            self.revocation = None

    def ready(self) -> bool:
        """Serving is possible: the data root is there and the secret still opens it."""
        try:
            # Never creates: a canary vanishing at run time means the data root changed.
            check_canary(self.layout.root, self._server_secret, create=False)
        except (OSError, StorageError):
            return False
        return True

    # -- per request ------------------------------------------------------------------

    def authenticate(self, headers: Any) -> str:
        """The verified user id of a request, or ``AuthenticationRequired``."""
        try:
            token = session_token(cookie_header(headers), self.settings.session_cookie_name)
            session = self.verifier.verify(token)
            if self.revocation is not None:
                self.revocation.confirm(session, token)
        except SessionError as exc:
            # The reason helps operators; it never contains the token.
            log.info("sign-in required: %s", exc)
            raise AuthenticationRequired(str(exc)) from None
        except SessionCheckUnavailable as exc:
            raise TenantUnavailable(str(exc)) from None
        # Every route, including those that never open the database, answers 410 for an
        # erased account whose session token has not expired yet.
        self._refuse_erased(session.user_id)
        return session.user_id

    def store(self, request: Any) -> CloudUserStore:
        """The signed-in user's storage (see tenancy/store.py); 401/503 otherwise."""
        user_id = self.authenticate(request.headers)
        tenant = self.tenant(user_id)
        request.state.user_id = user_id
        return CloudUserStore(self, tenant)

    def borrow_ready(self, request: Any) -> contextlib.AbstractContextManager[UserDB] | None:
        """The signed-in user's database when reaching it needs no I/O, else None.

        For cached pages served on the event loop (``web.deps.read_with``): a hop to the
        thread pool cost more than the rest of a cached page, but the full path may ask
        Directus, check the user's folder or open a database, and none of that may stall
        the loop every tenant shares. So this takes only what is remembered: a token
        verified before and not expired, a revocation answer still fresh, folder checks
        already made, a handle already open, no restore running, no sweep due. Anything
        else answers None and the caller takes the full path, which also gives the errors.
        The erasure tombstone is still looked for (one ``stat``), as on every request.
        """
        if time.monotonic() >= self._next_sweep:
            return None
        try:
            token = session_token(cookie_header(request.headers), self.settings.session_cookie_name)
        except SessionError:
            return None
        session = self.verifier.remembered(token)
        if session is None:
            return None
        if self.revocation is not None and not self.revocation.confirmed(session):
            return None
        user_id = session.user_id
        with self._tenants_lock:
            if user_id not in self._tenants:
                return None
        try:
            if is_tombstoned(self.layout.root, user_id):
                return None
        except OSError:
            return None
        with self._gate:
            if user_id in self._replacing:
                return None
            self._in_flight[user_id] += 1
        db = self.registry.acquire_open(user_id)
        if db is None:
            self._leave(user_id)
            return None
        request.state.user_id = user_id
        return _ReadyLease(self, user_id, db)

    def _leave(self, user_id: str) -> None:
        with self._gate:
            self._in_flight[user_id] -= 1
            if self._in_flight[user_id] <= 0:
                del self._in_flight[user_id]
            self._gate.notify_all()

    def tenant(self, user_id: str) -> Tenant:
        """The user's folder and key, or ``TenantUnavailable``.

        The folder checks (canonical id, containment in the data root, no link on the way:
        ~14 ``lstat`` and a ``realpath``) ran on every request and cost more than serving a
        cached page. They are remembered per user for as long as this process has not
        closed the user's data: ``close_user`` (account deletion, restore, a tombstone
        seen by another process's erasure) forgets them, so the next request checks the
        folder again before anything in it is opened.
        """
        with self._tenants_lock:
            tenant = self._tenants.get(user_id)
            if tenant is not None:
                self._tenants.move_to_end(user_id)
                return tenant
        try:
            tenant = self.layout.tenant(user_id)
        except IdentityError as exc:
            log.error("refusing user %s: %s", user_id, exc)
            raise TenantUnavailable("this account's data is unavailable") from None
        with self._tenants_lock:
            self._tenants[tenant.user_id] = tenant
            while len(self._tenants) > self._tenants_max:
                self._tenants.popitem(last=False)
        return tenant

    def _forget_tenant(self, user_id: str) -> None:
        with self._tenants_lock:
            self._tenants.pop(user_id, None)

    @contextlib.contextmanager
    def borrow_user(self, user_id: str) -> Iterator[UserDB]:
        with self._gate:
            if user_id in self._replacing:
                raise RestoreInProgressError("your data is being restored; try again in a moment")
            self._in_flight[user_id] += 1
        try:
            with self.lease(user_id) as db:
                yield db
        finally:
            self._leave(user_id)

    def replace_user_database(
        self, user_id: str, action: Callable[[], None], *, drain_timeout_s: float = 30.0
    ) -> None:
        """Run ``action`` (a file swap) with the user's requests drained and handle closed."""
        with self._gate:
            if user_id in self._replacing:
                raise RestoreInProgressError("a restore is already running; try again later")
            self._replacing.add(user_id)
            drained = self._gate.wait_for(
                lambda: self._in_flight[user_id] == 0, timeout=drain_timeout_s
            )
            if not drained:
                self._replacing.discard(user_id)
                self._gate.notify_all()
                raise RestoreInProgressError("your data is busy; try the restore again")
        try:
            self.close_user(user_id)
            action()
        finally:
            with self._gate:
                self._replacing.discard(user_id)
                self._gate.notify_all()

    def resolve(self, request: Any) -> UserDB:
        user_id = self.authenticate(request.headers)
        db = self.open_user(user_id)
        request.state.user_id = user_id
        return db

    def release(self, request: Any, db: UserDB) -> None:
        user_id = getattr(request.state, "user_id", None)
        if user_id is not None:
            self.registry.release(user_id, db)

    def open_user(self, user_id: str) -> UserDB:
        """Lease the user's handle (provisioning on first use); pair with ``release``."""
        now = time.monotonic()
        if now >= self._next_sweep:
            self._next_sweep = now + _SWEEP_EVERY_SECONDS
            self.registry.sweep()
        tenant = self.tenant(user_id)
        if is_tombstoned(self.layout.root, tenant.user_id):
            # Erased by `peregrine admin delete-user` in another process: this process may
            # still cache a handle on the unlinked file, which must not be served.
            self.close_user(tenant.user_id)
            raise AccountDeleted("this account was deleted")
        db = self.registry.acquire(tenant.user_id, lambda: self._open(tenant))
        self._owners[str(db.path)] = tenant.user_id
        return db

    def owner_of(self, db: UserDB) -> str | None:
        """The user whose database ``db`` is (the task queue opens it again by user)."""
        return self._owners.get(str(db.path))

    def _refuse_erased(self, user_id: object) -> None:
        if not isinstance(user_id, str):
            return  # not an id at all; identity validation refuses it later
        try:
            erased = is_tombstoned(self.layout.root, user_id)
        except OSError:
            return  # a vanished data root is reported by ready() and the open itself
        if erased:
            self._forget_tenant(user_id)
            raise AccountDeleted("this account was deleted")

    def _open(self, tenant: Tenant) -> UserDB:
        # Checked before provisioning (never re-create an erased folder) and again after
        # opening, for an erasure that started while this request was opening.
        self._refuse_erased(tenant.user_id)
        db = self._open_existing(tenant)
        if is_tombstoned(self.layout.root, tenant.user_id):
            db.close()
            raise AccountDeleted("this account was deleted")
        return db

    def _open_existing(self, tenant: Tenant) -> UserDB:
        try:
            provisioning.provision(tenant)
            # A process killed mid-restore or mid-export may have left staged files or a
            # decrypted scratch copy behind; clear them before the user's data is served.
            if tenant.user_id not in self._swept:
                # Once per process, at the user's first open: leftovers can only come from
                # a process that died. Later reopens (the handle cache evicts busy users
                # too) would find this process's own work in flight: the sweep takes
                # folders with our own pid for a dead process's, and deleted a running
                # export's snapshot; the recovery would delete a running restore's staged
                # file. Doing it once also takes a folder scan off every cold open.
                recover_after_crash(tenant.db_path)
                sweep_workdirs(tenant.folder / WORKDIR_NAME)
                self._swept.add(tenant.user_id)
            try:
                return UserDB.open(tenant.db_path, key=tenant.key, create=False)
            except NotADatabaseError:
                if not self._rekey_from_previous(tenant):
                    raise
                return UserDB.open(tenant.db_path, key=tenant.key, create=False)
        except NotADatabaseError:
            log.error(
                "user %s: %s does not open with the key derived from CF_SERVER_SECRET; "
                "the file was left untouched (wrong secret, unfinished rotation, or damage)",
                tenant.user_id,
                tenant.db_path,
            )
            raise TenantUnavailable("this account's data is unavailable") from None
        except provisioning.TenantDataMissingError:
            self._refuse_erased(tenant.user_id)
            raise TenantUnavailable("this account's data is unavailable") from None
        except (StorageError, MigrationError, OSError) as exc:
            # The folder vanishing under us is an erasure in progress, not a fault.
            self._refuse_erased(tenant.user_id)
            log.error("user %s: cannot open the database: %s", tenant.user_id, exc)
            raise TenantUnavailable("this account's data is unavailable") from None

    def _rekey_from_previous(self, tenant: Tenant) -> bool:
        if self._previous_secret is None:
            return False
        try:
            rekey(
                tenant.db_path,
                old_key=derive_key(self._previous_secret, tenant.user_id),
                new_key=tenant.key,
            )
        except NotADatabaseError:
            return False
        log.info("key rotation: re-keyed the database of user %s", tenant.user_id)
        return True

    @contextlib.contextmanager
    def lease(self, user_id: str) -> Iterator[UserDB]:
        """A user's database for work outside a request (background tasks): the handle is
        not closed by eviction until the block ends."""
        db = self.open_user(user_id)
        try:
            yield db
        finally:
            self.registry.release(user_id, db)

    def close_user(self, user_id: str) -> None:
        """Close the user's open handle (before deleting or replacing their data) and
        forget their folder checks, so the next request makes them again."""
        self._forget_tenant(user_id)
        self.registry.close_user(user_id)


class _ReadyLease:
    """``borrow_ready``'s lease: a class, not a generator, on a path measured in µs."""

    __slots__ = ("_db", "_tenancy", "_user_id")

    def __init__(self, tenancy: CloudTenancy, user_id: str, db: UserDB) -> None:
        self._tenancy, self._user_id, self._db = tenancy, user_id, db

    def __enter__(self) -> UserDB:
        return self._db

    def __exit__(self, *exc: object) -> None:
        self._tenancy.registry.release(self._user_id, self._db)
        self._tenancy._leave(self._user_id)


class CloudUserStore:
    """One signed-in user's storage, as tenancy/store.py describes."""

    def __init__(self, tenancy: CloudTenancy, tenant: Tenant) -> None:
        self._tenancy = tenancy
        self._tenant = tenant
        self.workdir_root: Path = tenant.folder / WORKDIR_NAME

    def borrow(self) -> contextlib.AbstractContextManager[UserDB]:
        return self._tenancy.borrow_user(self._tenant.user_id)

    def location(self) -> tuple[Path, bytes | None]:
        return self._tenant.db_path, self._tenant.key

    def replace_database(self, staged: Path) -> None:
        path, key = self.location()
        self._tenancy.replace_user_database(
            self._tenant.user_id, lambda: swap_in(staged, path, key=key)
        )

    def rollback_database(self) -> None:
        path, key = self.location()
        self._tenancy.replace_user_database(
            self._tenant.user_id, lambda: rollback_files(path, key=key)
        )


__all__ = [
    "AccountDeleted",
    "AuthenticationRequired",
    "CloudTenancy",
    "KeyCheckError",
    "TenantUnavailable",
]
