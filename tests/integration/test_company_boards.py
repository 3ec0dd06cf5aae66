"""What Greenhouse, Lever and Ashby share (sources/company_boards.py), against a loopback
server: a missing board, an answer without entries and broken entries are told apart, and
one bad company never stops the next."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from peregrine.lib.http import HttpClient, allow_entries
from peregrine.sources import registry
from peregrine.sources.base import SourceQuery
from peregrine.sources.company_boards import board_token
from tests.replay import ReplayServer, json_reply, serve

# name, path on the board API, fixture with good entries, its token, the ATS's word.
BOARDS = [
    ("greenhouse", "/v1/boards/{token}/jobs", "greenhouse_acme.json", "acme", "Greenhouse"),
    ("lever", "/v0/postings/{token}", "lever_globex.json", "globex", "Lever"),
    ("ashby", "/posting-api/job-board/{token}", "ashby_initech.json", "initech", "Ashby"),
]


@pytest.fixture
def replay() -> Iterator[ReplayServer]:
    with serve() as server:
        yield server


@pytest.fixture
def http(replay: ReplayServer) -> Iterator[HttpClient]:
    with HttpClient(allow=allow_entries([replay.host_port]), sleep=lambda _s: None) as client:
        yield client


def _json(value: object) -> tuple[int, dict[str, str], bytes]:
    return (200, {"Content-Type": "application/json"}, json.dumps(value).encode())


def _fetch(name: str, path: str, http: HttpClient, replay: ReplayServer, *companies: str):
    opts = registry.SourceOptions(endpoints={name: replay.base + path})
    return registry.create(name, http, opts).fetch(SourceQuery(companies=companies))


@pytest.mark.parametrize(("name", "path", "good", "token", "board"), BOARDS)
def test_a_missing_board_is_explained_and_the_next_company_is_still_read(
    replay, http, name: str, path: str, good: str, token: str, board: str
) -> None:
    replay.routes[path.format(token=token)] = json_reply(good)
    result = _fetch(name, path, http, replay, "Mallory Unknown", token, "!!!")
    assert result.health == "ok"
    assert result.listings
    assert f"Mallory Unknown: no {board} board named 'malloryunknown'" in result.problems
    assert "'!!!': not a usable board name" in result.problems


@pytest.mark.parametrize(("name", "path", "good", "token", "board"), BOARDS)
def test_an_answer_without_entries_is_a_problem_not_a_crash(
    replay, http, name: str, path: str, good: str, token: str, board: str
) -> None:
    replay.routes[path.format(token=token)] = _json({"unexpected": True})
    result = _fetch(name, path, http, replay, token)
    assert result.health == "no_results"
    assert result.skipped == 1
    expected = "the answer is not a list of postings" if name == "lever" else "has no job list"
    assert expected in result.problems[0]


@pytest.mark.parametrize(("name", "path", "good", "token", "board"), BOARDS)
def test_broken_entries_are_skipped_and_counted_where_the_board_would_not_send_them(
    replay, http, name: str, path: str, good: str, token: str, board: str
) -> None:
    entries: list[object] = ["not an object", {"id": "no title or link"}]
    replay.routes[path.format(token=token)] = _json(
        entries if name == "lever" else {"jobs": entries}
    )
    result = _fetch(name, path, http, replay, token)
    assert result.listings == []
    # Ashby's board lists only objects; anything else is noise, skipped without a word.
    assert result.skipped == (1 if name == "ashby" else 2)
    assert "without title or link was skipped" in result.problems[-1]


def test_board_tokens_keep_given_tokens_and_squash_names() -> None:
    assert board_token("acme-robotics_2") == "acme-robotics_2"
    assert board_token("Acme Robotics, Inc.") == "acmeroboticsinc"
    assert board_token("../../etc") == "etc"
