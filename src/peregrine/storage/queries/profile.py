"""The user's own settings: profile, résumé versions, search profiles, blocklist, keywords."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

_PROFILE_JSON = ("links", "mission_causes", "nda_companies")


@dataclass(slots=True)
class Profile:
    full_name: str = ""
    email: str = ""
    phone: str = ""
    location: str = ""
    links: list[str] = field(default_factory=list)
    summary: str = ""
    voice: str = ""
    mission_causes: list[str] = field(default_factory=list)
    nda_companies: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def get_profile(conn: Any) -> Profile:
    row = conn.execute("SELECT * FROM profile WHERE id = 1").fetchone()
    if row is None:
        return Profile()
    data = {k: row[k] for k in Profile.__slots__}
    for key in _PROFILE_JSON:
        data[key] = json.loads(data[key] or "[]")
    return Profile(**data)


def save_profile(conn: Any, *, profile: Profile, now: str) -> None:
    data = profile.to_dict()
    for key in _PROFILE_JSON:
        data[key] = json.dumps(data[key])
    columns = ", ".join(data)
    marks = ", ".join(f":{k}" for k in data)
    updates = ", ".join(f"{k} = excluded.{k}" for k in data)
    conn.execute(
        f"INSERT INTO profile (id, {columns}, updated_at) VALUES (1, {marks}, :now) "
        f"ON CONFLICT (id) DO UPDATE SET {updates}, updated_at = excluded.updated_at",
        {**data, "now": now},
    )


@dataclass(frozen=True, slots=True)
class Resume:
    version: int
    structured: dict[str, Any]
    raw_text: str
    filename: str
    created_at: str


def current_resume(conn: Any) -> Resume | None:
    row = conn.execute(
        "SELECT version, structured, raw_text, filename, created_at FROM resumes "
        "ORDER BY version DESC LIMIT 1"
    ).fetchone()
    if row is None:
        return None
    return Resume(row[0], json.loads(row[1]), row[2], row[3], row[4])


def add_resume(
    conn: Any, *, structured: dict[str, Any], raw_text: str, filename: str, now: str
) -> int:
    """Store a new résumé version (older versions stay: applications point at them)."""
    version = conn.execute("SELECT coalesce(max(version), 0) + 1 FROM resumes").fetchone()[0]
    conn.execute(
        "INSERT INTO resumes (version, structured, raw_text, filename, created_at) "
        "VALUES (?, ?, ?, ?, ?)",
        (version, json.dumps(structured), raw_text, filename, now),
    )
    return int(version)


_SP_JSON = ("titles", "locations", "sources", "exclude_keywords", "mission_tags", "watch_companies")


@dataclass(slots=True)
class SearchProfile:
    name: str
    titles: list[str] = field(default_factory=list)
    locations: list[str] = field(default_factory=list)
    remote_preference: str = "any"
    sources: list[str] = field(default_factory=list)
    exclude_keywords: list[str] = field(default_factory=list)
    results_per_source: int = 50
    max_age_days: int = 14
    mission_tags: list[str] = field(default_factory=list)
    watch_companies: list[str] = field(default_factory=list)
    salary_floor: float | None = None
    enabled: bool = True
    id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _search_profile(row: Any) -> SearchProfile:
    data = {k: row[k] for k in SearchProfile.__slots__}
    for key in _SP_JSON:
        data[key] = json.loads(data[key] or "[]")
    data["enabled"] = bool(data["enabled"])
    return SearchProfile(**data)


def list_search_profiles(conn: Any) -> list[SearchProfile]:
    return [_search_profile(r) for r in conn.execute("SELECT * FROM search_profiles ORDER BY name")]


def get_search_profile(conn: Any, *, name: str) -> SearchProfile | None:
    row = conn.execute("SELECT * FROM search_profiles WHERE name = ?", (name,)).fetchone()
    return _search_profile(row) if row else None


def save_search_profile(conn: Any, *, profile: SearchProfile, now: str) -> int:
    """Insert or update by name; returns the id."""
    data = profile.to_dict()
    data.pop("id")
    for key in _SP_JSON:
        data[key] = json.dumps(data[key])
    data["enabled"] = 1 if data["enabled"] else 0
    columns = ", ".join(data)
    marks = ", ".join(f":{k}" for k in data)
    updates = ", ".join(f"{k} = excluded.{k}" for k in data if k != "name")
    row = conn.execute(
        f"INSERT INTO search_profiles ({columns}, created_at, updated_at) "
        f"VALUES ({marks}, :now, :now) ON CONFLICT (name) DO UPDATE SET {updates}, "
        "updated_at = excluded.updated_at RETURNING id",
        {**data, "now": now},
    ).fetchone()
    return int(row[0])


def delete_search_profile(conn: Any, *, name: str) -> bool:
    cur = conn.execute("DELETE FROM search_profiles WHERE name = ?", (name,))
    return bool(cur.rowcount)


def replace_search_profiles(conn: Any, *, profiles: list[SearchProfile], now: str) -> None:
    conn.execute("DELETE FROM search_profiles")
    for profile in profiles:
        save_search_profile(conn, profile=profile, now=now)


def list_blocklist(conn: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {"company": [], "industry": [], "location": []}
    for row in conn.execute("SELECT kind, value FROM blocklist ORDER BY kind, value"):
        out[row[0]].append(row[1])
    return out


def replace_blocklist(conn: Any, *, entries: dict[str, list[str]]) -> None:
    conn.execute("DELETE FROM blocklist")
    conn.executemany(
        "INSERT OR IGNORE INTO blocklist (kind, value) VALUES (?, ?)",
        [(kind, v.strip()) for kind, values in entries.items() for v in values if v.strip()],
    )


def list_keywords(conn: Any) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {"skill": [], "preferred": [], "exclude": []}
    for row in conn.execute("SELECT kind, term FROM keywords ORDER BY kind, term"):
        out[row[0]].append(row[1])
    return out


def replace_keywords(conn: Any, *, entries: dict[str, list[str]]) -> None:
    conn.execute("DELETE FROM keywords")
    conn.executemany(
        "INSERT OR IGNORE INTO keywords (kind, term) VALUES (?, ?)",
        [(kind, t.strip()) for kind, terms in entries.items() for t in terms if t.strip()],
    )


def list_past_letters(conn: Any) -> list[dict[str, Any]]:
    return [
        dict(r)
        for r in conn.execute("SELECT id, title, body, created_at FROM past_letters ORDER BY id")
    ]


def add_past_letter(conn: Any, *, title: str, body: str, now: str) -> int:
    cur = conn.execute(
        "INSERT INTO past_letters (title, body, created_at) VALUES (?, ?, ?)", (title, body, now)
    )
    return int(cur.lastrowid)


def delete_past_letter(conn: Any, *, letter_id: int) -> bool:
    return bool(conn.execute("DELETE FROM past_letters WHERE id = ?", (letter_id,)).rowcount)
