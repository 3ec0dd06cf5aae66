"""Opt-in smoke test against a real public board API (set PEREGRINE_LIVE_TESTS=1).

Skipped by default and whenever the network is unreachable; the skip reason says which.
"""

from __future__ import annotations

import os
import socket

import pytest

from peregrine.lib.http import HttpClient
from peregrine.sources import registry
from peregrine.sources.base import SourceQuery

LIVE = os.environ.get("PEREGRINE_LIVE_TESTS") == "1"


def _network_reason() -> str | None:
    if not LIVE:
        return "live source tests are opt-in: set PEREGRINE_LIVE_TESTS=1"
    try:
        socket.create_connection(("boards-api.greenhouse.io", 443), timeout=5).close()
    except OSError as exc:
        return f"no network to the Greenhouse API ({exc})"
    return None


@pytest.mark.skipif(_network_reason() is not None, reason=str(_network_reason()))
def test_greenhouse_live_board_answers() -> None:
    with HttpClient() as http:
        result = registry.create("greenhouse", http).fetch(SourceQuery(companies=("gitlab",)))
    print(f"greenhouse live: {result.health}, {len(result.listings)} listings, {result.message}")
    assert result.health in {"ok", "no_results"}
