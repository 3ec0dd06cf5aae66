from __future__ import annotations

import pytest

from tests.browser.conftest import LiveServer, screenshot

pytestmark = pytest.mark.browser


def test_api_docs_render_in_chromium(live_server: LiveServer, page) -> None:  # type: ignore[no-untyped-def]
    page.goto(f"{live_server.url}/api/docs")
    page.wait_for_load_state("networkidle")
    assert "Peregrine" in page.title()
    assert screenshot(page, "api-docs").stat().st_size > 0
