"""User id → the user's folder and database key.

The user id comes out of a verified token, but it is still treated as hostile input: it
becomes a path component, so it must be exactly a canonical lowercase UUID, and the
resulting folder must resolve inside the data root with no symlink on the way.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path

# fullmatch (not match or ``$``) so a trailing newline cannot slip through.
_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")

DB_NAME = "staging.db"
PROVISIONED_MARKER = ".provisioned"
SUBFOLDERS = ("config", "data")


class IdentityError(Exception):
    """The user id cannot name a tenant (not a canonical UUID, or escapes the data root)."""


def canonical_user_id(value: object) -> str:
    """Return ``value`` if it is a canonical lowercase UUID string, else raise."""
    if not isinstance(value, str) or _UUID.fullmatch(value) is None:
        raise IdentityError("the session does not name a valid user")
    return value


def derive_key(secret: bytes, user_id: str) -> bytes:
    """The user's 32-byte SQLCipher key: HMAC-SHA256(server secret, user id)."""
    return hmac.new(secret, user_id.encode("ascii"), hashlib.sha256).digest()


@dataclass(frozen=True)
class Tenant:
    """Where one user's data lives and the key that opens it."""

    user_id: str
    folder: Path
    key: bytes = field(repr=False)

    @property
    def db_path(self) -> Path:
        return self.folder / DB_NAME

    @property
    def marker(self) -> Path:
        return self.folder / PROVISIONED_MARKER


class TenantLayout:
    """``<data root>/<user id>/<app slug>/`` with ``config/``, ``data/`` and ``staging.db``."""

    def __init__(self, data_root: Path, app_slug: str, secret: bytes) -> None:
        self.data_root = data_root
        self.app_slug = app_slug
        self._secret = secret
        self._resolved_root: Path | None = None

    @property
    def root(self) -> Path:
        """The data root, fully resolved (it must exist)."""
        if self._resolved_root is None:
            self._resolved_root = self.data_root.resolve(strict=True)
        return self._resolved_root

    def tenant(self, user_id: object) -> Tenant:
        uid = canonical_user_id(user_id)
        folder = self.root / uid / self.app_slug
        self._check_contained(folder)
        return Tenant(user_id=uid, folder=folder, key=derive_key(self._secret, uid))

    def _check_contained(self, folder: Path) -> None:
        # The id is already a bare UUID, so this is defence in depth: a symlink planted
        # in the data root (or a user folder replaced by one) must not redirect a tenant.
        root = self.root
        if not os.path.realpath(folder).startswith(str(root) + os.sep):
            raise IdentityError("the user's folder is outside the data root")
        current = root
        for part in folder.relative_to(root).parts:
            current = current / part
            try:
                mode = os.lstat(current).st_mode
            except FileNotFoundError:
                return
            if stat.S_ISLNK(mode) or not stat.S_ISDIR(mode):
                raise IdentityError(f"the user's folder contains a non-folder entry: {part}")
