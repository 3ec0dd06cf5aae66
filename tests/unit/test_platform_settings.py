"""Settings for the platform database, telemetry, metrics and logs."""

from __future__ import annotations

import pytest

from peregrine.settings import Settings, SettingsError
from tests.unit.test_settings import cloud_env


def test_defaults_are_opt_in_and_metrics_follow_the_mode() -> None:
    local = Settings.from_env({})
    cloud = Settings.from_env(cloud_env())
    assert local.telemetry_default_consent is False
    assert cloud.telemetry_default_consent is False
    assert (local.metrics_enabled, cloud.metrics_enabled) == (False, True)
    assert (local.log_format, cloud.log_format) == ("text", "json")
    assert Settings.from_env({"METRICS_ENABLED": "true"}).metrics_enabled is True


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("TELEMETRY_CONSENT_TTL_SECONDS", "31"),
        ("TELEMETRY_BUFFER_SIZE", "lots"),
        ("TELEMETRY_FLUSH_INTERVAL_MS", "0"),
        ("PLATFORM_CONNECT_TIMEOUT", "1"),
        ("PLATFORM_STATEMENT_TIMEOUT_MS", "-5"),
        ("PLATFORM_POOL_MAX_SIZE", "0"),
        ("TELEMETRY_DEFAULT_CONSENT", "maybe"),
        ("METRICS_ENABLED", "sometimes"),
        ("PEREGRINE_LOG_FORMAT", "xml"),
        ("TIER_CACHE_SECONDS", "99999"),
    ],
)
def test_bad_values_are_refused_naming_the_variable(name: str, value: str) -> None:
    with pytest.raises(SettingsError, match=name):
        Settings.from_env({name: value})


def test_the_pool_cannot_be_smaller_than_its_minimum() -> None:
    with pytest.raises(SettingsError, match="PLATFORM_POOL_MAX_SIZE"):
        Settings.from_env({"PLATFORM_POOL_MIN_SIZE": "4", "PLATFORM_POOL_MAX_SIZE": "2"})


def test_the_platform_url_never_shows_in_repr() -> None:
    settings = Settings.from_env(cloud_env(PLATFORM_DB_URL="postgresql://p:hunter2pass@db/x"))
    assert "hunter2pass" not in repr(settings)
