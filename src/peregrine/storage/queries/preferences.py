"""Free-form preferences stored as JSON values under a key."""

from __future__ import annotations

import json
from typing import Any


def get_preference(conn: Any, *, key: str, default: Any = None) -> Any:
    row = conn.execute("SELECT value FROM preferences WHERE key = ?", (key,)).fetchone()
    return json.loads(row[0]) if row else default


def set_preference(conn: Any, *, key: str, value: Any) -> None:
    conn.execute(
        "INSERT INTO preferences (key, value) VALUES (?, ?) "
        "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        (key, json.dumps(value)),
    )


def all_preferences(conn: Any) -> dict[str, Any]:
    return {r[0]: json.loads(r[1]) for r in conn.execute("SELECT key, value FROM preferences")}


def replace_preferences(conn: Any, *, values: dict[str, Any]) -> None:
    conn.execute("DELETE FROM preferences")
    for key, value in values.items():
        set_preference(conn, key=key, value=value)
