"""Match scoring: a 0–100 fit score with an explanation a person can read.

Components (each 0..1, combined with configurable weights; see docs/scoring.md):
skills (the résumé's skills and the user's skill keywords found in the job; known tech terms
in the job the user lacks are the gaps), title (words shared with a wanted title) and
seniority (level words, never substrings), location/remote fit, salary fit and freshness.
Everything the scorer needs from the user is read once into a ``ScoringContext``; scoring one
job is then pure computation.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, NamedTuple

from peregrine.lib.clock import now_iso, utcnow
from peregrine.lib.text import fold, refold
from peregrine.services.normalise import location_key, locations_compatible
from peregrine.services.titles import (
    core_words,
    folded_token_set,
    seniority,
    tokenise,
)
from peregrine.storage.queries import discovery as disc_q
from peregrine.storage.queries import jobs as job_q
from peregrine.storage.queries import preferences as pref_q
from peregrine.storage.queries import profile as profile_q
from peregrine.storage.userdb import UserDB

EXPLANATION_VERSION = 1
DEFAULT_WEIGHTS: dict[str, float] = {
    "skills": 40.0,
    "title": 20.0,
    "seniority": 10.0,
    "location": 15.0,
    "salary": 10.0,
    "freshness": 5.0,
}
FRESH_DAYS = 30  # a posting this old or older scores 0 for freshness
MAX_LISTED = 25  # skills listed in the explanation, so it stays readable
SCORE_BATCH = 500

# Terms the gap list can mention even when the user never typed them: common skills that a
# posting asks for. Kept short on purpose; the user's "preferred" keywords extend it.
KNOWN_SKILLS: tuple[str, ...] = (
    "python", "java", "javascript", "typescript", "go", "golang", "rust", "c", "c++", "c#",
    ".net", "ruby", "php", "scala", "kotlin", "swift", "elixir", "haskell", "r", "sql",
    "postgresql", "mysql", "sqlite", "mongodb", "redis", "elasticsearch", "kafka", "rabbitmq",
    "spark", "hadoop", "airflow", "dbt", "snowflake", "bigquery", "aws", "gcp", "azure",
    "docker", "kubernetes", "terraform", "ansible", "linux", "bash", "git", "ci/cd",
    "jenkins", "github actions", "react", "vue", "angular", "svelte", "node.js", "django",
    "flask", "fastapi", "rails", "spring", "graphql", "rest", "grpc", "html", "css",
    "machine learning", "pytorch", "tensorflow", "pandas", "numpy", "llm", "nlp",
    "computer vision", "figma", "tableau", "excel", "salesforce", "jira", "agile", "scrum",
    "security", "networking", "microservices", "observability", "prometheus", "grafana",
)  # fmt: skip


MEMO_WORDS = 200_000  # distinct words remembered per context before the memo starts over


class _Memo:
    """What each distinct raw word of a job text contributes, learnt once per context.

    A job's words are mostly words other jobs used too, so after the first few hundred jobs
    almost every word is known: finding what a text holds is then a split, a set and two set
    operations in C, with Python code only for the few words that hold a term.
    """

    __slots__ = ("places", "relevant", "relevant_words", "seen", "titles")

    def __init__(self) -> None:
        self.seen: dict[str, str] = {}  # raw word → fold(word)
        self.relevant_words: set[str] = set()
        self.relevant: dict[str, tuple[frozenset[str], frozenset[str]]] = {}
        self.titles: dict[str, tuple[str, float, int | None, tuple[int, str] | None]] = {}
        self.places: dict[tuple[str, str], tuple[float, str]] = {}


class ScoringError(ValueError):
    """The scoring settings are not usable; the message says which."""


def parse_weights(raw: Any) -> dict[str, float]:
    """Defaults overlaid with the ``scoring_weights`` preference (validated)."""
    weights = dict(DEFAULT_WEIGHTS)
    if raw in (None, {}):
        return weights
    if not isinstance(raw, dict):
        raise ScoringError("scoring_weights must be a mapping of component → number")
    for name, value in raw.items():
        if name not in DEFAULT_WEIGHTS:
            raise ScoringError(
                f"unknown scoring weight {name!r}; known: {', '.join(DEFAULT_WEIGHTS)}"
            )
        if isinstance(value, bool) or not isinstance(value, int | float) or not 0 <= value <= 1000:
            raise ScoringError(f"scoring weight {name!r} must be a number from 0 to 1000")
        weights[name] = float(value)
    if sum(weights.values()) <= 0:
        raise ScoringError("at least one scoring weight must be above 0")
    return weights


@dataclass(frozen=True)
class ScoringContext:
    skills: tuple[str, ...]  # folded
    vocabulary: frozenset[str]  # terms a gap may name (folded)
    single: frozenset[str]  # terms that are one token: found by set lookup
    phrases: dict[str, re.Pattern[str]]  # multi-token terms ("machine learning"), by pattern
    wanted_titles: tuple[tuple[str, frozenset[str], int | None], ...]
    locations: tuple[str, ...]
    remote_preference: str
    salary_floor: float | None
    weights: dict[str, float]
    today: date
    # Each phrase's white-space separated pieces; every piece lies inside one word of a text
    # that holds the phrase, so a phrase is only searched for when all its pieces were seen.
    pieces: dict[str, tuple[str, ...]] = field(default_factory=dict)
    memo: _Memo = field(default_factory=_Memo, compare=False, repr=False)

    @classmethod
    def load(
        cls, conn: Any, *, profile_name: str | None = None, today: date | None = None
    ) -> ScoringContext:
        resume = profile_q.current_resume(conn)
        skills: list[str] = []
        if resume is not None:
            raw = resume.structured.get("skills", [])
            if isinstance(raw, list):
                skills.extend(s for s in raw if isinstance(s, str))
        keywords = profile_q.list_keywords(conn)
        skills.extend(keywords["skill"])
        profiles = profile_q.list_search_profiles(conn)
        if profile_name:
            profiles = [p for p in profiles if p.name.lower() == profile_name.lower()]
        enabled = [p for p in profiles if p.enabled] or profiles
        titles = [t for p in enabled for t in p.titles]
        locations = [loc for p in enabled for loc in p.locations]
        prefs = {p.remote_preference for p in enabled} - {"any"}
        floors = [p.salary_floor for p in enabled if p.salary_floor is not None]
        weights = parse_weights(pref_q.get_preference(conn, key="scoring_weights"))
        return cls.build(
            skills=skills,
            preferred=keywords["preferred"],
            titles=titles,
            locations=locations,
            remote_preference=prefs.pop() if len(prefs) == 1 else "any",
            salary_floor=min(floors) if floors else None,
            weights=weights,
            today=today,
        )

    @classmethod
    def build(
        cls,
        *,
        skills: Sequence[str],
        preferred: Sequence[str] = (),
        titles: Sequence[str] = (),
        locations: Sequence[str] = (),
        remote_preference: str = "any",
        salary_floor: float | None = None,
        weights: dict[str, float] | None = None,
        today: date | None = None,
    ) -> ScoringContext:
        folded_skills = tuple(dict.fromkeys(fold(s) for s in skills if s and s.strip()))
        vocabulary = set(KNOWN_SKILLS) | {fold(p) for p in preferred if p.strip()}
        terms = set(folded_skills) | vocabulary
        single = frozenset(t for t in terms if tokenise(t) == [t])
        phrases = {
            t: re.compile(rf"(?<![\w+#]){re.escape(t)}(?![\w+#])") for t in sorted(terms - single)
        }
        wanted = []
        for title in titles:
            tokens = tokenise(title)
            level = seniority(tokens)
            wanted.append((title, core_words(tokens), level[0] if level else None))
        return cls(
            skills=folded_skills,
            vocabulary=frozenset(vocabulary),
            single=single,
            phrases=phrases,
            wanted_titles=tuple(wanted),
            locations=tuple(locations),
            remote_preference=remote_preference,
            salary_floor=salary_floor,
            weights=weights or dict(DEFAULT_WEIGHTS),
            today=today or utcnow().date(),
            pieces={t: tuple(t.split()) for t in phrases},
        )


@dataclass(frozen=True, slots=True)
class Score:
    score: float
    explanation: dict[str, Any]
    gaps: list[str]


def score_job(ctx: ScoringContext, job: disc_q.ScoringRow | _NewRow) -> Score:
    present = _terms_in(ctx, f"{job.title}\n{job.description}")
    matched = [s for s in ctx.skills if s in present]
    have = set(ctx.skills)
    gaps = sorted(t for t in present & ctx.vocabulary if t not in have)
    skills_score = len(matched) / (len(matched) + len(gaps)) if matched or gaps else 0.5

    best_title, title_score, wanted_level, level = _title_fit(ctx, job.title)
    job_level = level[0] if level else None
    if job_level is None or wanted_level is None:
        seniority_score = 0.7
    else:
        seniority_score = {0: 1.0, 1: 0.5}.get(abs(job_level - wanted_level), 0.0)

    place = (job.location, job.work_mode)
    fit = ctx.memo.places.get(place)
    if fit is None:
        if len(ctx.memo.places) > MEMO_WORDS:
            ctx.memo.places.clear()
        fit = ctx.memo.places[place] = _location_fit(ctx, job)
    location_score, location_reason = fit
    salary_score, salary_reason = _salary_fit(ctx, job)
    age = _age_days(ctx, job)
    fresh_score = 0.5 if age is None else max(0.0, 1 - age / FRESH_DAYS)

    parts = {
        "skills": skills_score,
        "title": title_score,
        "seniority": seniority_score,
        "location": location_score,
        "salary": salary_score,
        "freshness": fresh_score,
    }
    total_weight = sum(ctx.weights.values()) or 1.0
    score = round(100 * sum(ctx.weights[k] * v for k, v in parts.items()) / total_weight, 1)
    explanation = {
        "version": EXPLANATION_VERSION,
        "score": score,
        "weights": ctx.weights,
        "skills": {
            "score": round(skills_score, 3),
            "matched": matched[:MAX_LISTED],
            "missing": gaps[:MAX_LISTED],
        },
        "title": {"score": round(title_score, 3), "best_match": best_title},
        "seniority": {
            "score": round(seniority_score, 3),
            "job": level[1] if level else None,
            "wanted_level": wanted_level,
            "job_level": job_level,
        },
        "location": {"score": round(location_score, 3), "reason": location_reason},
        "salary": {"score": round(salary_score, 3), "reason": salary_reason},
        "freshness": {"score": round(fresh_score, 3), "age_days": age},
    }
    return Score(score=score, explanation=explanation, gaps=gaps[:MAX_LISTED])


class _NewRow(NamedTuple):
    """What scoring reads of a job, for one about to be stored (see ``score_new_job``)."""

    title: str
    location: str
    work_mode: str
    description: str
    salary_annual_min: float | None
    salary_annual_max: float | None
    date_posted: str | None
    date_found: str


def score_new_job(ctx: ScoringContext, job: job_q.NewJob, *, found: str) -> Score:
    """The score ``score_job`` gives ``job`` once it is stored with ``date_found = found``:
    discovery scores new jobs before inserting them, so each is written once."""
    row = _NewRow(
        job.title, job.location, job.work_mode, job.description, job.salary_annual_min,
        job.salary_annual_max, job.date_posted, found,
    )  # fmt: skip
    return score_job(ctx, row)


def _terms_in(ctx: ScoringContext, text: str) -> set[str]:
    """The terms ``text`` holds: single-token terms among the tokens of the twice-folded
    text, phrases by whole-word search of the folded text.

    Folding and tokenising work word by word (white space is never folded into anything
    else, and a token never spans white space), so the tokens of a text are the union of
    the tokens of its raw words, each worked out once per context (``_Memo``).
    """
    memo = ctx.memo
    words = set(text.split())
    unseen = words.difference(memo.seen)
    if unseen:
        if len(memo.seen) + len(unseen) > MEMO_WORDS:
            memo.seen.clear()
            memo.relevant.clear()
            memo.relevant_words.clear()
            unseen = words
        _learn(ctx, unseen)
    present: set[str] = set()
    pieces: set[str] = set()
    holders: list[tuple[str, frozenset[str]]] = []
    for word in words.intersection(memo.relevant_words):
        terms, found = memo.relevant[word]
        present |= terms
        if found:
            pieces |= found
            holders.append((word, found))
    if pieces:
        lowered: str | None = None
        for term, parts in ctx.pieces.items():
            if not all(p in pieces for p in parts):
                continue
            pattern = ctx.phrases[term]
            if text.isascii():
                # fold() would collapse white space, but an ASCII text is only lower-cased.
                if lowered is None:
                    lowered = text.lower()
                found_here = term in lowered and _phrase_in(term, pattern, lowered)
            else:
                starts = [w for w, found in holders if parts[0] in found]
                found_here = _phrase_in_words(term, pattern, len(parts), starts, text, memo)
            if found_here:
                present.add(term)
    return present


WINDOWS = 16  # phrase starts looked at one by one; beyond that the whole text is folded


def _phrase_in_words(
    term: str,
    pattern: re.Pattern[str],
    size: int,
    starts: list[str],
    text: str,
    memo: _Memo,
) -> bool:
    """Whether ``term`` (``size`` pieces) is in fold(text), for a non-ASCII ``text``.

    fold(text) is the folded raw words joined by single spaces (empty ones left out). A
    match begins inside a raw word whose fold holds the phrase's first piece (``starts``)
    and ends within the ``size - 1`` folded parts after it; the pattern's look-arounds see a
    space or the text's edge at a window's edge either way, so searching that word and the
    parts after it finds exactly the matches that begin in that word.
    """
    folds = memo.seen
    if sum(map(text.count, starts)) <= WINDOWS:
        found = _phrase_in_windows(term, pattern, size, starts, text, folds)
        if found is not None:
            return found
    folded = " ".join(filter(None, map(folds.__getitem__, text.split())))
    return term in folded and _phrase_in(term, pattern, folded)


def _phrase_in_windows(
    term: str,
    pattern: re.Pattern[str],
    size: int,
    starts: list[str],
    text: str,
    folds: dict[str, str],
) -> bool | None:
    """The search of ``_phrase_in_words`` window by window; None when a window could not be
    built from the next few words (too many fold to nothing)."""
    room = size + 8
    for word in starts:
        at = text.find(word)
        while at != -1:
            end = at + len(word)
            # Only where ``word`` is a whole raw word (str.split and isspace agree).
            if (at == 0 or text[at - 1].isspace()) and (end == len(text) or text[end].isspace()):
                window = _window(folds, word, text[end:].split(None, room), room, size)
                if window is None:
                    return None
                if term in window and _phrase_in(term, pattern, window):
                    return True
            at = text.find(word, at + 1)
    return False


def _window(
    folds: dict[str, str], first: str, after: list[str], room: int, size: int
) -> str | None:
    """``first`` and the next ``size - 1`` folded parts, joined; None when ``after`` (the
    text after ``first`` split at most ``room`` times) was cut before enough parts."""
    window, parts = [folds[first]], 0
    for raw in after[:room]:
        if parts >= size - 1:
            break
        part = folds[raw]
        if part:
            window.append(part)
            parts += part.count(" ") + 1
    if parts < size - 1 and len(after) > room:
        return None
    return " ".join(window)


def _learn(ctx: ScoringContext, words: set[str]) -> None:
    memo = ctx.memo
    all_pieces = {p for parts in ctx.pieces.values() for p in parts}
    for word in words:
        folded = memo.seen[word] = fold(word)
        again = folded if folded.isascii() else refold(folded)
        terms = ctx.single.intersection(folded_token_set(again))
        found = frozenset(p for p in all_pieces if p in folded)
        if terms or found:
            memo.relevant[word] = (terms, found)
            memo.relevant_words.add(word)


def _title_fit(
    ctx: ScoringContext, title: str
) -> tuple[str, float, int | None, tuple[int, str] | None]:
    """(best wanted title, title score, its level, the job's level); titles repeat a lot."""
    known = ctx.memo.titles.get(title)
    if known is not None:
        return known
    title_tokens = tokenise(title)
    title_words = core_words(title_tokens)
    level = seniority(title_tokens)
    best_title, title_score, wanted_level = "", 0.5 if not ctx.wanted_titles else 0.0, None
    for wanted, words, wanted_lvl in ctx.wanted_titles:
        # A wanted title of only level words ("CTO") matches on seniority alone.
        overlap = len(words & title_words) / len(words) if words else float(not title_words)
        if overlap > title_score or not best_title:
            best_title, title_score, wanted_level = wanted, overlap, wanted_lvl
    if len(ctx.memo.titles) > MEMO_WORDS:
        ctx.memo.titles.clear()
    known = ctx.memo.titles[title] = (best_title, title_score, wanted_level, level)
    return known


def _phrase_in(term: str, pattern: re.Pattern[str], text: str) -> bool:
    """``pattern.search(text)``, trying the pattern only where ``term`` occurs: it starts with
    a look-behind, so a plain search would try it at every character."""
    start = text.find(term)
    while start != -1:
        # match() at a position still sees the characters before it for the look-behind.
        if pattern.match(text, start):
            return True
        start = text.find(term, start + 1)
    return False


def _location_fit(ctx: ScoringContext, job: disc_q.ScoringRow | _NewRow) -> tuple[float, str]:
    pref, mode = ctx.remote_preference, job.work_mode
    if pref == "remote":
        if mode == "remote":
            return 1.0, "remote, as you prefer"
        if mode == "hybrid":
            return 0.4, "hybrid; you prefer remote"
        if mode == "onsite":
            return 0.0, "on-site; you prefer remote"
    if mode == "remote":
        return 1.0, "remote"
    if not ctx.locations:
        return 0.7, "no location preference set"
    if not location_key(job.location):
        return 0.5, "location not stated"
    for wanted in ctx.locations:
        if locations_compatible(wanted, job.location):
            fit = 0.9 if (pref == "onsite" and mode == "hybrid") else 1.0
            return fit, f"in {wanted}"
    return 0.1, f"{job.location} is not among your locations"


def _salary_fit(ctx: ScoringContext, job: disc_q.ScoringRow | _NewRow) -> tuple[float, str]:
    best = job.salary_annual_max or job.salary_annual_min
    if best is None:
        return 0.5, "salary not stated"
    if ctx.salary_floor is None or ctx.salary_floor <= 0:
        return 0.7, "no salary floor set"
    if best >= ctx.salary_floor:
        return 1.0, "meets your floor"
    return max(0.0, best / ctx.salary_floor - 0.2), "below your floor"


def _age_days(ctx: ScoringContext, job: disc_q.ScoringRow | _NewRow) -> int | None:
    stamp = job.date_posted or job.date_found
    if not stamp:
        return None
    try:
        day = date.fromisoformat(stamp[:10])
    except ValueError:
        return None
    return max(0, (ctx.today - day).days)


@dataclass(frozen=True, slots=True)
class ScoreSummary:
    scored: int
    average: float | None


def score_jobs(
    db: UserDB,
    *,
    job_ids: Sequence[int] | None = None,
    profile_name: str | None = None,
    progress: Callable[[int, int], None] | None = None,
    cancelled: Callable[[], bool] | None = None,
) -> ScoreSummary:
    """Score the given jobs (all jobs when None) and store score, explanation and gaps."""
    with db.read() as conn:
        ctx = ScoringContext.load(conn, profile_name=profile_name)
        rows = disc_q.scoring_rows(conn, job_ids=job_ids)
    total, done, points = len(rows), 0, 0.0
    for start in range(0, total, SCORE_BATCH):
        if cancelled is not None and cancelled():
            break
        batch = rows[start : start + SCORE_BATCH]
        scored = [(row.id, score_job(ctx, row)) for row in batch]
        with db.write() as conn:
            disc_q.save_scores(
                conn,
                values=[(i, s.score, s.explanation, s.gaps) for i, s in scored],
                now=now_iso(),
            )
        done += len(batch)
        points += sum(s.score for _, s in scored)
        if progress is not None:
            progress(done, total)
    return ScoreSummary(scored=done, average=round(points / done, 1) if done else None)
