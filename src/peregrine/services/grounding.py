"""The facts a model may use about the user, chosen for one job, with NDA names masked.

Cover letters, research briefs and interview prep all build prompts from the same pieces;
keeping them here means the never-invent rules and the NDA masking cannot drift apart.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from peregrine.lib.text import find_keywords, fold, keyword_pattern
from peregrine.storage.queries.jobs import Job
from peregrine.storage.queries.profile import Profile

# A 50,000-word posting would crowd everything else out of a small model's context. The
# first words carry the role, duties and requirements; legal boilerplate comes last.
MAX_DESCRIPTION_WORDS = 1500
MAX_EXPERIENCES = 3
NDA_PLACEHOLDER = "[confidential company]"

NEVER_INVENT_RULES = (
    "Use only facts given below about the candidate. Never invent or change employers, job "
    "titles, dates, degrees, certifications, numbers or skills. If the job asks for something "
    "the candidate does not have, do not claim it; you may express eagerness to learn it. "
    f"Names shown as {NDA_PLACEHOLDER} are under NDA: never guess or reveal them."
)

_STOPWORDS = frozenset(
    (
        "the",
        "and",
        "for",
        "with",
        "you",
        "your",
        "our",
        "are",
        "will",
        "have",
        "from",
        "this",
        "that",
        "who",
        "what",
        "when",
        "where",
        "how",
        "into",
        "about",
        "their",
        "they",
        "them",
        "been",
        "being",
        "which",
        "while",
        "also",
        "able",
        "work",
        "working",
        "team",
        "teams",
        "role",
        "job",
        "company",
        "experience",
        "years",
        "year",
        "including",
        "such",
        "other",
        "more",
        "most",
        "must",
        "should",
        "would",
        "could",
        "can",
        "all",
        "any",
        "per",
        "via",
        "etc",
        "using",
        "use",
        "used",
        "within",
        "across",
        "strong",
        "ability",
        "skills",
        "skill",
        "well",
        "good",
        "great",
        "new",
        "based",
    )
)
_WORD = re.compile(r"[a-z][a-z0-9+#.]{2,}")


class GroundingError(ValueError):
    """The user's data cannot support this request (e.g. no résumé); says what to add."""


@dataclass(frozen=True, slots=True)
class Experience:
    employer: str
    title: str
    start: str
    end: str
    bullets: tuple[str, ...]

    def render(self) -> str:
        period = f"{self.start or '?'} – {self.end or 'present'}"
        lines = [f"- {self.title} at {self.employer} ({period})"]
        lines += [f"    • {b}" for b in self.bullets]
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Grounding:
    experiences: list[Experience]
    matched_skills: list[str]
    gaps: list[str]
    mission_notes: list[str]
    description: str
    truncated_words: int
    nda_names: list[str] = field(default_factory=list)


def truncate_words(text: str, limit: int = MAX_DESCRIPTION_WORDS) -> tuple[str, int]:
    """Keep the first ``limit`` words (line breaks kept); return the text and words cut."""
    words = text.split()
    if len(words) <= limit:
        return text.strip(), 0
    # Cut at the limit-th word while keeping the original spacing up to there.
    matches = list(re.finditer(r"\S+", text))
    cut = matches[limit - 1].end()
    omitted = len(words) - limit
    return text[:cut].rstrip() + f"\n[… description shortened: {omitted} more words]", omitted


def mask_nda(text: str, names: list[str]) -> str:
    """Replace each NDA company name (whole words, any case) with a placeholder."""
    cleaned = sorted({n.strip() for n in names if n and n.strip()}, key=len, reverse=True)
    for name in cleaned:
        text = re.sub(rf"(?<!\w){re.escape(name)}(?!\w)", NDA_PLACEHOLDER, text, flags=re.I)
    return text


def _tokens(text: str) -> set[str]:
    return {w.rstrip(".") for w in _WORD.findall(fold(text))} - _STOPWORDS


def parse_experiences(structured: dict[str, Any]) -> list[Experience]:
    out: list[Experience] = []
    for raw in structured.get("experiences") or []:
        if not isinstance(raw, dict):
            continue
        employer = str(raw.get("employer") or "").strip()
        title = str(raw.get("title") or "").strip()
        if not employer and not title:
            continue
        bullets = tuple(str(b).strip() for b in raw.get("bullets") or [] if str(b).strip())
        out.append(
            Experience(
                employer=employer,
                title=title,
                start=str(raw.get("start") or "").strip(),
                end=str(raw.get("end") or "").strip(),
                bullets=bullets,
            )
        )
    return out


def relevant_experiences(
    experiences: list[Experience], job_text: str, limit: int = MAX_EXPERIENCES
) -> list[Experience]:
    """The experiences sharing the most words with the job (title overlap counts triple);
    ties keep résumé order, which is usually most recent first."""
    job_words = _tokens(job_text)

    def score(exp: Experience) -> int:
        return 3 * len(_tokens(exp.title) & job_words) + len(
            _tokens(" ".join(exp.bullets)) & job_words
        )

    scored = [(score(exp), index, exp) for index, exp in enumerate(experiences)]
    # Experiences that share nothing with the job only add noise the model may dwell on;
    # they are kept only when nothing matches at all.
    if any(s > 0 for s, _, _ in scored):
        scored = [item for item in scored if item[0] > 0]
    scored.sort(key=lambda item: (-item[0], item[1]))
    return [exp for _, _, exp in scored[:limit]]


def ground(
    *,
    profile: Profile,
    structured_resume: dict[str, Any],
    job: Job,
    wanted_terms: list[str],
) -> Grounding:
    """Choose the facts for ``job``. ``wanted_terms`` are the user's skill keywords the
    scorer looks for; those the job names but the résumé lacks are reported as gaps."""
    experiences = parse_experiences(structured_resume)
    if not experiences:
        raise GroundingError(
            "your résumé has no work experience yet; add it in Settings → Résumé so the "
            "letter can draw on real facts"
        )
    description, cut = truncate_words(job.description)
    job_text = f"{job.title}\n{job.company}\n{description}"
    skills = [str(s).strip() for s in structured_resume.get("skills") or [] if str(s).strip()]
    found = find_keywords(keyword_pattern(skills), job_text)
    matched = [s for s in skills if fold(s) in found]
    have = {fold(s) for s in skills}
    asked = find_keywords(keyword_pattern(wanted_terms), job_text)
    gaps = [g for g in job.keyword_gaps if fold(g) not in have]
    gaps += [t for t in wanted_terms if fold(t) in asked and fold(t) not in have]
    gaps = list(dict.fromkeys(gaps))
    causes = find_keywords(keyword_pattern(profile.mission_causes), job_text)
    mission = [c for c in profile.mission_causes if fold(c) in causes]
    return Grounding(
        experiences=relevant_experiences(experiences, job_text),
        matched_skills=matched,
        gaps=gaps,
        mission_notes=mission,
        description=description,
        truncated_words=cut,
        nda_names=list(profile.nda_companies),
    )
