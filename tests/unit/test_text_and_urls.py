from __future__ import annotations

import pytest

from peregrine.lib.text import find_keywords, keyword_pattern, normalise_company, normalise_title
from peregrine.lib.urls import InvalidURLError, canonical_url


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("https://Example.com/jobs/1/?utm_source=x&utm_medium=y", "https://example.com/jobs/1"),
        ("https://example.com:443/a?b=2&a=1#frag", "https://example.com/a?a=1&b=2"),
        (
            "https://www.linkedin.com/jobs/view/senior-engineer-at-acme-3912345678/?trk=abc",
            "https://www.linkedin.com/jobs/view/3912345678",
        ),
        (
            "https://www.indeed.com/viewjob?jk=abcdef1234567890&from=serp",
            "https://www.indeed.com/viewjob?jk=abcdef1234567890",
        ),
        ("http://example.com:8080//x//y", "http://example.com:8080/x/y"),
    ],
)
def test_canonical_url(raw: str, expected: str) -> None:
    assert canonical_url(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "ftp://x.com/a",
        "javascript:alert(1)",
        "https://",
        "https://a b.com/",
        "file:///etc/passwd",
        "https://x.com:99999/",
        "x" * 3000,
    ],
)
def test_canonical_url_refuses_bad_urls(raw: str) -> None:
    with pytest.raises(InvalidURLError):
        canonical_url(raw)


def test_company_and_title_normalisation() -> None:
    assert normalise_company("Acme, Inc.") == normalise_company("ACME Corporation") == "acme"
    assert normalise_company("Société Générale S.A.") == "societe generale"
    assert normalise_title("Senior C++ / C# Developer (.NET)") == "senior c++ c# developer .net"


def test_keywords_match_whole_words_only() -> None:
    pattern = keyword_pattern(["intern", "cat", "C++", ".NET", "node.js"])
    assert find_keywords(pattern, "Building internal tools") == set()
    assert find_keywords(pattern, "Our location is great") == set()
    assert find_keywords(pattern, "Summer intern wanted") == {"intern"}
    assert find_keywords(pattern, "We use C++ and .NET with Node.js") == {"c++", ".net", "node.js"}
    assert keyword_pattern([]) is None
