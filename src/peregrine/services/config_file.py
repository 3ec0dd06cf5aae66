"""YAML export and import of the user's settings, for people who like editing files.

The database stays the source of truth. Import validates the whole file first (unknown keys,
wrong types, bad values, each reported with its path) and then replaces the sections the file
contains in one transaction; sections it leaves out are untouched.
"""

from __future__ import annotations

import difflib
from dataclasses import fields
from typing import Any

import yaml

from peregrine.lib.clock import now_iso
from peregrine.storage.queries import preferences as pref_q
from peregrine.storage.queries import profile as profile_q
from peregrine.storage.userdb import UserDB

FORMAT_VERSION = 1
MAX_CONFIG_BYTES = 2 * 1024 * 1024
SECTIONS = ("version", "profile", "keywords", "blocklist", "search_profiles", "preferences")
REMOTE_PREFERENCES = ("any", "remote", "hybrid", "onsite")


class ConfigFileError(ValueError):
    """The file cannot be imported; ``problems`` lists every issue with its path."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def export_config(db: UserDB) -> str:
    with db.read() as conn:
        profile = profile_q.get_profile(conn).to_dict()
        search_profiles = []
        for sp in profile_q.list_search_profiles(conn):
            data = sp.to_dict()
            data.pop("id")
            search_profiles.append(data)
        document = {
            "version": FORMAT_VERSION,
            "profile": profile,
            "keywords": profile_q.list_keywords(conn),
            "blocklist": profile_q.list_blocklist(conn),
            "search_profiles": search_profiles,
            "preferences": pref_q.all_preferences(conn),
        }
    header = (
        "# Peregrine settings. Edit and load back with `peregrine config import FILE`.\n"
        "# Sections left out of a file are not changed on import.\n"
    )
    return header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)


def parse_config(text: str) -> dict[str, Any]:
    """Parse and validate a settings file; raise ``ConfigFileError`` listing every problem."""
    if len(text.encode()) > MAX_CONFIG_BYTES:
        raise ConfigFileError([f"the file is larger than {MAX_CONFIG_BYTES // 1024} KB"])
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        problem = getattr(exc, "problem", None) or "not valid YAML"
        raise ConfigFileError([f"{where}{problem}"]) from None
    if document is None:
        raise ConfigFileError(["the file is empty"])
    problems: list[str] = []
    if not isinstance(document, dict):
        raise ConfigFileError(["the file must be a mapping of sections (profile:, keywords: …)"])
    _unknown_keys(document, SECTIONS, "", problems)
    version = document.get("version", FORMAT_VERSION)
    if version != FORMAT_VERSION:
        problems.append(f"version: this Peregrine reads version {FORMAT_VERSION}, not {version!r}")
    if "profile" in document:
        _check_profile(document["profile"], problems)
    for section, kinds in (
        ("keywords", ("skill", "preferred", "exclude")),
        ("blocklist", ("company", "industry", "location")),
    ):
        if section in document:
            _check_lists(document[section], section, kinds, problems)
    if "search_profiles" in document:
        _check_search_profiles(document["search_profiles"], problems)
    if "preferences" in document and not isinstance(document["preferences"], dict):
        problems.append("preferences: must be a mapping")
    if problems:
        raise ConfigFileError(problems)
    return document


def import_config(db: UserDB, text: str) -> list[str]:
    """Validate then apply; returns the names of the sections replaced."""
    document = parse_config(text)
    now = now_iso()
    applied: list[str] = []
    with db.write() as conn:
        if "profile" in document:
            current = profile_q.get_profile(conn).to_dict()
            current.update(document["profile"] or {})
            profile_q.save_profile(conn, profile=profile_q.Profile(**current), now=now)
            applied.append("profile")
        if "keywords" in document:
            profile_q.replace_keywords(conn, entries=document["keywords"] or {})
            applied.append("keywords")
        if "blocklist" in document:
            profile_q.replace_blocklist(conn, entries=document["blocklist"] or {})
            applied.append("blocklist")
        if "search_profiles" in document:
            profiles = [profile_q.SearchProfile(**sp) for sp in document["search_profiles"] or []]
            profile_q.replace_search_profiles(conn, profiles=profiles, now=now)
            applied.append("search_profiles")
        if "preferences" in document:
            pref_q.replace_preferences(conn, values=document["preferences"] or {})
            applied.append("preferences")
    return applied


def _unknown_keys(data: dict[str, Any], known: tuple[str, ...], path: str, out: list[str]) -> None:
    for key in data:
        if key not in known:
            guess = difflib.get_close_matches(str(key), known, n=1)
            hint = f" (did you mean {guess[0]!r}?)" if guess else f" (known: {', '.join(known)})"
            out.append(f"{path}{key}: unknown key{hint}")


def _is_str_list(value: Any) -> bool:
    return isinstance(value, list) and all(isinstance(v, str) for v in value)


def _check_profile(value: Any, out: list[str]) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        out.append("profile: must be a mapping")
        return
    known = tuple(f.name for f in fields(profile_q.Profile))
    _unknown_keys(value, known, "profile.", out)
    for key, item in value.items():
        if key not in known:
            continue
        if key in ("links", "mission_causes", "nda_companies"):
            if not _is_str_list(item):
                out.append(f"profile.{key}: must be a list of text")
        elif not isinstance(item, str):
            out.append(f"profile.{key}: must be text")


def _check_lists(value: Any, section: str, kinds: tuple[str, ...], out: list[str]) -> None:
    if value is None:
        return
    if not isinstance(value, dict):
        out.append(f"{section}: must be a mapping of {', '.join(kinds)}")
        return
    _unknown_keys(value, kinds, f"{section}.", out)
    for key, item in value.items():
        if key in kinds and item is not None and not _is_str_list(item):
            out.append(f"{section}.{key}: must be a list of text")


_SP_INT_RANGES = {"results_per_source": (1, 1000), "max_age_days": (1, 365)}


def _check_search_profiles(value: Any, out: list[str]) -> None:
    if value is None:
        return
    if not isinstance(value, list):
        out.append("search_profiles: must be a list")
        return
    known = tuple(f.name for f in fields(profile_q.SearchProfile) if f.name != "id")
    names: set[str] = set()
    for index, item in enumerate(value):
        path = f"search_profiles[{index}]"
        if not isinstance(item, dict):
            out.append(f"{path}: must be a mapping")
            continue
        _unknown_keys(item, known, f"{path}.", out)
        name = item.get("name")
        if not isinstance(name, str) or not name.strip() or len(name) > 100:
            out.append(f"{path}.name: required, 1 to 100 characters")
        elif name.lower() in names:
            out.append(f"{path}.name: {name!r} appears twice")
        else:
            names.add(name.lower())
        for key in (
            "titles",
            "locations",
            "sources",
            "exclude_keywords",
            "mission_tags",
            "watch_companies",
        ):
            if key in item and not _is_str_list(item[key]):
                out.append(f"{path}.{key}: must be a list of text")
        if "remote_preference" in item and item["remote_preference"] not in REMOTE_PREFERENCES:
            out.append(f"{path}.remote_preference: must be one of {', '.join(REMOTE_PREFERENCES)}")
        for key, (low, high) in _SP_INT_RANGES.items():
            if key in item and (
                not isinstance(item[key], int)
                or isinstance(item[key], bool)
                or not low <= item[key] <= high
            ):
                out.append(f"{path}.{key}: must be a whole number from {low} to {high}")
        floor = item.get("salary_floor")
        if floor is not None and (
            isinstance(floor, bool) or not isinstance(floor, int | float) or floor < 0
        ):
            out.append(f"{path}.salary_floor: must be a positive number or left out")
        if "enabled" in item and not isinstance(item["enabled"], bool):
            out.append(f"{path}.enabled: must be true or false")
