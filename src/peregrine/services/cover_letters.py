"""Cover letters: generate, refine with feedback, and save edits, each as a new version.

Every path validates first and writes once: a failed or garbage model answer raises before
anything is stored, so the user's earlier versions and edits are never lost.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from peregrine.lib.clock import now_iso
from peregrine.llm.router import LLMRouter
from peregrine.services.grounding import GroundingError, ground, mask_nda
from peregrine.services.letter_prompt import DEFAULT_TARGET_WORDS, build_letter_prompt
from peregrine.storage.queries import jobs as job_q
from peregrine.storage.queries import letter_versions as letter_q
from peregrine.storage.queries import prep as prep_q
from peregrine.storage.queries import profile as profile_q
from peregrine.storage.queries.letter_versions import LetterVersion
from peregrine.storage.userdb import UserDB

MAX_LETTER_CHARS = 20_000
MAX_FEEDBACK_CHARS = 2_000
MIN_LETTER_WORDS = 40

_SALUTATION = re.compile(r"^(dear|hello|hi|to whom|greetings)\b", re.I)
_SIGN_OFF = re.compile(
    r"^(sincerely|yours sincerely|yours faithfully|yours truly|best regards|kind regards|"
    r"warm regards|warmest regards|regards|best|best wishes|thank you|thanks|respectfully)[,.!]?$",
    re.I,
)
_PREAMBLE = re.compile(
    r"^(here is|here's|sure|certainly|below is|of course)\b[^\n]*[:!.]\s*\n", re.I
)
_SENTENCE_END = re.compile(r"[.!?…][\"'”’)\]]*$")


class LetterError(ValueError):
    """A letter request cannot be done; the message says why and what to do."""


class LetterOutputError(LetterError):
    """The model's answer is not a usable letter; nothing was saved."""


@dataclass(frozen=True, slots=True)
class LetterOptions:
    target_words: int = DEFAULT_TARGET_WORDS
    salutation: str | None = None


