"""Grounding helpers: NDA masking, truncation, experience choice, model JSON."""

from __future__ import annotations

from peregrine.services.grounding import (
    NDA_PLACEHOLDER,
    mask_nda,
    parse_experiences,
    relevant_experiences,
    truncate_words,
)
from peregrine.services.model_json import extract_json


def test_nda_names_are_masked_as_whole_words_in_any_case() -> None:
    text = "At ACME Corp and acme corp, not AcmeCorporation or Acme Corpus."
    masked = mask_nda(text, ["Acme Corp"])
    assert masked == (
        f"At {NDA_PLACEHOLDER} and {NDA_PLACEHOLDER}, not AcmeCorporation or Acme Corpus."
    )


def test_nda_names_with_regex_characters_are_literal() -> None:
    assert mask_nda("Worked at A.B (C)+ Ltd.", ["A.B (C)+"]) == f"Worked at {NDA_PLACEHOLDER} Ltd."
    assert mask_nda("AxB", ["A.B"]) == "AxB"


def test_truncation_keeps_the_first_words_and_says_how_many_were_cut() -> None:
    text = "one two\nthree " + "x " * 100
    kept, cut = truncate_words(text, 3)
    assert kept.startswith("one two\nthree\n[… description shortened: 100 more words]")
    assert cut == 100
    assert truncate_words("short text", 3) == ("short text", 0)


def test_relevant_experiences_rank_by_shared_words_and_skip_unrelated() -> None:
    experiences = parse_experiences(
        {
            "experiences": [
                {"employer": "Cafe", "title": "Barista", "bullets": ["coffee"]},
                {"employer": "Initech", "title": "Data Engineer", "bullets": ["Spark pipelines"]},
                {"title": "", "employer": ""},
                "not an object",
                {"employer": "Globex", "title": "Platform Engineer", "bullets": ["Kubernetes"]},
            ]
        }
    )
    assert len(experiences) == 3
    chosen = relevant_experiences(experiences, "Platform Engineer, Kubernetes and Spark")
    assert [e.employer for e in chosen] == ["Globex", "Initech"]
    # With nothing in common, the résumé order is kept rather than returning nothing.
    assert [e.employer for e in relevant_experiences(experiences, "gardener")][:1] == ["Cafe"]


def test_json_is_found_inside_prose_and_fences() -> None:
    assert extract_json('Sure!\n```json\n{"a": 1}\n```', opening="{") == {"a": 1}
    assert extract_json("Answer: [1, 2] done", opening="[") == [1, 2]
    assert extract_json('{not json} then {"b": 2}', opening="{") == {"b": 2}
    assert extract_json("nothing here", opening="{") is None
