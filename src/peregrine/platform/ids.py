"""User ids as the platform stores them: canonical lowercase UUIDs."""

from __future__ import annotations

import re
import uuid

_CANONICAL = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


class InvalidUserId(ValueError):
    """The text is not a canonical user id."""


def parse_user_id(value: str) -> uuid.UUID:
    """Accept only the canonical lowercase form, so one user never has two spellings."""
    if not isinstance(value, str) or not _CANONICAL.fullmatch(value):
        raise InvalidUserId(
            f"{value!r} is not a user id (expected a lowercase UUID such as "
            "'0f8fad5b-d9cb-469f-a165-70867728950e')"
        )
    return uuid.UUID(value)


def is_user_id(value: object) -> bool:
    """The cheap check for hot paths (no UUID object is built)."""
    return isinstance(value, str) and _CANONICAL.fullmatch(value) is not None
