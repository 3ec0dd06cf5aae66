"""Work mode from a listing's words: remote, hybrid, onsite or unknown.

The rule is four case-insensitive whole-word patterns tried in order over each text (see
``detect_work_mode``). Running ``re.IGNORECASE`` patterns that start with ``\\b`` over a
5 kB description makes the engine try every position, so each pattern is instead tried
only where one of its literal words occurs, and the words are found with plain substring
searches of a lower-cased copy: the text itself when it is ASCII, or its UTF-8 bytes,
whose ``lower()`` touches ASCII letters only (so it keeps every multi-byte character
as it is, in one C pass, where ``str.lower`` of non-ASCII text is several times slower).
``tests/unit/test_fast_paths.py`` compares this with the plain search on thousands of
hostile texts.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

# Characters other than A-Z that re.IGNORECASE matches to an ASCII letter: an upper-case
# search would find "ſite" or "İn office", a lower-cased byte copy would not, so text
# holding one takes the plain search (checked over every code point by a test).
FOLDS_TO_ASCII = ("İ", "ı", "ſ", "\u212a")
# How far before a word a match may start when a pattern has an unbounded gap
# ("not   remote", "work from home"): a match starting further back needs a run of 20 or
# more spaces or hyphens inside the window, and such a window is searched from the start.
_WINDOW = 64
_LONG_GAP = re.compile(r"[\s-]{20,}")
# Titles and locations: one regex search costs less than setting up the word search.
_SHORT = 200
_HINT = re.compile(r"remote|hybrid|home|wfh|telecommute|distributed|site|office|person", re.I)


class _Haystack:
    """A lower-cased copy of a sample in which ASCII words are found by offset."""

    __slots__ = ("_mark", "folded", "is_bytes", "seen")

    def __init__(self, folded: str | bytes, is_bytes: bool) -> None:
        self.folded, self.is_bytes = folded, is_bytes
        self.seen: dict[str, bool] = {}  # "remote" is asked about twice
        self._mark = (0, 0)  # (offset, character position) last mapped

    def has(self, word: str) -> bool:
        known = self.seen.get(word)
        if known is None:
            folded = self.folded
            known = word.encode() in folded if isinstance(folded, bytes) else word in folded
            self.seen[word] = known
        return known

    def offsets(self, word: str) -> Iterator[int]:
        needle = word.encode() if self.is_bytes else word
        at = self.folded.find(needle)  # type: ignore[arg-type]
        while at >= 0:
            yield at
            at = self.folded.find(needle, at + 1)  # type: ignore[arg-type]

    def near(self, offset: int, word: str, literals: tuple[str, ...]) -> bool:
        """Whether one of ``literals`` occurs within a few places either side of ``word``.

        Five bytes cover a two-letter word and any one white-space character in UTF-8.
        """
        around = self.folded[max(0, offset - 5) : offset + len(word) + 11]
        if self.is_bytes:
            return any(lit.encode() in around for lit in literals)
        return any(lit in around for lit in literals)

    def position(self, offset: int) -> int:
        """The character position of a byte offset (an ASCII word never starts inside a
        multi-byte character); offsets asked for in order cost one decode in all."""
        if not self.is_bytes:
            return offset
        done, chars = self._mark
        if offset < done:
            done = chars = 0
        data = self.folded
        assert isinstance(data, bytes)
        chars += len(data[done:offset].decode("utf-8", "surrogatepass"))
        self._mark = (offset, chars)
        return chars


_Alternative = tuple[str, tuple[int, ...] | None, tuple[str, ...], re.Pattern[str]]


@dataclass(frozen=True, slots=True)
class _Words:
    """A case-insensitive whole-word pattern of alternatives and where to try it.

    Each alternative names a literal word every match of it contains, the offsets (in
    characters) that word can have from the start of the match (None when the gap before
    it is unbounded: then a window before the word is searched instead), and literals one
    of which every match holds within a few places of the word (a cheap first test).
    """

    pattern: re.Pattern[str]
    alternatives: tuple[_Alternative, ...]

    @classmethod
    def of(cls, *alternatives: tuple[str, tuple[int, ...] | None, tuple[str, ...], str]) -> _Words:
        body = "|".join(regex for *_, regex in alternatives)
        return cls(
            re.compile(rf"\b(?:{body})\b", re.I),
            tuple(
                (word, offsets, near, re.compile(rf"\b(?:{regex})\b", re.I))
                for word, offsets, near, regex in alternatives
            ),
        )

    def found(self, hay: _Haystack | None, text: str) -> bool:
        if hay is None:
            return self.pattern.search(text) is not None
        for word, offsets, near, alone in self.alternatives:
            if not hay.has(word):
                continue
            for offset in hay.offsets(word):
                if near and not hay.near(offset, word, near):
                    continue
                at = hay.position(offset)
                if offsets is not None:
                    # match() at a position still sees the character before it for \b.
                    if any(at >= o and self.pattern.match(text, at - o) for o in offsets):
                        return True
                    continue
                start = max(0, at - _WINDOW)
                if start and _LONG_GAP.search(text, start, at):
                    start = 0
                # One character past the word, so the closing \b sees it; a match cannot
                # end exactly there (the word would then also start one place later).
                end = min(len(text), at + len(word) + 1)
                if alone.search(text, start, end):
                    return True
        return False


_NEG_REMOTE = _Words.of(("remote", None, (), r"no[nt]?[\s-]+remote"))
_HYBRID = _Words.of(("hybrid", (0,), (), "hybrid"))
_REMOTE = _Words.of(
    ("remote", (0,), (), "remote"),
    ("home", None, (), r"work\s+from\s+home"),
    ("wfh", (0,), (), "wfh"),
    ("telecommute", (0,), (), "telecommute"),
    ("distributed", (0,), (), r"distributed\s+team"),
)
_ONSITE = _Words.of(
    ("site", (2, 3), ("on",), r"on[\s-]?site"),
    ("office", (0, 3), ("in", "based"), r"in[\s-]office|office[\s-]based"),
    ("person", (3,), ("in",), r"in[\s-]person"),
)


def _haystack(sample: str) -> _Haystack | None:
    if len(sample) < _SHORT:
        return None
    if sample.isascii():
        return _Haystack(sample.lower(), False)
    if any(ch in sample for ch in FOLDS_TO_ASCII):
        return None
    return _Haystack(sample.encode("utf-8", "surrogatepass").lower(), True)


def detect_work_mode(*texts: str) -> str:
    """remote / hybrid / onsite / unknown from title, location, then description."""
    for text in texts:
        if not text:
            continue
        sample = text[:20_000]
        hay = _haystack(sample)
        if hay is None and not _HINT.search(sample):
            continue
        if _HYBRID.found(hay, sample):
            return "hybrid"
        if _NEG_REMOTE.found(hay, sample):
            return "onsite"
        if _REMOTE.found(hay, sample):
            return "remote"
        if _ONSITE.found(hay, sample):
            return "onsite"
    return "unknown"
