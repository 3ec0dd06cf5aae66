"""Words of job titles and descriptions: the tokeniser, seniority levels, title similarity.

Seniority is read from whole words, never substrings: "Director" is not "CTO", "intern" is
not "internal", and "Senior" in "Senior Director" does not make it a senior IC role.
"""

from __future__ import annotations

import re
from functools import lru_cache
from itertools import chain

from peregrine.lib.text import fold

# Keeps C++, C#, F#, .NET, Node.js, ASP.NET, CI/CD, TCP/IP and similar as single terms.
_TOKEN = re.compile(r"\.?[a-z0-9][a-z0-9+#]*(?:[./&][a-z0-9][a-z0-9+#]*)*")


def fast_fold(text: str) -> str:
    """``fold`` with a fast path: most listings are ASCII and need only lower-casing."""
    if text.isascii():
        return text.lower()
    return fold(text)


def tokenise(text: str) -> list[str]:
    """Lower-case terms, keeping punctuation that belongs to the term (C++, Node.js, CI/CD)."""
    return _TOKEN.findall(fast_fold(text))


def token_set(text: str) -> set[str]:
    """``set(tokenise(text))``, faster on long texts such as descriptions."""
    return folded_token_set(fast_fold(text))


def folded_token_set(folded: str) -> set[str]:
    """``token_set`` of a text that is already ``fast_fold``-ed.

    A token never holds white space, so the tokens of a text are the tokens of its
    white-space separated words. A description repeats most of its words, and words recur
    across descriptions, so each distinct word is tokenised once (cached); map, chain and
    set keep the loop in C.
    """
    return set(chain.from_iterable(map(_word_tokens, set(folded.split()))))


@lru_cache(maxsize=65_536)  # pure; bounded, and job-ad vocabulary is small
def _word_tokens(word: str) -> tuple[str, ...]:
    return tuple(_TOKEN.findall(word))


# Level by word; multi-word titles take the highest level present.
_LEVEL_WORDS: dict[str, tuple[int, str]] = {
    "intern": (0, "intern"), "internship": (0, "intern"), "trainee": (0, "intern"),
    "apprentice": (0, "intern"), "graduate": (1, "junior"), "junior": (1, "junior"),
    "jr": (1, "junior"), "entry": (1, "junior"), "associate": (1, "junior"),
    "mid": (2, "mid"), "intermediate": (2, "mid"),
    "senior": (3, "senior"), "sr": (3, "senior"),
    "staff": (4, "staff"), "principal": (4, "staff"), "lead": (4, "staff"),
    "architect": (4, "staff"), "distinguished": (5, "staff"),
    "manager": (4, "manager"), "head": (5, "director"), "director": (5, "director"),
    "vp": (6, "vp"), "svp": (6, "vp"), "evp": (6, "vp"), "president": (6, "vp"),
    "cto": (7, "executive"), "ceo": (7, "executive"), "cfo": (7, "executive"),
    "coo": (7, "executive"), "cio": (7, "executive"), "ciso": (7, "executive"),
    "cpo": (7, "executive"), "chief": (7, "executive"), "founder": (7, "executive"),
}  # fmt: skip
_ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4}
SENIORITY_WORDS = frozenset(_LEVEL_WORDS)
_STOP = frozenset({"and", "or", "the", "a", "an", "of", "for", "in", "at", "to", "with", "m",
                   "f", "d", "w", "x", "h", "remote", "hybrid", "onsite", "fully", "us", "eu",
                   "uk", "contract", "full-time", "part-time", "time", "full", "part"})  # fmt: skip


def seniority(tokens: list[str]) -> tuple[int, str] | None:
    """(level, name) of the most senior word in a title, or None when it does not say."""
    best: tuple[int, str] | None = None
    for token in tokens:
        found = _LEVEL_WORDS.get(token)
        if found and (best is None or found[0] > best[0]):
            best = found
    if best is None:
        for token in tokens:
            if token in _ROMAN:
                return (min(_ROMAN[token], 3), "senior" if _ROMAN[token] >= 3 else "mid")
        if "vice" in tokens and "president" in tokens:
            return (6, "vp")
    return best


def core_words(tokens: list[str]) -> frozenset[str]:
    """Title words that say what the job is, without seniority and filler words."""
    return frozenset(
        t for t in tokens if t not in SENIORITY_WORDS and t not in _STOP and t not in _ROMAN
    )


def titles_similar(a: str, b: str) -> bool:
    """Same role: same seniority and mostly the same core words ('Sr. Python Dev' ~ …)."""
    ta, tb = tokenise(a), tokenise(b)
    if ta == tb:
        return True
    sa, sb = seniority(ta), seniority(tb)
    if (sa[0] if sa else None) != (sb[0] if sb else None):
        return False
    ca, cb = core_words(ta), core_words(tb)
    if not ca or not cb:
        return False
    overlap = len(ca & cb) / len(ca | cb)
    return overlap >= 0.75
