"""Settings the deployment adds: the trusted proxy and the demo sandbox limits."""

from __future__ import annotations

import pytest

from peregrine.settings import Settings, SettingsError

CLOUD = {"CLOUD_MODE": "true", "DIRECTUS_JWT_SECRET": "k" * 40, "CF_SERVER_SECRET": "s" * 40}


def test_local_mode_trusts_no_proxy_by_default() -> None:
    assert Settings.from_env({}).forwarded_allow_ips == ()


def test_cloud_and_demo_trust_only_a_proxy_on_loopback_by_default() -> None:
    assert Settings.from_env(CLOUD).forwarded_allow_ips == ("127.0.0.1",)
    assert Settings.from_env({"DEMO_MODE": "true"}).forwarded_allow_ips == ("127.0.0.1",)


def test_proxy_addresses_and_networks_are_accepted() -> None:
    settings = Settings.from_env(
        {**CLOUD, "PEREGRINE_FORWARDED_ALLOW_IPS": "172.30.5.1, 10.0.0.0/8,::1"}
    )
    assert settings.forwarded_allow_ips == ("172.30.5.1", "10.0.0.0/8", "::1")


def test_it_refuses_to_trust_forwarded_headers_from_anyone() -> None:
    with pytest.raises(SettingsError, match="PEREGRINE_FORWARDED_ALLOW_IPS=\\*"):
        Settings.from_env({"PEREGRINE_FORWARDED_ALLOW_IPS": "*"})


def test_it_names_a_proxy_address_that_is_not_an_address() -> None:
    with pytest.raises(SettingsError, match="'caddy' is not an IP address"):
        Settings.from_env({"PEREGRINE_FORWARDED_ALLOW_IPS": "127.0.0.1,caddy"})


def test_demo_sandbox_limits_have_defaults_and_bounds() -> None:
    settings = Settings.from_env({"DEMO_MODE": "true"})
    assert (settings.demo_max_sandboxes, settings.demo_sandbox_ttl_minutes) == (200, 120)
    with pytest.raises(SettingsError, match="DEMO_MAX_SANDBOXES"):
        Settings.from_env({"DEMO_MAX_SANDBOXES": "0"})
    with pytest.raises(SettingsError, match="DEMO_SANDBOX_TTL_MINUTES"):
        Settings.from_env({"DEMO_SANDBOX_TTL_MINUTES": "soon"})
