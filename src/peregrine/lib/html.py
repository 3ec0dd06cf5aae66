"""Scraped HTML made safe: sanitised HTML for display, plain text for matching and prompts.

Job pages can be enormous (inline scripts, whole SPAs). Input beyond ``MAX_INPUT_CHARS`` is
cut before parsing and output text beyond ``MAX_TEXT_CHARS`` is cut after, so one huge page
costs bounded time and storage. Both limits are documented in docs/scoring.md.
"""

from __future__ import annotations

import html as html_lib
import re

import nh3

MAX_INPUT_CHARS = 2_000_000
MAX_TEXT_CHARS = 100_000
TRUNCATION_MARK = "\n[… truncated]"

_ALLOWED_TAGS = {
    "p", "br", "ul", "ol", "li", "strong", "b", "em", "i", "h1", "h2", "h3", "h4",
    "h5", "h6", "a", "blockquote", "pre", "code", "table", "thead", "tbody", "tr", "td", "th",
}  # fmt: skip
_ALLOWED_ATTRIBUTES = {"a": {"href", "title"}}
_BLOCK_BREAK = re.compile(
    r"<\s*(br|/p|/div|/li|/h[1-6]|/tr|/ul|/ol|/section|/article|/header|/footer)\b[^>]*>", re.I
)
_DROPPED_OPEN = re.compile(r"<(script|style|noscript|template|svg|iframe|head)\b", re.I)
_DROP_WITH_CONTENT = re.compile(
    r"<(script|style|noscript|template|svg|iframe|head)\b.*?</\1\s*>", re.I | re.S
)
_TAG = re.compile(r"<[^>]*>")
_BLANK_LINES = re.compile(r"\n{3,}")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def clean_control(text: str) -> str:
    """Remove control characters (and NULs, which SQLite text would keep) from text."""
    return _CONTROL.sub("", text)


def sanitise_html(raw: str) -> str:
    """Keep a small set of formatting tags; drop scripts, styles, handlers and odd links."""
    return nh3.clean(
        clean_control(raw[:MAX_INPUT_CHARS]),
        tags=_ALLOWED_TAGS,
        clean_content_tags={"script", "style", "template", "noscript"},
        attributes=_ALLOWED_ATTRIBUTES,
        url_schemes={"http", "https", "mailto"},
        link_rel="noopener noreferrer nofollow",
    )


def html_to_text(raw: str, *, limit: int = MAX_TEXT_CHARS) -> str:
    """Readable plain text from HTML (or from text that may hold stray tags)."""
    text = raw[:MAX_INPUT_CHARS]
    if "<" in text:
        # A cheap search first: most descriptions hold no script or style at all.
        if _DROPPED_OPEN.search(text):
            text = _DROP_WITH_CONTENT.sub(" ", text)
        text = _TAG.sub(" ", _BLOCK_BREAK.sub("\n", text))
    if "&" in text:
        text = html_lib.unescape(text)
    # Control characters are removed once, after unescaping (which can produce them).
    text = clean_control(text)
    # str.split() collapses every kind of white space (tabs, NBSP…) at C speed, line by line.
    text = "\n".join(" ".join(line.split()) for line in text.split("\n"))
    text = _BLANK_LINES.sub("\n\n", text).strip()
    return truncate(text, limit)


def truncate(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - len(TRUNCATION_MARK)].rstrip() + TRUNCATION_MARK
