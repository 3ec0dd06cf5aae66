"""Scraped HTML made safe: sanitised HTML for display, plain text for matching and prompts.

Job pages can be enormous (inline scripts, whole SPAs). Input beyond ``MAX_INPUT_CHARS`` is
cut before parsing and output text beyond ``MAX_TEXT_CHARS`` is cut after, so one huge page
costs bounded time and storage. Both limits are documented in docs/scoring.md.
"""

from __future__ import annotations

import html as html_lib
import re

import nh3
from markupsafe import escape

MAX_INPUT_CHARS = 2_000_000
MAX_TEXT_CHARS = 100_000
TRUNCATION_MARK = "\n[… truncated]"

_ALLOWED_TAGS = frozenset(
    {
        "a", "b", "blockquote", "br", "code", "dd", "div", "dl", "dt", "em", "h1", "h2", "h3",
        "h4", "h5", "h6", "hr", "i", "li", "ol", "p", "pre", "s", "small", "span", "strong",
        "sub", "sup", "table", "tbody", "td", "th", "thead", "tr", "u", "ul",
    }
)  # fmt: skip
_ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "td": {"colspan", "rowspan"}, "th": {"colspan"}}
# Only web and mail links survive; javascript:, data: and friends are dropped with the href.
_URL_SCHEMES = frozenset({"http", "https", "mailto"})
_BLOCK_BREAK = re.compile(
    r"<\s*(br|/p|/div|/li|/h[1-6]|/tr|/ul|/ol|/section|/article|/header|/footer)\b[^>]*>", re.I
)
_DROPPED_OPEN = re.compile(r"<(script|style|noscript|template|svg|iframe|head)\b", re.I)
_DROP_WITH_CONTENT = re.compile(
    r"<(script|style|noscript|template|svg|iframe|head)\b.*?</\1\s*>", re.I | re.S
)
_TAG = re.compile(r"<[^>]*>")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_CONTROL_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20), 0x7F])
# Below this length the regex is as quick as the three C passes of the byte route.
_SHORT = 256


def clean_control(text: str) -> str:
    """Remove control characters (and NULs, which SQLite text would keep) from text."""
    if len(text) < _SHORT:
        return _CONTROL.sub("", text)
    # In UTF-8 these bytes only ever stand for themselves (every byte of a multi-byte
    # character is >= 0x80), so deleting them from the bytes deletes exactly those
    # characters; bytes.translate does it at memory speed where the regex tries every
    # position. surrogatepass lets lone surrogates (from JSON escapes) round-trip.
    data = text.encode("utf-8", "surrogatepass").translate(None, _CONTROL_BYTES)
    return data.decode("utf-8", "surrogatepass")


def sanitise_html(raw: str) -> str:
    """Keep a small set of formatting tags; drop scripts, styles, handlers and odd links."""
    return nh3.clean(
        clean_control(raw[:MAX_INPUT_CHARS]),
        tags=set(_ALLOWED_TAGS),
        clean_content_tags={"script", "style", "template", "noscript"},
        attributes={k: set(v) for k, v in _ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(_URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
        strip_comments=True,
    )


def sanitise(html: str) -> str:
    """Markup safe to show: sanitised HTML, or plain text escaped with its line breaks kept."""
    if "<" not in html:
        return str(escape(clean_control(html))).replace("\n", "<br>\n")
    return sanitise_html(html)


def html_to_text(raw: str, *, limit: int = MAX_TEXT_CHARS) -> str:
    """Readable plain text from HTML (or from text that may hold stray tags)."""
    text = raw[:MAX_INPUT_CHARS]
    if "<" in text:
        # A cheap search first: most descriptions hold no script or style at all.
        if _DROPPED_OPEN.search(text):
            text = _DROP_WITH_CONTENT.sub(" ", text)
        text = _TAG.sub(" ", _BLOCK_BREAK.sub("\n", text))
    if "&" in text:
        text = unescape(text)
    # Control characters are removed once, after unescaping (which can produce them).
    text = clean_control(text)
    # Each line's white space (tabs, NBSP…) collapsed to single spaces; runs of blank lines
    # become one, and none lead or trail (one pass, no regex).
    kept: list[str] = []
    gap = False
    for raw_line in text.split("\n"):
        if raw_line.isprintable() and "  " not in raw_line:
            # The usual line: its only white space is single ASCII spaces (every other
            # white-space character is unprintable), so stripping the ends is enough and
            # costs far less than splitting it into words and joining them again.
            line = raw_line.strip(" ")
        else:
            line = " ".join(raw_line.split())
        if line:
            if gap and kept:
                kept.append("")
            kept.append(line)
            gap = False
        else:
            gap = True
    return truncate("\n".join(kept), limit)


def unescape(text: str) -> str:
    """``html.unescape``; when every "&" starts "&amp;" (the usual case), one C replace.

    unescape reads each "&amp;" as "&" in a single left-to-right pass, so "&amp;lt;" stays
    "&lt;"; ``str.replace`` does not rescan what it wrote either, so the two agree.
    """
    if text.count("&") == text.count("&amp;"):
        return text.replace("&amp;", "&")
    return html_lib.unescape(text)


def truncate(text: str, limit: int = MAX_TEXT_CHARS) -> str:
    if len(text) <= limit:
        return text
    return text[: limit - len(TRUNCATION_MARK)].rstrip() + TRUNCATION_MARK
