"""The cover-letter prompt: the user's real facts for this job, the rules, the examples."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from peregrine.services.grounding import NEVER_INVENT_RULES, Grounding, mask_nda, truncate_words
from peregrine.storage.queries.jobs import Job
from peregrine.storage.queries.profile import Profile

DEFAULT_TARGET_WORDS = 300
MAX_STYLE_EXAMPLES = 2
STYLE_EXAMPLE_WORDS = 350


@dataclass(frozen=True, slots=True)
class LetterPrompt:
    system: str
    prompt: str
    max_tokens: int


def build_letter_prompt(
    *,
    profile: Profile,
    job: Job,
    grounding: Grounding,
    research: dict[str, Any] | None,
    past_letters: list[str],
    target_words: int = DEFAULT_TARGET_WORDS,
    previous: str | None = None,
    feedback: str = "",
    salutation: str | None = None,
) -> LetterPrompt:
    voice = profile.voice.strip() or "warm, direct and specific; no clichés"
    system = (
        "You write cover letters for one job seeker, in their own voice. "
        f"{NEVER_INVENT_RULES} Write plain text only: no markdown, no headings, no "
        "placeholders in brackets, no commentary before or after the letter."
    )
    parts: list[str] = []
    parts.append(
        f"Write a cover letter of about {target_words} words for the job below.\n"
        f"Start with the salutation line: {salutation or 'Dear Hiring Manager,'}\n"
        f"End with a sign-off and the name {profile.full_name or 'of the candidate'}.\n"
        f"Voice: {voice}"
    )
    parts.append(
        f"## Job\n{job.title} at {job.company or 'the company'}\n\n{grounding.description}"
    )
    about = [f"Name: {profile.full_name}"] if profile.full_name else []
    if profile.summary.strip():
        about.append(f"Summary: {profile.summary.strip()}")
    parts.append("## The candidate\n" + "\n".join(about) if about else "## The candidate")
    parts.append(
        "## Most relevant experience (the only employers, titles and dates you may mention)\n"
        + "\n".join(e.render() for e in grounding.experiences)
    )
    parts.append(
        "## Skills the job asks for that the candidate has\n"
        + (", ".join(grounding.matched_skills) or "(none matched by name)")
    )
    if grounding.gaps:
        parts.append(
            "## Gaps: the job asks for these and the candidate does NOT have them; never claim "
            "them\n" + ", ".join(grounding.gaps)
        )
    if grounding.mission_notes:
        parts.append(
            "## Mission: the job touches causes the candidate cares about; mention this "
            "sincerely in one sentence\n" + ", ".join(grounding.mission_notes)
        )
    if research and research.get("brief"):
        brief = research["brief"]
        useful = [
            f"{k}: {v}"
            for k, v in brief.items()
            if k in ("overview", "product_and_tech", "recent_news", "leadership_and_culture") and v
        ]
        if useful:
            text, _ = truncate_words("\n".join(useful), 400)
            parts.append("## What we know about the company\n" + text)
    examples = [
        truncate_words(b, STYLE_EXAMPLE_WORDS)[0] for b in past_letters[-MAX_STYLE_EXAMPLES:]
    ]
    if examples:
        parts.append(
            "## Letters the candidate wrote before (match their style; do not copy facts from "
            "them that are not listed above)\n" + "\n---\n".join(examples)
        )
    if previous:
        parts.append(
            "## The current version of the letter\n"
            + previous
            + "\n\n## Revise it according to this feedback, keeping every rule above\n"
            + (feedback.strip() or "Make it better.")
        )
    elif feedback.strip():
        parts.append("## Extra instructions from the candidate\n" + feedback.strip())
    prompt = mask_nda("\n\n".join(parts), grounding.nda_names)
    # About 1.4 tokens per English word, with room for the salutation and sign-off.
    return LetterPrompt(
        system=system, prompt=prompt, max_tokens=int(target_words * 1.6 * 1.4) + 100
    )