def clean_letter(text: str, *, full_name: str, salutation: str | None = None) -> str:
    """Tidy a model's answer into a letter: drop chatter and markdown fences, make sure it
    opens with a salutation and closes with a sign-off, and cut a run-on last sentence."""
    text = text.replace("\r\n", "\n").strip()
    text = re.sub(r"^```[a-z]*\n|\n?```$", "", text).strip()
    text = _PREAMBLE.sub("", text, count=1).strip()
    text = re.sub(r"\*\*(.+?)\*\*", r"\1", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    letters = sum(ch.isalpha() for ch in text)
    if len(text.split()) < MIN_LETTER_WORDS or letters < 0.6 * len(text.replace(" ", "")):
        raise LetterOutputError(
            "the model's answer was empty or not a letter; nothing was saved and your "
            "earlier versions are unchanged. Try again, or choose another backend in Settings."
        )
    lines = text.split("\n")
    sign_off: list[str] = []
    for index in range(len(lines) - 1, max(len(lines) - 4, -1), -1):
        if _SIGN_OFF.match(lines[index].strip()):
            sign_off = [line.strip() for line in lines[index:] if line.strip()]
            lines = lines[:index]
            break
    body = "\n".join(lines).rstrip()
    if not _SENTENCE_END.search(body):
        # A model that hit its token limit stops mid-sentence; end at the last full one.
        cut = max(body.rfind(mark) for mark in (". ", "! ", "? ", ".\n", "!\n", "?\n"))
        if cut > len(body) // 2:
            body = body[: cut + 1].rstrip()
        elif body:
            body += "."
    first = body.split("\n", 1)[0]
    if not _SALUTATION.match(first):
        body = f"{salutation or 'Dear Hiring Manager,'}\n\n{body}"
    elif salutation and first.strip() != salutation.strip():
        body = salutation + "\n" + body.split("\n", 1)[1] if "\n" in body else body
    if not sign_off:
        sign_off = ["Sincerely,", full_name] if full_name else ["Sincerely,"]
    elif len(sign_off) == 1 and full_name:
        sign_off.append(full_name)
    return body + "\n\n" + "\n".join(sign_off)


@dataclass(frozen=True, slots=True)
class Draft:
    """Everything needed to ask for a letter and to store the answer."""

    job_id: int
    system: str
    prompt: str
    max_tokens: int
    full_name: str
    salutation: str | None
    feedback: str
    origin: str


def prepare(
    db: UserDB, *, job_id: int, feedback: str = "", options: LetterOptions | None = None
) -> Draft:
    """Validate the request and build the prompt (no model is called)."""
    options = options or LetterOptions()
    feedback = feedback.strip()
    if len(feedback) > MAX_FEEDBACK_CHARS:
        raise LetterError(f"feedback is too long (at most {MAX_FEEDBACK_CHARS} characters)")
    if not 100 <= options.target_words <= 1000:
        raise LetterError("the length target must be between 100 and 1000 words")
    with db.read() as conn:
        job = job_q.get_job(conn, job_id=job_id)
        if job is None:
            raise LetterError(f"job {job_id} does not exist")
        profile = profile_q.get_profile(conn)
        resume = profile_q.current_resume(conn)
        keywords = profile_q.list_keywords(conn)
        research = prep_q.get_research(conn, job_id=job_id)
        past = [p["body"] for p in profile_q.list_past_letters(conn)]
        previous = letter_q.latest_version(conn, job_id=job_id) if feedback else None
    if resume is None:
        raise LetterError(
            "there is no résumé yet; add it in Settings → Résumé so the letter can draw on "
            "your real experience"
        )
    try:
        facts = ground(
            profile=profile,
            structured_resume=resume.structured,
            job=job,
            wanted_terms=keywords["skill"] + keywords["preferred"],
        )
    except GroundingError as exc:
        raise LetterError(str(exc)) from None
    prompt = build_letter_prompt(
        profile=profile,
        job=job,
        grounding=facts,
        research=research.to_dict() if research else None,
        past_letters=past,
        target_words=options.target_words,
        previous=mask_nda(previous.body, facts.nda_names) if previous else None,
        feedback=feedback,
        salutation=options.salutation,
    )
    return Draft(
        job_id=job_id,
        system=prompt.system,
        prompt=prompt.prompt,
        max_tokens=prompt.max_tokens,
        full_name=profile.full_name,
        salutation=options.salutation,
        feedback=feedback,
        origin="refined" if previous else "generated",
    )


def finish(db: UserDB, draft: Draft, *, text: str, backend: str) -> LetterVersion:
    """Clean the model's answer and store it as a new version (or raise, storing nothing)."""
    body = clean_letter(text, full_name=draft.full_name, salutation=draft.salutation)
    with db.write() as conn:
        number = letter_q.add_version(
            conn,
            job_id=draft.job_id,
            body=body,
            origin=draft.origin,
            feedback=draft.feedback,
            backend=backend,
            now=now_iso(),
        )
        return letter_q.get_version(conn, job_id=draft.job_id, version=number)  # type: ignore[return-value]


def generate(
    db: UserDB,
    router: LLMRouter,
    *,
    job_id: int,
    feedback: str = "",
    options: LetterOptions | None = None,
    progress: Callable[[str, float], None] | None = None,
) -> LetterVersion:
    """Write a new letter, or (with ``feedback`` and an existing version) refine the latest."""
    report = progress or (lambda _stage, _progress: None)
    report("gathering your résumé and the job", 0.1)
    draft = prepare(db, job_id=job_id, feedback=feedback, options=options)
    report("writing", 0.3)
    answer = router.complete(
        db,
        purpose="writing",
        prompt=draft.prompt,
        system=draft.system,
        max_tokens=draft.max_tokens,
    )
    report("saving", 0.9)
    return finish(db, draft, text=answer.text, backend=answer.backend)


def save_edit(db: UserDB, *, job_id: int, body: str) -> LetterVersion:
    """Keep the user's own edit as a new version."""
    body = body.replace("\r\n", "\n").strip()
    if not body:
        raise LetterError("the letter is empty; nothing was saved")
    if len(body) > MAX_LETTER_CHARS:
        raise LetterError(f"the letter is too long (at most {MAX_LETTER_CHARS} characters)")
    with db.write() as conn:
        if job_q.get_job(conn, job_id=job_id) is None:
            raise LetterError(f"job {job_id} does not exist")
        number = letter_q.add_version(
            conn, job_id=job_id, body=body, origin="edited", feedback="", backend="", now=now_iso()
        )
        return letter_q.get_version(conn, job_id=job_id, version=number)  # type: ignore[return-value]
