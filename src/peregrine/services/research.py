"""Company research briefs: optional web search plus the model, NDA names masked."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from peregrine.lib.clock import now_iso
from peregrine.llm.router import LLMRouter
from peregrine.services import web_search
from peregrine.services.grounding import (
    NEVER_INVENT_RULES,
    mask_nda,
    parse_experiences,
    relevant_experiences,
    truncate_words,
)
from peregrine.services.model_json import extract_json
from peregrine.storage.queries import jobs as job_q
from peregrine.storage.queries import prep as prep_q
from peregrine.storage.queries import profile as profile_q
from peregrine.storage.userdb import UserDB

SECTIONS: tuple[str, ...] = (
    "overview",
    "leadership_and_culture",
    "product_and_tech",
    "funding_and_market",
    "recent_news",
    "red_flags",
    "talking_points",
)
SECTION_TITLES = {s: s.replace("_and_", " and ").replace("_", " ").capitalize() for s in SECTIONS}


class ResearchError(ValueError):
    """Research cannot be done or its answer cannot be read; nothing was saved."""


def parse_brief(text: str) -> dict[str, str]:
    """Sections from a JSON object, or from '## Heading' blocks when the model ignored JSON."""
    data = extract_json(text, opening="{")
    brief: dict[str, str] = {}
    if isinstance(data, dict):
        for key in SECTIONS:
            value = data.get(key)
            if isinstance(value, list):
                value = "\n".join(f"- {v}" for v in value)
            if isinstance(value, str) and value.strip():
                brief[key] = value.strip()
        if brief:
            return brief
    titles = {t.lower(): k for k, t in SECTION_TITLES.items()}
    current: str | None = None
    for line in text.splitlines():
        heading = re.match(r"^#+\s*(.+?)\s*:?\s*$", line.strip())
        if heading:
            current = titles.get(heading.group(1).lower())
            continue
        if current and line.strip():
            brief[current] = (brief.get(current, "") + "\n" + line.strip()).strip()
    return brief


def research_company(
    db: UserDB,
    router: LLMRouter,
    *,
    job_id: int,
    searxng_url: str | None,
    progress: Callable[[str, float], None] | None = None,
) -> dict[str, Any]:
    report = progress or (lambda _stage, _progress: None)
    with db.read() as conn:
        job = job_q.get_job(conn, job_id=job_id)
        if job is None:
            raise ResearchError(f"job {job_id} does not exist")
        profile = profile_q.get_profile(conn)
        resume = profile_q.current_resume(conn)
    if not job.company.strip():
        raise ResearchError("this job has no company name to research; add one first")
    hits: list[web_search.SearchHit] = []
    if searxng_url:
        report("searching the web", 0.15)
        for query in (f'"{job.company}"', f"{job.company} funding", f"{job.company} news"):
            hits += web_search.search(searxng_url, query)
        hits = list({h.url: h for h in hits}.values())[:15]
    description, _ = truncate_words(job.description, 600)
    experiences = parse_experiences(resume.structured) if resume else []
    chosen = relevant_experiences(experiences, f"{job.title}\n{description}")
    found = "\n".join(f"- {h.title} ({h.url}): {h.snippet}" for h in hits) or (
        "(no web search available; rely on what you know, and say so)"
    )
    prompt = (
        f"Write a research brief about the company {job.company} for a candidate applying "
        f"for {job.title}.\nAnswer with one JSON object whose keys are exactly: "
        f"{', '.join(SECTIONS)}; each value is a short paragraph or a list of strings. "
        "Say 'unknown' where the sources do not tell; do not invent facts, names or figures. "
        "talking_points connect the company to the candidate's experience below.\n\n"
        f"## Job description\n{description}\n\n"
        f"## Web search results\n{found}\n\n"
        "## The candidate's experience\n"
        + ("\n".join(e.render() for e in chosen) or "(no résumé yet)")
    )
    prompt = mask_nda(prompt, profile.nda_companies)
    report("asking the model", 0.4)
    answer = router.complete(db, purpose="research", prompt=prompt, system=NEVER_INVENT_RULES)
    brief = parse_brief(answer.text)
    if not brief:
        raise ResearchError(
            "the model's answer could not be read as a research brief; nothing was saved. "
            "Try again or choose another backend."
        )
    brief = {k: mask_nda(v, profile.nda_companies) for k, v in brief.items()}
    sources = [h.url for h in hits]
    report("saving", 0.9)
    with db.write() as conn:
        prep_q.save_research(
            conn, job_id=job_id, company=job.company, brief=brief, sources=sources, now=now_iso()
        )
    return {"sections": sorted(brief), "sources": len(sources), "backend": answer.backend}
