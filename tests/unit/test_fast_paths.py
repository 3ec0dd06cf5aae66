"""The discovery fast paths give exactly what the straightforward code they replaced gave.

Each ``_old_*`` function below is the earlier implementation, kept here as the oracle; the
product code is compared with it on the recorded source fixtures and on a few thousand
seeded random texts built from the pieces that make these functions take their branches
(accents, curly quotes, combining marks, characters outside the BMP, the characters that
``re.IGNORECASE`` treats specially, odd white space, control characters, tags, entities).
"""

from __future__ import annotations

import html as html_lib
import json
import random
import re
import string
import sys
import unicodedata
import urllib.parse
from pathlib import Path

import pytest

from peregrine.lib import html as html_mod
from peregrine.lib import text as text_mod
from peregrine.lib import urls as urls_mod
from peregrine.lib.text import CASE_TRAPS, fold, lower_aligned, refold
from peregrine.services import normalise, work_mode
from peregrine.services import scoring as scoring_mod
from peregrine.services.normalise import detect_work_mode, to_new_job
from peregrine.services.scoring import (
    ScoringContext,
    _phrase_in,
    _terms_in,
    _title_fit,
    score_job,
)
from peregrine.services.titles import (
    core_words,
    fast_fold,
    folded_token_set,
    seniority,
    token_set,
    tokenise,
)
from peregrine.sources.base import RawListing
from peregrine.storage.queries.discovery import ScoringRow

FIXTURES = Path(__file__).parent.parent / "fixtures" / "sources"


def _old_fold(text: str) -> str:
    if text.isascii():
        return " ".join(text.lower().split())
    decomposed = unicodedata.normalize("NFKD", text)
    stripped = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return " ".join(stripped.lower().split())


_OLD_NEG_REMOTE = re.compile(r"\b(no|not|non)[\s-]+remote\b", re.I)
_OLD_HYBRID = re.compile(r"\bhybrid\b", re.I)
_OLD_REMOTE = re.compile(
    r"\b(remote|work\s+from\s+home|wfh|telecommute|distributed\s+team)\b", re.I
)
_OLD_ONSITE = re.compile(r"\b(on[\s-]?site|in[\s-]office|office[\s-]based|in[\s-]person)\b", re.I)
_OLD_HINT = re.compile(r"remote|hybrid|home|wfh|telecommute|distributed|site|office|person", re.I)


def _old_detect_work_mode(*texts: str) -> str:
    for text in texts:
        if not text:
            continue
        sample = text[:20_000]
        if not _OLD_HINT.search(sample):
            continue
        if _OLD_HYBRID.search(sample):
            return "hybrid"
        if _OLD_NEG_REMOTE.search(sample):
            return "onsite"
        if _OLD_REMOTE.search(sample):
            return "remote"
        if _OLD_ONSITE.search(sample):
            return "onsite"
    return "unknown"


def _old_html_to_text(raw: str, *, limit: int = html_mod.MAX_TEXT_CHARS) -> str:
    text = raw[: html_mod.MAX_INPUT_CHARS]
    if "<" in text:
        if html_mod._DROPPED_OPEN.search(text):
            text = html_mod._DROP_WITH_CONTENT.sub(" ", text)
        text = html_mod._TAG.sub(" ", html_mod._BLOCK_BREAK.sub("\n", text))
    if "&" in text:
        text = html_lib.unescape(text)
    text = html_mod.clean_control(text)
    text = "\n".join(" ".join(line.split()) for line in text.split("\n"))
    text = re.sub(r"\n{3,}", "\n\n", text).strip()
    return html_mod.truncate(text, limit)


PIECES = [
    "remote", "Remote", "REMOTE", "not remote", "Non-Remote", "no  remote", "hybrid",
    "Hybrid", "hybrids", "work from home", "Work\tFrom\nHome", "WFH", "telecommute",
    "distributed team", "on-site", "Onsite", "on site", "in-office", "office based",
    "in person", "website", "person", "personal", "home", "office", "ſite", "İn office",
    "ınoffice", "onſite", "in perſon", "diſtributed team", "K", "hybrİd", "remoteſ", "é",
    "É", "’", "—", "•", "ﬁ", "Ⅻ", "\u0301",
    "e\u0301", "\u0316\u0301", "\U0001d15e", "\U0001d165", "😀", "ß", " ", " ", "  ", "\n",
    "\n\n", "\n\n\n\n", "\t", "\r", "\xa0", "\u2009", "\x1c", "\x1f", "\x00", "\x0b", "\x85",
    "\u2028", "\u200b", "\xad", "<p>",
    "</p>", "<br>", "<br/>", "<li>", "</li>", "<div class='x'>", "</div>", "<script>x()</script>",
    "<STYLE>p{}</STYLE>", "&amp;", "&nbsp;", "&#8217;", "&lt;b&gt;", "&#0;", "C++", "c#",
    ".NET", "Node.js", "CI/CD", "machine learning", "Machine\nLearning", "machine learnings",
    "github actions", "python,", "(python)", "go", "google", "java", "javascript", "r&d",
    "a.b.c", "+#", "x" * 40, "Senior", "Sr.", "Engineer", "director", "CTO",
]  # fmt: skip


