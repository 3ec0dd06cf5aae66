"""Reading and showing the Settings forms: form fields ↔ stored settings objects."""

from __future__ import annotations

from typing import Any

from peregrine.services.resume_parser import Experience, StructuredResume
from peregrine.storage.queries import profile as profile_q
from peregrine.web.forms import FormReader

REMOTE_CHOICES = ("any", "remote", "hybrid", "onsite")
LLM_KINDS = ("ollama", "openai_compatible", "anthropic")
MAX_BACKENDS = 8


def _lines(items: list[str]) -> str:
    return "\n".join(items)


def _check_email(form: FormReader, name: str, value: str) -> None:
    if value and ("@" not in value or " " in value or "." not in value.rsplit("@", maxsplit=1)[-1]):
        form.errors[name] = "E-mail must look like name@example.org."


def profile_values(profile: profile_q.Profile) -> dict[str, Any]:
    data = profile.to_dict()
    for key in ("links", "mission_causes", "nda_companies"):
        data[key] = _lines(data[key])
    return data


def read_profile(form: FormReader) -> profile_q.Profile | None:
    profile = profile_q.Profile(
        full_name=form.text("full_name", label="Name", max_len=200),
        email=form.text("email", label="E-mail", max_len=254),
        phone=form.text("phone", label="Phone", max_len=50),
        location=form.text("location", label="Location", max_len=200),
        links=[],
        summary=form.text("summary", label="Summary", max_len=5000),
        voice=form.text("voice", label="Voice", max_len=2000),
        mission_causes=form.lines("mission_causes", label="Causes", max_items=50),
        nda_companies=form.lines("nda_companies", label="NDA companies", max_items=100),
    )
    _check_email(form, "email", profile.email)
    raw_links = form.raw("links")
    form.values["links"] = raw_links
    links = [line.strip() for line in raw_links.splitlines() if line.strip()]
    bad = [link for link in links if not link.startswith(("https://", "http://"))]
    if bad:
        form.errors["links"] = f"Links must start with https:// (not: {bad[0][:80]})."
    elif len(links) > 20 or any(len(link) > 500 for link in links):
        form.errors["links"] = "At most 20 links of up to 500 characters."
    profile.links = links
    return profile if form.ok else None


def read_resume(form: FormReader, *, max_experiences: int) -> StructuredResume:
    resume = StructuredResume(
        name=form.text("name", label="Name", max_len=200),
        email=form.text("email", label="E-mail", max_len=254),
        phone=form.text("phone", label="Phone", max_len=50),
        location=form.text("location", label="Location", max_len=200),
        summary=form.text("summary", label="Summary", max_len=5000),
        skills=form.lines("skills", label="Skills", max_items=200, max_len=100),
        education=[line.strip() for line in form.raw("education").splitlines() if line.strip()][
            :50
        ],
    )
    form.values["education"] = form.raw("education")
    _check_email(form, "email", resume.email)
    for index in range(max_experiences + 1):
        prefix = f"exp-{index}-"
        if f"{prefix}title" not in form.form:
            continue
        experience = Experience(
            employer=form.text(f"{prefix}employer", label="Employer", max_len=200),
            title=form.text(f"{prefix}title", label="Job title", max_len=200),
            start=form.text(f"{prefix}start", label="Start", max_len=40),
            end=form.text(f"{prefix}end", label="End", max_len=40),
            bullets=[
                line.strip(" •-*\t")
                for line in form.raw(f"{prefix}bullets").splitlines()
                if line.strip(" •-*\t")
            ][:40],
        )
        if any(len(b) > 1000 for b in experience.bullets):
            form.errors[f"{prefix}bullets"] = "Each bullet must be at most 1000 characters."
        if experience.employer or experience.title or experience.bullets:
            if not experience.title:
                form.errors[f"{prefix}title"] = (
                    f"Experience {index + 1}: the job title is required (or clear the entry)."
                )
            resume.experiences.append(experience)
    return resume


def search_values(profile: profile_q.SearchProfile | None) -> dict[str, Any]:
    if profile is None:
        profile = profile_q.SearchProfile(name="")
    data = profile.to_dict()
    for key in ("titles", "locations", "sources", "exclude_keywords", "watch_companies"):
        data[key] = _lines(data[key])
    data["salary_floor"] = "" if profile.salary_floor is None else f"{profile.salary_floor:g}"
    return data


def read_search_profile(form: FormReader) -> profile_q.SearchProfile | None:
    profile = profile_q.SearchProfile(
        name=form.text("name", label="Name", max_len=100, required=True),
        titles=form.lines("titles", label="Job titles", max_items=50),
        locations=form.lines("locations", label="Locations", max_items=50),
        remote_preference=form.choice(
            "remote_preference", label="Remote", choices=REMOTE_CHOICES, default="any"
        ),
        sources=form.lines("sources", label="Sources", max_items=30, max_len=50),
        exclude_keywords=form.lines("exclude_keywords", label="Exclude", max_items=200),
        results_per_source=form.integer(
            "results_per_source", label="Results per source", low=1, high=1000, default=50
        ),
        max_age_days=form.integer("max_age_days", label="Maximum age", low=1, high=365, default=14),
        watch_companies=form.lines("watch_companies", label="Companies to watch", max_items=200),
        salary_floor=form.number("salary_floor", label="Salary floor", low=0, high=10_000_000),
        enabled=form.boolean("enabled"),
    )
    if "name" not in form.errors and not profile.titles:
        form.errors["titles"] = "Add at least one job title to search for."
    return profile if form.ok else None


