"""Sanitising HTML that came from the internet (job descriptions) with an allow-list."""

from __future__ import annotations

import nh3
from markupsafe import escape

ALLOWED_TAGS = frozenset(
    {
        "a", "b", "blockquote", "br", "code", "dd", "div", "dl", "dt", "em", "h1", "h2", "h3",
        "h4", "h5", "h6", "hr", "i", "li", "ol", "p", "pre", "s", "small", "span", "strong",
        "sub", "sup", "table", "tbody", "td", "th", "thead", "tr", "u", "ul",
    }
)  # fmt: skip
ALLOWED_ATTRIBUTES = {"a": {"href", "title"}, "td": {"colspan", "rowspan"}, "th": {"colspan"}}
# Only web and mail links survive; javascript:, data: and friends are dropped with the href.
URL_SCHEMES = frozenset({"http", "https", "mailto"})


def sanitise(html: str) -> str:
    """Keep harmless structure and text; drop scripts, styles, handlers and unsafe links.

    Plain text (no tags) comes back escaped, and line breaks become ``<br>`` so pasted
    descriptions keep their shape.
    """
    if "<" not in html:
        return str(escape(html)).replace("\n", "<br>\n")
    return nh3.clean(
        html,
        tags=set(ALLOWED_TAGS),
        attributes={k: set(v) for k, v in ALLOWED_ATTRIBUTES.items()},
        url_schemes=set(URL_SCHEMES),
        link_rel="noopener noreferrer nofollow",
        clean_content_tags={"script", "style"},
        strip_comments=True,
    )
