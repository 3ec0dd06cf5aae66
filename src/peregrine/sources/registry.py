"""Source names → how to build them. Adding a source: write a sibling module, register it here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from peregrine.lib.http import HttpClient
from peregrine.sources.adzuna import AdzunaConfig, AdzunaSource
from peregrine.sources.ashby import AshbySource
from peregrine.sources.base import Source
from peregrine.sources.feeds import FeedSource
from peregrine.sources.greenhouse import GreenhouseSource
from peregrine.sources.job_page import JobPageSource
from peregrine.sources.jobspy_boards import BOARDS, JobSpyBoard, Scraper
from peregrine.sources.lever import LeverSource


class UnknownSourceError(ValueError):
    """A source name that is not registered."""


@dataclass(frozen=True)
class SourceOptions:
    """Per-run configuration the sources need (credentials, proxies, endpoints)."""

    adzuna: AdzunaConfig | None = None
    proxies: tuple[str, ...] = ()
    jobspy_country: str = "usa"
    jobspy_scraper: Scraper | None = None
    # Replacement API URL templates by source name (a self-hosted mirror; tests use loopback).
    endpoints: dict[str, str] = field(default_factory=dict)


Factory = Callable[[HttpClient, SourceOptions], Source]


def _board(name: str) -> Factory:
    def build(http: HttpClient, options: SourceOptions) -> Source:
        return JobSpyBoard(
            http,
            name,
            scraper=options.jobspy_scraper,
            proxies=list(options.proxies),
            country=options.jobspy_country,
        )

    return build


_FACTORIES: dict[str, Factory] = {name: _board(name) for name in BOARDS}
_FACTORIES.update(
    {
        "greenhouse": lambda http, _o: GreenhouseSource(http),
        "lever": lambda http, _o: LeverSource(http),
        "ashby": lambda http, _o: AshbySource(http),
        "feeds": lambda http, _o: FeedSource(http),
        "adzuna": lambda http, o: AdzunaSource(http, o.adzuna),
        "job_page": lambda http, _o: JobPageSource(http),
    }
)
# Sources a search runs; job_page needs one URL and is used by `jobs add`.
DISCOVERY_SOURCES: tuple[str, ...] = (*BOARDS, "greenhouse", "lever", "ashby", "feeds", "adzuna")
WATCH_LIST_SOURCES: tuple[str, ...] = ("greenhouse", "lever", "ashby")


def register(name: str, factory: Factory) -> None:
    _FACTORIES[name] = factory


def names() -> list[str]:
    return sorted(_FACTORIES)


def create(name: str, http: HttpClient, options: SourceOptions | None = None) -> Source:
    options = options or SourceOptions()
    try:
        factory = _FACTORIES[name]
    except KeyError:
        raise UnknownSourceError(
            f"unknown source {name!r}; known sources: {', '.join(names())}"
        ) from None
    source = factory(http, options)
    endpoint = options.endpoints.get(name)
    if endpoint and hasattr(source, "api"):
        source.api = endpoint
    return source