KEYWORD_FIELDS = {
    "skill": "kw_skill",
    "preferred": "kw_preferred",
    "exclude": "kw_exclude",
}
BLOCK_FIELDS = {
    "company": "block_company",
    "industry": "block_industry",
    "location": "block_location",
}


def keyword_values(
    keywords: dict[str, list[str]], blocklist: dict[str, list[str]]
) -> dict[str, str]:
    values = {field: _lines(keywords.get(kind, [])) for kind, field in KEYWORD_FIELDS.items()}
    values.update({field: _lines(blocklist.get(kind, [])) for kind, field in BLOCK_FIELDS.items()})
    return values


def read_keywords(form: FormReader) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    keywords = {
        kind: form.lines(field, label=kind.capitalize(), max_items=500, max_len=100)
        for kind, field in KEYWORD_FIELDS.items()
    }
    blocklist = {
        kind: form.lines(field, label=f"Blocked {kind}", max_items=1000, max_len=200)
        for kind, field in BLOCK_FIELDS.items()
    }
    return keywords, blocklist


def backend_rows(backends: Any) -> list[dict[str, Any]]:
    rows = [b for b in backends if isinstance(b, dict)] if isinstance(backends, list) else []
    blank = {"name": "", "kind": "ollama", "base_url": "", "model": "", "enabled": True}
    shown = [{**blank, **row} for row in rows[:MAX_BACKENDS]]
    if len(shown) < MAX_BACKENDS:
        shown.append({**blank, "enabled": False})
    return shown


def read_backends(form: FormReader) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """The backends to store, and the rows as typed (for re-rendering)."""
    out: list[dict[str, Any]] = []
    rows: list[dict[str, Any]] = []
    names: set[str] = set()
    for index in range(MAX_BACKENDS):
        prefix = f"b-{index}-"
        if f"{prefix}name" not in form.form:
            continue
        name = form.text(f"{prefix}name", label="Name", max_len=50)
        base_url = form.text(f"{prefix}base_url", label="Base URL", max_len=500)
        model = form.text(f"{prefix}model", label="Model", max_len=200)
        row = {
            "name": name,
            "kind": form.choice(f"{prefix}kind", label="Kind", choices=LLM_KINDS, default="ollama"),
            "base_url": base_url,
            "model": model,
            "enabled": form.boolean(f"{prefix}enabled"),
        }
        rows.append(row)
        if not (name or base_url or model):
            continue
        if not name:
            form.errors[f"{prefix}name"] = f"Backend {index + 1}: give it a name."
        elif name.lower() in names:
            form.errors[f"{prefix}name"] = f"Backend {index + 1}: the name is used twice."
        names.add(name.lower())
        if base_url and not base_url.startswith(("http://", "https://")):
            form.errors[f"{prefix}base_url"] = (
                f"Backend {index + 1}: the base URL must start with http:// or https://."
            )
        if not row["model"]:
            form.errors[f"{prefix}model"] = f"Backend {index + 1}: name the model to use."
        out.append(row)
    return out, rows


# The form says "openai_compatible"; the router's configuration says "openai_compat".
_KIND_TO_TYPE = {"ollama": "ollama", "openai_compatible": "openai_compat", "anthropic": "anthropic"}
_TYPE_TO_KIND = {v: k for k, v in _KIND_TO_TYPE.items()}


def backends_to_config(rows: list[dict[str, Any]], stored: Any) -> dict[str, Any]:
    """The form's backends in the shape the LLM router reads, keeping what the form does
    not show (chains, and each backend's key variable, timeout and token limit)."""
    previous = stored if isinstance(stored, dict) else {}
    by_name = {
        str(b.get("name")): b
        for b in previous.get("backends", [])
        if isinstance(b, dict) and b.get("name")
    }
    backends = []
    for row in rows:
        kept = {
            k: v
            for k, v in by_name.get(row["name"], {}).items()
            if k in ("api_key_env", "timeout_s", "max_tokens")
        }
        backends.append(
            {
                **kept,
                "name": row["name"],
                "type": _KIND_TO_TYPE.get(row["kind"], row["kind"]),
                "base_url": row["base_url"],
                "model": row["model"],
                "enabled": row["enabled"],
            }
        )
    names = {b["name"] for b in backends}
    chains = {
        purpose: [n for n in chain if n in names]
        for purpose, chain in (previous.get("chains") or {}).items()
        if isinstance(chain, list)
    }
    return {"backends": backends, "chains": {p: c for p, c in chains.items() if c}}


def config_to_backends(stored: Any) -> list[dict[str, Any]]:
    """Stored backends as form rows; a plain list is the form's older shape."""
    raw = stored.get("backends", []) if isinstance(stored, dict) else stored
    rows = []
    for b in raw if isinstance(raw, list) else []:
        if isinstance(b, dict):
            kind = b.get("kind") or _TYPE_TO_KIND.get(str(b.get("type")), "ollama")
            rows.append({**b, "kind": kind})
    return rows
