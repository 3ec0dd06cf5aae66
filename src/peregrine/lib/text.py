"""Text normalisation shared by storage keys, de-duplication and matching."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

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
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.lower().split())


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
