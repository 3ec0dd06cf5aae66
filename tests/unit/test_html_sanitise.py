"""Sanitising job descriptions from the internet."""

from __future__ import annotations

from peregrine.lib.html import sanitise


def test_it_drops_scripts_handlers_and_javascript_links() -> None:
    dirty = (
        '<p onclick="x()">Hi<script>alert(1)</script><style>p{}</style>'
        '<img src=x onerror="alert(1)"><a href="javascript:alert(1)">j</a>'
        '<iframe src="https://evil.example"></iframe></p>'
    )
    clean = sanitise(dirty)
    for bad in ("script", "alert", "onclick", "onerror", "style", "iframe", "javascript"):
        assert bad not in clean
    assert clean.startswith("<p>Hi")


def test_links_are_kept_with_a_safe_rel() -> None:
    clean = sanitise('<a href="https://e.org/job" target="_top">apply</a>')
    assert clean == '<a href="https://e.org/job" rel="noopener noreferrer nofollow">apply</a>'


def test_plain_text_is_escaped_and_keeps_its_lines() -> None:
    assert sanitise("Pay: 5 > 3 & more\nRemote") == "Pay: 5 &gt; 3 &amp; more<br>\nRemote"
