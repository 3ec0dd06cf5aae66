"""Server-side feature gates from the subscriptions table, and the set-tier command."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import psycopg
import pytest
from click.testing import CliRunner
from fastapi import FastAPI
from fastapi.testclient import TestClient

from peregrine.app import create_app
from peregrine.cli.main import cli
from peregrine.platform.tiers import TierResolver
from peregrine.web.platform_deps import require_feature
from tests.integration.platform.conftest import ALICE, BOB, HungServer, PgServer

MakeClient = Callable[..., tuple[TestClient, FastAPI, object]]


def _with_gated_routes(app: FastAPI) -> None:
    @app.get("/api/gated/letter", dependencies=[require_feature("cover_letter")])
    def letter() -> dict[str, str]:
        return {"ok": "letter"}

    @app.get("/api/gated/prep", dependencies=[require_feature("interview_prep")])
    def prep() -> dict[str, str]:
        return {"ok": "prep"}


def _cli(url: str, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(cli, list(args), env={"PLATFORM_DB_URL": url})
    return result.exit_code, result.output


def test_a_user_without_a_subscription_is_on_free_and_gated(
    make_cloud_client: MakeClient, platform_url: str
) -> None:
    client, app, _ = make_cloud_client(platform_url)
    assert app.state.platform.tiers.tier_of(ALICE) == "free"
    _with_gated_routes(app)
    r = client.get("/api/gated/letter")
    assert r.status_code == 403
    assert r.json()["error"] == "cover letter needs the paid plan or higher"


def test_set_tier_opens_features_for_that_user_only(
    make_cloud_client: MakeClient, platform_url: str
) -> None:
    code, out = _cli(platform_url, "admin", "set-tier", ALICE, "paid")
    assert code == 0, out
    assert out.strip() == f"{ALICE}: tier paid"
    client, app, who = make_cloud_client(platform_url)
    _with_gated_routes(app)
    assert client.get("/api/gated/letter").json() == {"ok": "letter"}
    assert client.get("/api/gated/prep").status_code == 403
    who.as_(BOB)  # type: ignore[attr-defined]
    assert client.get("/api/gated/letter").status_code == 403


def test_a_tier_change_shows_after_the_cache_period(
    make_cloud_client: MakeClient, platform_url: str
) -> None:
    client, app, _ = make_cloud_client(platform_url)
    _with_gated_routes(app)
    assert client.get("/api/gated/prep").status_code == 403
    _cli(platform_url, "admin", "set-tier", ALICE, "premium")
    assert client.get("/api/gated/prep").status_code == 403  # remembered for TIER_CACHE_SECONDS
    app.state.platform.tiers.forget(ALICE)  # what the cache expiry does
    assert client.get("/api/gated/prep").status_code == 200


def test_an_expired_or_cancelled_subscription_means_free(platform_url: str) -> None:
    _cli(platform_url, "admin", "set-tier", ALICE, "ultra")
    _cli(platform_url, "admin", "set-tier", BOB, "paid")
    with psycopg.connect(platform_url) as conn:
        conn.execute(
            "UPDATE subscriptions SET period_end = now() - interval '1 day' WHERE user_id = %s",
            (ALICE,),
        )
        conn.execute("UPDATE subscriptions SET status = 'cancelled' WHERE user_id = %s", (BOB,))
    from peregrine.platform.pool import PlatformDB

    db = PlatformDB(platform_url, connect_timeout=2)
    db.start()
    try:
        tiers = TierResolver(db, product="peregrine", ttl=60)
        assert tiers.tier_of(ALICE) == "free"
        assert tiers.tier_of(BOB) == "free"
    finally:
        db.stop()


def test_an_unreachable_platform_database_means_free(
    hung_server: HungServer, make_cloud_client: MakeClient
) -> None:
    client, app, _ = make_cloud_client(hung_server.url)
    _with_gated_routes(app)
    assert client.get("/api/gated/letter").status_code == 403
    assert client.get("/healthz").status_code == 200


def test_local_mode_is_not_gated(tmp_path: Path) -> None:
    from peregrine.settings import Settings

    app = create_app(Settings.from_env({"PEREGRINE_DATA_DIR": str(tmp_path / "data")}))
    _with_gated_routes(app)
    with TestClient(app, base_url="http://127.0.0.1:8502") as client:
        assert client.get("/api/gated/prep").json() == {"ok": "prep"}


def test_gating_an_unknown_feature_fails_when_the_route_is_declared() -> None:
    with pytest.raises(KeyError, match="teleport"):
        require_feature("teleport")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("admin", "set-tier", "alice", "paid"), "is not a user id"),
        (("admin", "set-tier", ALICE.upper(), "paid"), "is not a user id"),
        (("admin", "set-tier", "../../etc/passwd", "paid"), "is not a user id"),
        (("admin", "set-tier", ALICE, "gold"), "unknown tier 'gold'"),
        (("admin", "set-tier", ALICE, "paid", "--until", "2001-01-01"), "in the past"),
    ],
)
def test_set_tier_refuses_bad_input_in_one_line(
    platform_url: str, args: tuple[str, ...], message: str
) -> None:
    code, out = _cli(platform_url, *args)
    assert code == 1
    assert out.startswith("error: ")
    assert message in out
    assert len(out.strip().splitlines()) == 1
    assert "Traceback" not in out


def test_platform_migrate_builds_then_reports_up_to_date(pg: PgServer) -> None:
    url = pg.create_database(migrated=False)
    code, out = _cli(url, "platform", "migrate")
    assert code == 0, out
    assert "applied 2 migration(s): 0001_platform.sql, procrastinate schema" in out
    code, out = _cli(url, "platform", "migrate")
    assert (code, out.strip()) == (0, "the platform schema is up to date")


def test_commands_say_what_is_missing_in_one_line(pg: PgServer) -> None:
    url = pg.create_database(migrated=False)
    code, out = _cli(url, "admin", "set-tier", ALICE, "paid")
    assert code == 1
    assert "run `peregrine platform migrate` first" in out
    result = CliRunner().invoke(cli, ["platform", "migrate"], env={"PLATFORM_DB_URL": ""})
    assert result.exit_code == 1
    assert "PLATFORM_DB_URL is not set" in result.output
    code, out = _cli("postgresql://nobody:pw@127.0.0.1:1/none", "platform", "migrate")
    assert code == 1
    assert out.startswith("error: cannot reach the platform database")
    assert "pw" not in out.replace("postgresql", "")


def test_platform_commands_have_help() -> None:
    for args in (
        ["platform", "--help"],
        ["platform", "migrate", "--help"],
        ["admin", "set-tier", "--help"],
    ):
        result = CliRunner().invoke(cli, args)
        assert result.exit_code == 0
        assert "Usage:" in result.output