def _samples(count: int, *, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        parts = rng.choices(PIECES, k=rng.randrange(1, 30))
        out.append("".join(p + rng.choice(["", " ", " ", "\n", ",", "-"]) for p in parts))
    return out


def _fixture_texts() -> list[str]:
    texts = [path.read_text(encoding="utf-8", errors="replace") for path in FIXTURES.iterdir()]

    def strings(value: object) -> list[str]:
        if isinstance(value, str):
            return [value]
        if isinstance(value, dict):
            return [s for v in value.values() for s in strings(v)]
        if isinstance(value, list):
            return [s for v in value for s in strings(v)]
        return []

    for path in FIXTURES.glob("*.json"):
        texts.extend(strings(json.loads(path.read_text(encoding="utf-8"))))
    return texts


CORPUS = _fixture_texts() + _samples(3_000, seed=5)


def test_only_known_characters_match_ascii_letters_ignoring_case_yet_lower_elsewhere() -> None:
    every = "".join(chr(i) for i in range(sys.maxunicode + 1) if not 0xD800 <= i < 0xE000)
    matching = set(re.findall("[a-z]", every, re.I))
    lowering = {c for c in every if c.lower() in set(string.ascii_lowercase)}
    assert matching - lowering == set(CASE_TRAPS)
    assert lowering <= matching


def test_lower_aligned_keeps_positions_or_declines() -> None:
    for text in CORPUS:
        lowered = lower_aligned(text)
        if lowered is None:
            assert any(trap in text for trap in CASE_TRAPS) or len(text.lower()) != len(text)
        else:
            assert lowered == text.lower()
            assert len(lowered) == len(text)


def test_fold_gives_what_the_character_loop_gave() -> None:
    text_mod._strip_accents.cache_clear()
    for text in CORPUS:
        assert fold(text) == _old_fold(text), repr(text)


def test_work_mode_detection_gives_what_the_case_insensitive_search_gave() -> None:
    modes = set()
    for text in CORPUS:
        expected = _old_detect_work_mode(text)
        modes.add(expected)
        assert detect_work_mode(text) == expected, repr(text)
        assert detect_work_mode("", text[:7], text) == _old_detect_work_mode("", text[:7], text)
    assert modes == {"remote", "hybrid", "onsite", "unknown"}  # every branch was exercised


MODE_PIECES = [
    "no" + " " * 70 + "remote", "not" + "-" * 30 + " remote", "non -\t- remote", "no" + " " * 19,
    "work" + " " * 40 + "from\u2009home", "work from" + "\n" * 25 + "home", "worK from home",
    "WORK FROM HOME", "on\u00a0site", "on\u3000site", "in\u2028person", "office\u205fbased",
    "’remote’", "éremote", "remoteé", "«hybrid»", "hybridé", "distributed\u2028team",
    "distributedteam", "websites", "on-sites", "in-offices", "İnperson", "\U0001f600remote",
    "\ud800remote", "remote\udfff", "ª", "µ", "Ω",
]  # fmt: skip


def test_only_the_listed_characters_fold_to_ascii_letters_outside_ascii() -> None:
    every = "".join(chr(i) for i in range(0x80, sys.maxunicode + 1) if not 0xD800 <= i < 0xE000)
    assert set(re.findall("[a-z]", every, re.I)) == set(work_mode.FOLDS_TO_ASCII)


def test_work_mode_found_by_byte_positions_is_what_the_plain_search_finds() -> None:
    rng = random.Random(11)
    pieces = PIECES + MODE_PIECES * 3
    modes = set()
    for _ in range(4_000):
        parts = rng.choices(pieces, k=rng.randrange(1, 40))
        text = "".join(p + rng.choice(["", " ", "\n", "é", "’", "-"]) for p in parts)
        # Short texts take the plain search; padded ones the word search over a copy.
        for padded in (text, text + " " * 200, "é" * 150 + " " + text, "x " * 120 + text):
            expected = _old_detect_work_mode(padded)
            modes.add(expected)
            assert detect_work_mode(padded) == expected, repr(padded)
    assert modes == {"remote", "hybrid", "onsite", "unknown"}


def test_html_to_text_gives_what_the_regex_version_gave() -> None:
    for text in CORPUS:
        assert html_mod.html_to_text(text) == _old_html_to_text(text), repr(text)
        assert html_mod.html_to_text(text, limit=40) == _old_html_to_text(text, limit=40)


def test_control_characters_are_removed_as_the_regex_removed_them() -> None:
    every = "".join(chr(i) for i in range(0x800)) + "\ud800\udfff\ud83d\ude00\U0001f600"
    for text in [*CORPUS, every, every * 3]:
        for piece in (text, text * 20):
            assert html_mod.clean_control(piece) == html_mod._CONTROL.sub("", piece), repr(text)


def test_unescape_gives_what_html_unescape_gives() -> None:
    tricky = ["&amp;lt;", "&amp;amp;", "&amp", "&amp;&", "a&amp;b&amp;#38;", "&AMP;", "&amp;;"]
    for text in [*CORPUS, *tricky, "".join(tricky)]:
        assert html_mod.unescape(text) == html_lib.unescape(text), repr(text)


def test_refold_gives_what_folding_twice_gives() -> None:
    for text in [*CORPUS, "İstanbul", "Straße ǅ Σ ΑΣ"]:
        once = fold(text)
        assert refold(once) == fold(once), repr(text)


def test_token_set_is_the_set_of_tokens() -> None:
    for text in CORPUS:
        assert token_set(text) == set(tokenise(text)), repr(text)


def test_phrases_are_found_where_a_full_search_finds_them() -> None:
    ctx = ScoringContext.build(
        skills=["machine learning", "C++", "github actions"], preferred=["r&d", "a.b"]
    )
    assert ctx.phrases
    for text in CORPUS:
        folded = _old_fold(text)
        for term, pattern in ctx.phrases.items():
            expected = term in folded and pattern.search(folded) is not None
            assert _phrase_in(term, pattern, folded) == expected, (term, folded)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_a_listing_normalises_the_same_through_the_old_and_new_paths(
    seed: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    rng = random.Random(seed)
    listings = []
    for n, description in enumerate(_samples(300, seed=seed) + _fixture_texts()[:20]):
        listings.append(
            RawListing(
                source=rng.choice(["greenhouse", "linkedin", "feeds"]),
                title=rng.choice(PIECES) + " Engineer",
                url=f"https://jobs.example.org/{n}?utm_source=x",
                company=rng.choice(["Acme, Inc.", "Globex GmbH", "Écru Ltd"]),
                location=rng.choice(["Austin, TX", "Remote", "Berlin (hybrid)", ""]),
                description=rng.choice(["<p>", ""]) + description,
                salary_text=rng.choice(["$45/hr", "", "up to £70,000 a year"]),
                date_posted="2026-11-20",
            )
        )
    new = [to_new_job(raw) for raw in listings]
    monkeypatch.setattr(normalise, "detect_work_mode", _old_detect_work_mode)
    monkeypatch.setattr(normalise, "html_to_text", _old_html_to_text)
    old = [to_new_job(raw) for raw in listings]
    assert new == old


def test_scoring_finds_the_same_skills_as_tokenising_the_folded_text_twice() -> None:
    ctx = ScoringContext.build(
        skills=["Python", "C++", "machine learning", "Go", "Straße", "İnsight"],
        preferred=["github actions", "r&d"],
    )
    for n, description in enumerate(CORPUS):
        row = ScoringRow(n, "Senior Engineer", "Acme", "", "unknown", description,
                         None, None, None, "2026-11-27")  # fmt: skip
        text = (
            _old_fold(f"{row.title}\n{row.description}")
            if not (f"{row.title}\n{row.description}".isascii())
            else f"{row.title}\n{row.description}".lower()
        )
        expected = set(ctx.single.intersection(tokenise(text)))
        expected.update(t for t, p in ctx.phrases.items() if t in text and p.search(text))
        explanation = score_job(ctx, row).explanation["skills"]
        assert set(explanation["matched"]) | set(explanation["missing"]) == expected, repr(text)


def _old_canonical_url(raw: str) -> str:
    url = raw.strip()
    if not url:
        raise urls_mod.InvalidURLError("the URL is empty")
    if len(url) > urls_mod.MAX_URL_LENGTH:
        raise urls_mod.InvalidURLError(
            f"the URL is longer than {urls_mod.MAX_URL_LENGTH} characters"
        )
    if urls_mod._SPACE_OR_CONTROL.search(url):
        raise urls_mod.InvalidURLError("the URL contains spaces or control characters")
    parts = urllib.parse.urlsplit(url)
    scheme = parts.scheme.lower()
    if scheme not in {"http", "https"}:
        raise urls_mod.InvalidURLError(f"only http and https links are accepted, not {raw!r}")
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        raise urls_mod.InvalidURLError(f"the URL has no host name: {raw!r}")
    try:
        port = parts.port
    except ValueError:
        raise urls_mod.InvalidURLError(f"the URL has an invalid port: {raw!r}") from None
    netloc = host if ":" not in host else f"[{host}]"
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        netloc = f"{netloc}:{port}"
    path = re.sub(r"/{2,}", "/", parts.path) or "/"

    special = urls_mod._known_board(host, path, parts.query)
    if special:
        return special

    pairs = urllib.parse.parse_qsl(parts.query, keep_blank_values=False)
    query = [(k, v) for k, v in pairs if not urls_mod._TRACKING.match(k)]
    query.sort()
    if len(path) > 1:
        path = path.rstrip("/")
    return urllib.parse.urlunsplit((scheme, netloc, path, urllib.parse.urlencode(query), ""))


URL_PIECES = {
    "scheme": ["https://", "http://", "HTTPS://", "Http://", "ftp://", "javascript:", "https:/",
               "", "https:///", "//"],
    "host": ["example.org", "Jobs.Example.COM", "a.com.", "...", "", "[::1]", "[::1",
             "user:pw@h.com", "h.com:8080", "h.com:443", "h.com:80", "h.com:99999", "h.com:x",
             "xn--bcher-kva.de", "bücher.de", "www.linkedin.com", "linkedin.com",
             "de.indeed.com", "indeed.com", "boards.greenhouse.io", "-a-.b-", "a_b.com"],
    "path": ["", "/", "//", "/a//b/", "///x///", "/jobs/view/12345678/",
             "/jobs/view/eng-at-x-3900000001", "/jobs/view/x-12", "/viewjob", "/p%20q/",
             "/ü", "/a;b=c", "/A/B", "/x/"],
    "query": ["", "?", "?a=1&b=2", "?b=2&a=1&a=0", "?utm_source=x&b=&c", "?&&x=1&",
              "?jk=0123abcd0123abcd", "?vjk=zz", "?jk=0123abcd0123abcd&from=serp",
              "?currentJobId=1234567", "?currentJobId=x", "?q=a+b", "?q=%3D%3d", "?q=%7e",
              "?x=1;y=2", "?=1", "?REF=1&Ref=2&gh_src=x", "?q=café", "?a=1?b=2",
              "?refId=x&trackingId=y%3D%3D", "?lever-source=bench&v=~_.-", "?q=a%26b",
              "?utm_medium=api&se=abc&v=1", "?x==1", "?x=1=2"],
    "fragment": ["", "#", "#x", "#a?b=1", "#/p?q=1"],
}  # fmt: skip


def _urls(count: int, *, seed: int) -> list[str]:
    rng = random.Random(seed)
    out = []
    for _ in range(count):
        url = "".join(rng.choice(options) for options in URL_PIECES.values())
        if rng.random() < 0.2:
            url = rng.choice([" ", "\t", "", "\n"]) + url + rng.choice([" ", "x" * 2100, ""])
        if rng.random() < 0.1:
            cut = rng.randrange(len(url) + 1)
            url = url[:cut] + rng.choice(PIECES) + url[cut:]
        out.append(url)
    return out


def _outcome(function: object, url: str) -> tuple[str, str]:
    try:
        return ("ok", function(url))  # type: ignore[operator]
    except Exception as exc:  # the oracle's failures are compared too
        return (type(exc).__name__, str(exc))


def test_canonical_urls_are_what_urlsplit_parse_qsl_and_urlencode_gave() -> None:
    urls_mod._is_tracking.cache_clear()
    fast_shaped = 0
    for url in [
        *_urls(6_000, seed=7),
        "https://www.linkedin.com/jobs/view/engineer-at-acme-3900000001?refId=x&trackingId=y%3D%3D",
        "https://www.indeed.com/viewjob?jk=00000000000001a4&from=serp&vjs=3",
        "https://remote.example.org/jobs/12-acme?utm_source=rss&utm_medium=feed",
    ]:
        fast_shaped += urls_mod._PLAIN.fullmatch(url.strip()) is not None
        assert _outcome(urls_mod.canonical_url, url) == _outcome(_old_canonical_url, url), url
    assert fast_shaped > 300  # the fast path itself was exercised, not only the general one


def _old_terms(ctx: ScoringContext, title: str, description: str) -> set[str]:
    """What ``score_job`` found before the word memo: fold the whole text, tokenise the
    twice-folded text, search the phrases in the folded text."""
    text = fast_fold(f"{title}\n{description}")
    again = text if text.isascii() else refold(text)
    present = set(ctx.single.intersection(folded_token_set(again)))
    present.update(t for t, p in ctx.phrases.items() if t in text and _phrase_in(t, p, text))
    return present


def _old_title_fit(ctx: ScoringContext, title: str) -> tuple[object, ...]:
    title_tokens = tokenise(title)
    title_words = core_words(title_tokens)
    level = seniority(title_tokens)
    best_title, title_score, wanted_level = "", 0.5 if not ctx.wanted_titles else 0.0, None
    for wanted, words, wanted_lvl in ctx.wanted_titles:
        overlap = len(words & title_words) / len(words) if words else float(not title_words)
        if overlap > title_score or not best_title:
            best_title, title_score, wanted_level = wanted, overlap, wanted_lvl
    return best_title, title_score, wanted_level, level


def _hostile_context() -> ScoringContext:
    return ScoringContext.build(
        skills=["Python", "C++", "machine learning", "Go", "Straße", "İnsight", "e\u0301cole",
                "node.js!", "a  b", "ﬁle", "Σίσυφος"],
        preferred=["github actions", "r&d", "a.b", "x" * 40 + " go", "senior engineer",
                   "deep machine learning", "a b c"],
        titles=["Senior Python Engineer", "CTO", "Staff ML Engineer"],
        locations=["Austin, TX", "Berlin"],
    )  # fmt: skip


def test_word_memo_finds_the_terms_that_folding_the_whole_text_found() -> None:
    # One context for the whole corpus, as in a discovery run: the memo fills up as it goes,
    # so later texts are read mostly from what earlier ones taught it.
    ctx = _hostile_context()
    extra = [
        "Straße\u00a8ﬁle Σ ΑΣ ς İnsight", "machine\u00a8learning", "machine\nlearning",
        "x\u0301 machine learning\u0301", "\u0301\u0301 \u00a8 \u3000go\u2028go\x1cgo",
        "é machine \u0301 learning", "é machine\u00a8 learning", "é deep\u00a8machine learning",
        "é deep machine\u00a8learning", "é deep machine \u0301\u0301 learning!",
        "é " + "machine " * 30 + "learning", "é " + "machine x " * 30 + "learning",
        "é a b a b c", "é a\u00a8b c", "é _deep machine learning", "é deep machine learning_",
        "é deep machine learningé", "é machine " + "\u0301 " * 12 + "learning",
        "é machine " + "\u0301 " * 12 + "learning x\u0301", "é ádeep machine learning",
        "machine", "é learning",
    ]  # fmt: skip
    for n, description in enumerate([*CORPUS, *extra, *CORPUS[:200]]):
        title = PIECES[n % len(PIECES)] + " Engineer"
        assert _terms_in(ctx, f"{title}\n{description}") == _old_terms(ctx, title, description), (
            repr(title),
            repr(description),
        )
    assert ctx.memo.seen
    assert ctx.memo.relevant


def test_word_memo_starts_over_when_full(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(scoring_mod, "MEMO_WORDS", 50)
    ctx = _hostile_context()
    for description in CORPUS[:500]:
        assert _terms_in(ctx, f"\n{description}") == _old_terms(ctx, "", description)
        assert len(ctx.memo.seen) <= 50 + len(set(description.split()))


def test_title_memo_gives_what_the_title_loop_gave() -> None:
    ctx = _hostile_context()
    for text in [*PIECES, *CORPUS[:500], *PIECES]:
        title = text[:80]
        assert _title_fit(ctx, title) == _old_title_fit(ctx, title), repr(title)


def test_white_space_folds_to_white_space_only() -> None:
    # Folding word by word equals folding the text only if no white space character folds
    # into something else, and no other character lower-cases into white space.
    every = [chr(i) for i in range(sys.maxunicode + 1) if not 0xD800 <= i < 0xE000]
    for char in every:
        if char.isspace():
            stripped = text_mod._strip_accents(char)
            assert stripped.isspace(), hex(ord(char))  # never empty: "".isspace() is False
        else:
            assert not any(c.isspace() for c in char.lower()), hex(ord(char))
