"""Every source against a real loopback server replaying responses shaped like the real ones."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from peregrine.lib.http import HttpClient, allow_entries
from peregrine.services.normalise import to_new_job
from peregrine.sources import registry
from peregrine.sources.adzuna import AdzunaConfig
from peregrine.sources.base import SourceQuery
from peregrine.sources.company_boards import board_token
from tests.replay import ReplayServer, fixture, html_reply, json_reply, serve


@pytest.fixture
def replay() -> Iterator[ReplayServer]:
    with serve() as server:
        yield server


@pytest.fixture
def http(replay: ReplayServer) -> Iterator[HttpClient]:
    with HttpClient(allow=allow_entries([replay.host_port]), sleep=lambda _s: None) as client:
        yield client


def _source(name: str, http: HttpClient, replay: ReplayServer, path: str, **options: object):
    opts = registry.SourceOptions(endpoints={name: replay.base + path}, **options)  # type: ignore[arg-type]
    return registry.create(name, http, opts)


def test_greenhouse_reads_the_board_and_skips_broken_entries(replay, http) -> None:
    replay.routes["/v1/boards/acme/jobs"] = json_reply("greenhouse_acme.json")
    source = _source("greenhouse", http, replay, "/v1/boards/{token}/jobs")
    result = source.fetch(SourceQuery(companies=("acme", "nosuchboard")))
    assert result.health == "ok"
    assert [listing.title for listing in result.listings] == [
        "Senior Backend Engineer",
        "Engineering Intern",
    ]
    assert result.skipped == 2  # the entry without a title, and the unknown board
    assert any("nosuchboard" in p for p in result.problems)
    assert replay.seen[0].query == "content=true"
    job = to_new_job(result.listings[0])
    assert job.url == "https://boards.greenhouse.io/acme/jobs/4012345"  # gh_src stripped
    assert "alert" not in job.description
    assert "robots with Python" in job.description
    assert job.work_mode == "hybrid"
    assert job.company == "Acme Robotics"


def test_lever_reads_structured_salary_and_workplace(replay, http) -> None:
    replay.routes["/v0/postings/globex"] = json_reply("lever_globex.json")
    source = _source("lever", http, replay, "/v0/postings/{token}")
    result = source.fetch(SourceQuery(companies=("globex",)))
    assert [listing.title for listing in result.listings] == [
        "Staff Data Engineer",
        "Support Specialist",
    ]
    assert result.skipped == 1
    staff, support = (to_new_job(listing) for listing in result.listings)
    assert (staff.salary_annual_min, staff.salary_annual_max) == (190000, 230000)
    assert staff.work_mode == "onsite"
    assert "Kafka" in staff.description
    assert support.salary_interval == "hour"
    assert support.salary_annual_min == 28 * 2080
    assert support.work_mode == "remote"
    assert staff.date_posted is not None


def test_ashby_reads_compensation_and_hides_unlisted_jobs(replay, http) -> None:
    replay.routes["/posting-api/job-board/initech"] = json_reply("ashby_initech.json")
    source = _source("ashby", http, replay, "/posting-api/job-board/{token}")
    result = source.fetch(SourceQuery(companies=("initech",)))
    assert len(result.listings) == 1
    job = to_new_job(result.listings[0])
    assert (job.salary_min, job.salary_max, job.salary_currency) == (140000, 170000, "USD")
    assert job.work_mode == "hybrid"
    assert replay.seen[0].query == "includeCompensation=true"


def test_adzuna_sends_credentials_and_ignores_predicted_salaries(replay, http) -> None:
    replay.routes["/v1/api/jobs/gb/search/1"] = json_reply("adzuna_us.json")
    source = _source(
        "adzuna",
        http,
        replay,
        "/v1/api/jobs/{country}/search/{page}",
        adzuna=AdzunaConfig(app_id="id-1", app_key="key-secret", country="gb"),
    )
    result = source.fetch(SourceQuery(titles=("python developer",), locations=("Denver",)))
    assert result.health == "ok", result.message
    assert "app_key=key-secret" in replay.seen[0].query
    assert "what=python+developer" in replay.seen[0].query
    hooli, piper = (to_new_job(listing) for listing in result.listings)
    assert hooli.salary_annual_max == 130000
    assert hooli.url.startswith("https://www.adzuna.com/land/ad/4567890123")
    assert "utm_source" not in hooli.url
    assert piper.salary_min is None  # Adzuna's own estimate is not the employer's salary
    assert "key-secret" not in repr(AdzunaConfig("a", "key-secret"))


def test_adzuna_without_credentials_reports_an_error_not_a_crash(http) -> None:
    result = registry.create("adzuna", http).fetch(SourceQuery(titles=("x",)))
    assert result.health == "error"
    assert "app id and key" in result.message


def test_feeds_read_rss_and_atom_and_report_broken_ones(replay, http) -> None:
    replay.routes["/rss"] = (200, {"Content-Type": "application/rss+xml"}, fixture("feed_rss.xml"))
    replay.routes["/atom"] = (
        200,
        {"Content-Type": "application/atom+xml"},
        fixture("feed_atom.xml"),
    )
    replay.routes["/broken"] = (200, {"Content-Type": "text/xml"}, fixture("feed_broken.xml"))
    replay.routes["/bomb"] = (200, {"Content-Type": "text/xml"}, fixture("feed_bomb.xml"))
    replay.routes["/html"] = html_reply("<html><body>not a feed</body></html>")
    urls = tuple(f"{replay.base}/{p}" for p in ("rss", "atom", "broken", "bomb", "html", "gone"))
    result = registry.create("feeds", http).fetch(SourceQuery(feed_urls=urls))
    assert result.health == "ok"
    titles = {(listing.title, listing.company) for listing in result.listings}
    assert titles == {
        ("Senior Python Engineer", "Umbrella Corp"),
        ("Import/Export Analyst", "Vandelay Industries"),
        ("Product Designer", "Stark Industries"),
    }
    problems = " | ".join(result.problems)
    for name in ("broken", "bomb", "html", "gone"):
        assert f"/{name}" in problems
    assert "without title" in problems
    designer = next(x for x in result.listings if x.title == "Product Designer")
    assert to_new_job(designer).work_mode == "hybrid"


def test_a_feed_source_with_only_broken_feeds_reports_error(replay, http) -> None:
    replay.routes["/broken"] = (200, {"Content-Type": "text/xml"}, fixture("feed_broken.xml"))
    result = registry.create("feeds", http).fetch(SourceQuery(feed_urls=(f"{replay.base}/broken",)))
    assert result.health == "error"
    assert "not a readable feed" in result.message


@pytest.mark.parametrize(
    ("page", "layer", "title", "company"),
    [
        ("page_jsonld.html", "json-ld", "Principal Security Engineer", "Wayne Enterprises"),
        ("page_og.html", "opengraph", "Machine Learning Engineer", "Cyberdyne Systems"),
        ("page_text.html", "text", "Warehouse Associate - Soylent", ""),
    ],
)
def test_job_page_reads_json_ld_then_opengraph_then_text(
    replay, http, page: str, layer: str, title: str, company: str
) -> None:
    replay.routes["/job"] = html_reply(fixture(page))
    result = registry.create("job_page", http).fetch(SourceQuery(url=f"{replay.base}/job"))
    assert result.message == f"read from {layer}"
    job = to_new_job(result.listings[0])
    assert (job.title, job.company) == (title, company)
    assert "<script" not in job.description
    assert "steal" not in job.description
    assert "tracking" not in job.description


def test_job_page_json_ld_salary_is_annualised_from_hourly(replay, http) -> None:
    replay.routes["/job"] = html_reply(fixture("page_jsonld.html"))
    result = registry.create("job_page", http).fetch(SourceQuery(url=f"{replay.base}/job"))
    job = to_new_job(result.listings[0])
    assert job.salary_interval == "hour"
    assert job.salary_annual_min == 95 * 2080
    assert job.location == "Gotham, NJ, US"
    assert job.external_id == "WE-1939"


def test_a_source_answering_403_is_reported_blocked(replay, http) -> None:
    replay.routes["/v1/boards/acme/jobs"] = (403, {}, b"denied")
    result = _source("greenhouse", http, replay, "/v1/boards/{token}/jobs").fetch(
        SourceQuery(companies=("acme",))
    )
    assert result.health == "blocked"
    assert "403" in result.message


def test_html_where_json_was_expected_is_an_error_with_a_reason(replay, http) -> None:
    replay.routes["/v1/boards/acme/jobs"] = html_reply(fixture("not_json.html"))
    result = _source("greenhouse", http, replay, "/v1/boards/{token}/jobs").fetch(
        SourceQuery(companies=("acme",))
    )
    assert result.health == "error"
    assert "expected JSON" in result.message


def test_unknown_source_names_are_refused_with_the_known_list(http) -> None:
    with pytest.raises(registry.UnknownSourceError, match="known sources"):
        registry.create("monster", http)


def test_a_job_is_read_from_its_page_and_user_values_win(replay, http) -> None:
    from peregrine.services.job_from_url import job_from_url

    replay.routes["/job"] = html_reply(fixture("page_jsonld.html"))
    job, layer = job_from_url(f"{replay.base}/job?utm_source=x", http, company="Wayne Corp")
    assert layer == "json-ld"
    assert (job.title, job.company, job.source) == (
        "Principal Security Engineer",
        "Wayne Corp",
        "manual",
    )
    assert job.url == f"{replay.base}/job"


def test_non_utf8_bytes_and_a_huge_page_are_cleaned_not_fatal(replay, http) -> None:
    garbled = b"<html><head><title>Caf\xe9 Barista \xff</title></head><body><p>Espresso \xfe\x00"
    replay.routes["/latin"] = (200, {"Content-Type": "text/html"}, garbled + b"</p></body></html>")
    huge = b"<html><title>Huge</title><body><p>" + b"word " * 2_000_000 + b"</p></body></html>"
    replay.routes["/huge"] = (200, {"Content-Type": "text/html"}, huge)
    page = registry.create("job_page", http).fetch(SourceQuery(url=f"{replay.base}/latin"))
    job = to_new_job(page.listings[0])
    assert job.title.startswith("Caf")
    assert "\x00" not in job.description
    big = registry.create("job_page", http).fetch(SourceQuery(url=f"{replay.base}/huge"))
    assert big.health == "error"
    assert "larger than" in big.message


def test_api_keys_in_query_strings_never_reach_the_logs(replay, http, caplog) -> None:
    import logging

    replay.routes["/v1/api/jobs/us/search/1"] = json_reply("adzuna_us.json")
    source = _source(
        "adzuna",
        http,
        replay,
        "/v1/api/jobs/{country}/search/{page}",
        adzuna=AdzunaConfig(app_id="id-1", app_key="key-secret"),
    )
    with caplog.at_level(logging.DEBUG):
        logging.getLogger("httpx").setLevel(logging.NOTSET)
        result = source.fetch(SourceQuery(titles=("python",)))
    assert result.health == "ok"
    assert "key-secret" not in caplog.text


# What Greenhouse, Lever and Ashby share (sources/company_boards.py): a missing board, an
# answer without entries and broken entries are told apart, and one bad company never stops
# the next.
# name, path on the board API, fixture with good entries, its token, the ATS's word.
BOARDS = [
    ("greenhouse", "/v1/boards/{token}/jobs", "greenhouse_acme.json", "acme", "Greenhouse"),
    ("lever", "/v0/postings/{token}", "lever_globex.json", "globex", "Lever"),
    ("ashby", "/posting-api/job-board/{token}", "ashby_initech.json", "initech", "Ashby"),
]


def _json(value: object) -> tuple[int, dict[str, str], bytes]:
    return (200, {"Content-Type": "application/json"}, json.dumps(value).encode())


def _fetch(name: str, path: str, http: HttpClient, replay: ReplayServer, *companies: str):
    return _source(name, http, replay, path).fetch(SourceQuery(companies=companies))


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
