"""The rendered-fragment cache."""

from __future__ import annotations

from peregrine.web.fragments import FragmentCache


def test_it_renders_once_per_key_and_evicts_the_oldest() -> None:
    cache = FragmentCache(maxsize=2)
    calls: list[str] = []

    def render(text: str) -> str:
        calls.append(text)
        return f"<p>{text}</p>"

    assert cache.get_or_render("a", lambda: render("a")) == "<p>a</p>"
    cache.get_or_render("a", lambda: render("a"))
    cache.get_or_render("b", lambda: render("b"))
    cache.get_or_render("c", lambda: render("c"))
    cache.get_or_render("a", lambda: render("a"))
    assert calls == ["a", "b", "c", "a"]
