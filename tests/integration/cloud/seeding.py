"""Put a unique canary string in every text column of every table of a user's database.

Generic on purpose: tables added by later migrations are seeded too. A table this cannot
fill makes the isolation test fail with the table's name, so it gets looked at.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

from peregrine.storage.userdb import UserDB

_ENUM = re.compile(r"CHECK\s*\(\s*(\w+)\s+IN\s*\(([^)]*)\)\s*\)", re.IGNORECASE)
_EQUALS = re.compile(r"CHECK\s*\(\s*(\w+)\s*=\s*(\d+)\s*\)", re.IGNORECASE)
_TIME_NAMES = ("_at", "_on", "date_")


def canary(owner: str, table: str, column: str) -> str:
    return f"CANARY-{owner}-{table}-{column}"


def _tables(conn: Any) -> list[str]:
    rows = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' "
        "ORDER BY name"
    ).fetchall()
    names = [r[0] for r in rows]
    # Parents before children, so foreign keys can point at seeded rows.
    ordered: list[str] = []

    def visit(name: str, seen: tuple[str, ...] = ()) -> None:
        if name in ordered or name in seen:
            return
        for fk in conn.execute(f'PRAGMA foreign_key_list("{name}")').fetchall():
            if fk[2] != name:
                visit(fk[2], (*seen, name))
        ordered.append(name)

    for name in names:
        visit(name)
    return ordered


def _text_value(owner: str, table: str, column: str, default: str | None) -> str:
    mark = canary(owner, table, column)
    if default == "'[]'":
        return json.dumps([mark])
    if default == "'{}'" or column in {"result", "params"}:
        return json.dumps({"canary": mark})
    if column == "at" or column.endswith(_TIME_NAMES) or column.startswith("date_"):
        return "2026-11-20" if column.endswith("_on") else "2026-11-20T10:00:00+00:00"
    if column.endswith("_tz"):
        return "UTC"
    if column == "url":
        return f"https://{owner}.example/{mark}"
    return mark


def seed(db: UserDB, owner: str, base: int) -> dict[str, int]:
    """Seed one row per table; return {table: primary key id}. Ids start at ``base``."""
    ids: dict[str, int] = {}
    with db.write() as conn:
        for offset, table in enumerate(_tables(conn), start=1):
            sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = ?", (table,)).fetchone()[
                0
            ]
            enums = {
                m[0]: [v.strip().strip("'") for v in m[1].split(",")] for m in _ENUM.findall(sql)
            }
            fixed = {m[0]: int(m[1]) for m in _EQUALS.findall(sql)}
            fks = {fk[3]: fk[2] for fk in conn.execute(f'PRAGMA foreign_key_list("{table}")')}
            row: dict[str, Any] = {}
            pk_column = None
            for _, column, declared_type, _notnull, default, pk in conn.execute(
                f'PRAGMA table_info("{table}")'
            ).fetchall():
                col_type = (declared_type or "").upper()
                if column in fixed:
                    row[column] = fixed[column]
                elif column in fks:
                    row[column] = ids.get(fks[column])
                elif pk and "INT" in col_type:
                    row[column] = base + offset
                elif column in enums:
                    first = enums[column][0]
                    row[column] = int(first) if first.isdigit() else first
                elif "INT" in col_type:
                    row[column] = 1
                elif "REAL" in col_type:
                    row[column] = 1.0
                else:
                    row[column] = _text_value(owner, table, column, default)
                if pk:
                    pk_column = column
            columns = ", ".join(f'"{c}"' for c in row)
            marks = ", ".join("?" for _ in row)
            try:
                conn.execute(
                    f'INSERT INTO "{table}" ({columns}) VALUES ({marks})', list(row.values())
                )
            except Exception as exc:
                raise AssertionError(f"cannot seed table {table!r}: {exc}") from exc
            if pk_column is not None and isinstance(row[pk_column], int):
                ids[table] = row[pk_column]
    return ids


def canaries_of(db: UserDB, owner: str) -> set[str]:
    """Every canary string present in the database (read back, not assumed)."""
    found: set[str] = set()
    pattern = re.compile(rf"CANARY-{re.escape(owner)}-[a-z_]+-[a-z_]+")
    with db.read() as conn:
        for table in _tables(conn):
            for row in conn.execute(f'SELECT * FROM "{table}"').fetchall():
                for value in row:
                    if isinstance(value, str):
                        found.update(pattern.findall(value))
    return found


def fingerprint(db: UserDB) -> str:
    """A hash of every row of every table, to prove a database was not changed."""
    digest = hashlib.sha256()
    with db.read() as conn:
        for table in _tables(conn):
            for row in conn.execute(f'SELECT * FROM "{table}" ORDER BY rowid').fetchall():
                digest.update(repr((table, tuple(row))).encode())
    return digest.hexdigest()
