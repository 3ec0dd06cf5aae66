"""What the review page and ``GET /api/v1/jobs`` cost when their caches cannot answer.

``bench/pages.py`` measures the steady state, where nothing changes between requests and
every answer comes from the whole-response cache. After a change (a job approved, a new
job found) the next request rebuilds the response: with the cards / JSON rows of unchanged
jobs still cached ("page rebuilt"), or from scratch ("nothing cached", e.g. right after
start-up). Figures are CPU time per request of the app called in-process (the httpx client
included), sequentially, on 2,000 jobs.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
from pathlib import Path

import httpx

from pages import seed  # the sibling benchmark's 2,000 jobs (run as a script from bench/)
from peregrine.app import create_app
from peregrine.settings import Settings

REQUESTS = 60
CACHES = {
    "/review": ("review_pages", "review_cards"),
    "/api/v1/jobs?limit=50": ("api_job_pages", "api_job_rows"),
}


async def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "data"
        seed(data)
        settings = Settings.from_env(
            {"PEREGRINE_DATA_DIR": str(data), "PEREGRINE_LOG_LEVEL": "warning"}
        )
        app = create_app(settings)
        transport = httpx.ASGITransport(app=app)
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8502") as client,
        ):
            print(f"{'target':<24}{'case':<18}{'CPU ms/req':>12}")
            for url, (pages, rows) in CACHES.items():
                cases = {
                    "all cached": (),
                    "page rebuilt": (pages,),
                    "nothing cached": (pages, rows),
                }
                for case, cleared in cases.items():
                    for _ in range(5):
                        await client.get(url)
                    began = time.process_time()
                    for _ in range(REQUESTS):
                        for name in cleared:
                            app.state.__dict__[name].clear()
                        response = await client.get(url)
                        assert response.status_code == 200, response.text[:200]
                    took = (time.process_time() - began) / REQUESTS * 1000
                    print(f"{url:<24}{case:<18}{took:>12.2f}")


if __name__ == "__main__":
    asyncio.run(main())
