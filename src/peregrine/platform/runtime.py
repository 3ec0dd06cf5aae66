"""What the app factory wires for the platform: the pool, telemetry and tiers for cloud
mode, and their inert local/demo counterparts. The lifespan calls ``start``/``stop``."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from peregrine.observability.metrics import Metrics
from peregrine.platform.consent import ConsentCache
from peregrine.platform.pool import PlatformDB
from peregrine.platform.tiers import TierResolver, Ungated
from peregrine.platform.usage import NoTelemetry, Telemetry
from peregrine.settings import Settings

log = logging.getLogger("peregrine.platform")


@dataclass
class PlatformServices:
    db: PlatformDB | None
    telemetry: Telemetry | NoTelemetry
    tiers: TierResolver | Ungated
    # Whether users who never chose count as consenting (TELEMETRY_DEFAULT_CONSENT).
    default_consent: bool = False

    def start(self) -> None:
        if self.db is not None:
            self.db.start()
        self.telemetry.start()

    def stop(self) -> None:
        self.telemetry.stop()
        if self.db is not None:
            self.db.stop()


def build_platform(settings: Settings, metrics: Metrics) -> PlatformServices:
    """Nothing connects here; ``start`` opens the pool without waiting for PostgreSQL."""
    if not settings.cloud:
        return PlatformServices(db=None, telemetry=NoTelemetry(), tiers=Ungated())
    if settings.platform_db_url is None:
        log.warning(
            "PLATFORM_DB_URL is not set: no usage statistics, and every user is on the free tier"
        )
        return PlatformServices(
            db=None,
            telemetry=NoTelemetry(),
            tiers=TierResolver(None, product=settings.cloud_app_slug, ttl=0),
        )
    db = PlatformDB.from_settings(settings, on_error=metrics.platform_db_errors.inc)
    telemetry = Telemetry(
        db,
        metrics=metrics,
        consent_cache=ConsentCache(
            ttl=settings.telemetry_consent_ttl_seconds,
            default_consent=settings.telemetry_default_consent,
        ),
        capacity=settings.telemetry_buffer_size,
        flush_interval=settings.telemetry_flush_interval_ms / 1000,
    )
    tiers = TierResolver(db, product=settings.cloud_app_slug, ttl=settings.tier_cache_seconds)
    return PlatformServices(
        db=db,
        telemetry=telemetry,
        tiers=tiers,
        default_consent=settings.telemetry_default_consent,
    )
