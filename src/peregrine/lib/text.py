"""Text normalisation shared by storage keys, de-duplication and matching."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from functools import lru_cache

_COMPANY_SUFFIXES = re.compile(
    r"\b(inc|incorporated|llc|l\.l\.c|ltd|limited|corp|corporation|co|company|gmbh|ag|sa|"
    r"s\.a|plc|bv|b\.v|oy|ab|as|srl|pty|pvt|holdings?|group|technologies|technology)\b\.?",
)
_NON_WORD = re.compile(r"[^\w+#.]+")


def fold(text: str) -> str:
    """Lower-case, strip accents and collapse white space."""
    if text.isascii():
        # Nothing to decompose: skipping the per-character loop makes this ~20x faster.
        return " ".join(text.lower().split())
    # Accents are stripped character by character, only for the few distinct characters
    # that change. That equals stripping the NFKD of the whole text: canonical reordering
    # only moves combining marks (non-zero combining class) among themselves, and those are
    # exactly what is stripped. Descriptions are mostly ASCII plus a few curly quotes and
    # accents, so this costs one C-speed pass instead of a Python loop over the text.
    for char in set(_ASCII_RUN.sub("", text)):
        plain = _strip_accents(char)
        if plain != char:
            # ``plain`` holds only characters that strip to themselves, so a later
            # replacement never touches what an earlier one produced.
            text = text.replace(char, plain)
    return " ".join(text.lower().split())


_ASCII_RUN = re.compile(r"[\x00-\x7f]+")


def refold(folded: str) -> str:
    """``fold(folded)`` for a text ``fold`` returned, cheaply: almost always the text itself.

    Folding twice is not always a no-op ("İ" lower-cases to "i" plus a combining dot, which
    the second pass strips), so this checks the few distinct non-ASCII characters instead
    of assuming.
    """
    if folded.isascii():
        return folded
    for char in set(_ASCII_RUN.sub("", folded)):
        if _strip_accents(char) != char or char.lower() != char:
            return fold(folded)
    return folded


@lru_cache(maxsize=8_192)
def _strip_accents(char: str) -> str:
    decomposed = unicodedata.normalize("NFKD", char)
    return "".join(ch for ch in decomposed if not unicodedata.combining(ch))


# re.IGNORECASE also lets these match ASCII letters ("ı" and "İ" match "i", "ſ" matches "s")
# although str.lower() does not turn them into those letters; tests/unit/test_fast_paths.py
# checks over every code point that no other character does this.
CASE_TRAPS = ("\u0130", "\u0131", "\u017f")


def lower_aligned(text: str) -> str | None:
    """``text.lower()`` when a case-sensitive search of it for lower-case ASCII literals
    finds, at the same positions, exactly what a case-insensitive search of ``text`` finds;
    otherwise None.

    Lower-casing once and scanning for plain literals is an order of magnitude faster than
    running ``re.IGNORECASE`` patterns that start with a word boundary (the engine has no
    literal prefix to scan for).
    """
    if text.isascii():
        return text.lower()
    if any(trap in text for trap in CASE_TRAPS):
        return None
    lowered = text.lower()
    # Each character became exactly one character, so positions line up.
    return lowered if len(lowered) == len(text) else None


def normalise_company(name: str) -> str:
    """'Acme, Inc.' and 'ACME Corporation' both become 'acme'."""
    folded = fold(name).replace("&", " and ")
    folded = _COMPANY_SUFFIXES.sub(" ", folded)
    folded = re.sub(r"[^\w]+", " ", folded)
    return " ".join(folded.split())


def normalise_title(title: str) -> str:
    """Lower-case title with punctuation reduced; keeps C++, C#, .NET intact."""
    folded = fold(title)
    folded = _NON_WORD.sub(" ", folded)
    return " ".join(part.rstrip(".") or part for part in folded.split())


def keyword_pattern(terms: Iterable[str]) -> re.Pattern[str] | None:
    """A case-insensitive pattern matching any term as a whole word.

    Word boundaries are computed by look-around on word characters rather than ``\\b``, so
    terms that start or end with punctuation (C++, .NET) still match as whole words and
    'intern' does not match 'internal'.
    """
    cleaned = sorted({t.strip() for t in terms if t and t.strip()}, key=len, reverse=True)
    if not cleaned:
        return None
    body = "|".join(re.escape(fold(t)) for t in cleaned)
    return re.compile(rf"(?<![\w+#])(?:{body})(?![\w+#])")


def find_keywords(pattern: re.Pattern[str] | None, text: str) -> set[str]:
    if pattern is None:
        return set()
    return {m.group(0) for m in pattern.finditer(fold(text))}
