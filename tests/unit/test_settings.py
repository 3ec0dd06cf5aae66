from __future__ import annotations

from pathlib import Path

import pytest

from peregrine.settings import Secret, Settings, SettingsError

STRONG = "9f1c2d3e4b5a69788796a5b4c3d2e1f00f1e2d3c4b5a6978"
STRONG2 = "a1b2c3d4e5f60718293a4b5c6d7e8f90a1b2c3d4e5f60718"


def cloud_env(**extra: str) -> dict[str, str]:
    return {
        "CLOUD_MODE": "true",
        "DIRECTUS_JWT_SECRET": STRONG,
        "CF_SERVER_SECRET": STRONG2,
        **extra,
    }


def test_defaults_are_local_mode_on_loopback() -> None:
    settings = Settings.from_env({})
    assert settings.mode == "local"
    assert settings.host == "127.0.0.1"
    assert settings.port == 8502
    assert settings.data_dir == Path("data")
    assert settings.staging_db == Path("data/staging.db")


@pytest.mark.parametrize("value", ["true", "1", "yes", "TRUE", "Yes", " on "])
def test_it_accepts_true_spellings(value: str) -> None:
    assert Settings.from_env({"DEMO_MODE": value}).mode == "demo"


@pytest.mark.parametrize("value", ["false", "0", "no", "", "NO"])
def test_it_accepts_false_spellings(value: str) -> None:
    assert Settings.from_env({"DEMO_MODE": value}).mode == "local"


@pytest.mark.parametrize("value", ["maybe", "2", "truee", "y es"])
def test_it_rejects_unknown_booleans_naming_the_variable(value: str) -> None:
    with pytest.raises(SettingsError, match="DEMO_MODE"):
        Settings.from_env({"DEMO_MODE": value})


def test_it_refuses_cloud_and_demo_together() -> None:
    with pytest.raises(SettingsError, match="CLOUD_MODE and DEMO_MODE"):
        Settings.from_env(cloud_env(DEMO_MODE="1"))


def test_mode_default_ports() -> None:
    assert Settings.from_env({"DEMO_MODE": "true"}).port == 8504
    assert Settings.from_env(cloud_env()).port == 8505
    assert Settings.from_env({"PEREGRINE_PORT": "9000"}).port == 9000


@pytest.mark.parametrize("value", ["abc", "0", "70000", "-1"])
def test_it_rejects_bad_ports(value: str) -> None:
    with pytest.raises(SettingsError, match="PEREGRINE_PORT"):
        Settings.from_env({"PEREGRINE_PORT": value})


def test_staging_db_follows_data_dir_unless_set() -> None:
    assert Settings.from_env({"PEREGRINE_DATA_DIR": "/srv/p"}).staging_db == Path(
        "/srv/p/staging.db"
    )
    assert Settings.from_env({"STAGING_DB": "/x/y.db"}).staging_db == Path("/x/y.db")


@pytest.mark.parametrize("name", ["DIRECTUS_JWT_SECRET", "CF_SERVER_SECRET"])
def test_cloud_mode_requires_secrets(name: str) -> None:
    env = cloud_env()
    del env[name]
    with pytest.raises(SettingsError, match=name):
        Settings.from_env(env)


@pytest.mark.parametrize(
    "value",
    [
        "changeme-changeme-changeme-changeme",
        "your-secret-here-0123456789abcdef0123",
        "example" * 6,
        "<put a secret here>" * 3,
    ],
)
def test_cloud_mode_refuses_placeholder_secrets(value: str) -> None:
    with pytest.raises(SettingsError, match="placeholder"):
        Settings.from_env(cloud_env(CF_SERVER_SECRET=value))


def test_cloud_mode_refuses_short_secrets() -> None:
    with pytest.raises(SettingsError, match="at least 32"):
        Settings.from_env(cloud_env(DIRECTUS_JWT_SECRET="a8f3k2" * 5))


def test_secrets_can_come_from_files(tmp_path: Path) -> None:
    secret_file = tmp_path / "jwt"
    secret_file.write_text(STRONG + "\n")
    env = cloud_env()
    del env["DIRECTUS_JWT_SECRET"]
    env["DIRECTUS_JWT_SECRET_FILE"] = str(secret_file)
    settings = Settings.from_env(env)
    assert settings.directus_jwt_secret is not None
    assert settings.directus_jwt_secret.reveal() == STRONG


def test_secret_file_that_cannot_be_read_is_named(tmp_path: Path) -> None:
    env = cloud_env()
    del env["CF_SERVER_SECRET"]
    env["CF_SERVER_SECRET_FILE"] = str(tmp_path / "missing")
    with pytest.raises(SettingsError, match="CF_SERVER_SECRET_FILE"):
        Settings.from_env(env)


def test_secret_and_secret_file_together_are_refused(tmp_path: Path) -> None:
    (tmp_path / "s").write_text(STRONG)
    with pytest.raises(SettingsError, match="not both"):
        Settings.from_env(cloud_env(CF_SERVER_SECRET_FILE=str(tmp_path / "s")))


def test_secrets_never_appear_in_repr_or_str() -> None:
    settings = Settings.from_env(cloud_env(PLATFORM_DB_URL="postgresql://u:hunter2pw@db/x"))
    text = repr(settings) + str(settings) + repr(settings.cf_server_secret)
    for value in (STRONG, STRONG2, "hunter2pw"):
        assert value not in text
    assert "**********" in repr(Secret("x"))


def test_local_mode_refuses_non_loopback_host() -> None:
    with pytest.raises(SettingsError, match="PEREGRINE_HOST"):
        Settings.from_env({"PEREGRINE_HOST": "0.0.0.0"})
    allowed = Settings.from_env({"PEREGRINE_HOST": "0.0.0.0", "PEREGRINE_ALLOW_REMOTE": "yes"})
    assert allowed.host == "0.0.0.0"


def test_root_path_must_start_with_slash() -> None:
    assert Settings.from_env({"PEREGRINE_ROOT_PATH": "/peregrine/"}).root_path == "/peregrine"
    with pytest.raises(SettingsError, match="PEREGRINE_ROOT_PATH"):
        Settings.from_env({"PEREGRINE_ROOT_PATH": "peregrine"})


def test_bad_app_slug_is_refused() -> None:
    with pytest.raises(SettingsError, match="CLOUD_APP_SLUG"):
        Settings.from_env({"CLOUD_APP_SLUG": "../etc"})
