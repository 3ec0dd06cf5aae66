"""The platform-database side of the Settings privacy tab: consent toggles and support
access for one signed-in user. Every call is scoped to that user's id."""

from __future__ import annotations

from dataclasses import dataclass

from peregrine.platform import consent as consent_q
from peregrine.platform import support_access as support_q
from peregrine.platform.consent import Consent
from peregrine.platform.pool import PlatformUnavailable
from peregrine.platform.runtime import PlatformServices


class PrivacyUnavailable(RuntimeError):
    pass


_DOWN = "privacy settings are unavailable right now; nothing was changed, try again in a minute"


@dataclass(frozen=True)
class PrivacyState:
    consent: Consent
    grants: list[support_q.Grant]
    usage_collected: bool


def _db(services: PlatformServices) -> object:
    if services.db is None:
        raise PrivacyUnavailable("privacy settings are unavailable on this server")
    return services.db


def load(services: PlatformServices, user_id: str) -> PrivacyState:
    _db(services)
    try:
        with services.db.connection() as conn:  # type: ignore[union-attr]
            consent = consent_q.get_consent(conn, user_id=user_id)
            grants = support_q.list_grants(conn, user_id=user_id)
    except PlatformUnavailable:
        raise PrivacyUnavailable(_DOWN) from None
    return PrivacyState(
        consent, grants, consent.usage_allowed(default_consent=services.default_consent)
    )


def save(services: PlatformServices, user_id: str, choices: dict[str, bool]) -> None:
    _db(services)
    try:
        with services.db.connection() as conn:  # type: ignore[union-attr]
            consent_q.put_consent(conn, user_id=user_id, **choices)
    except PlatformUnavailable:
        raise PrivacyUnavailable(_DOWN) from None
    # Events already buffered for this user are checked against the new choice.
    services.telemetry.consent_changed(user_id)


def grant(services: PlatformServices, user_id: str, hours: int, ticket_ref: str) -> None:
    hours, ticket_ref = support_q.check_request(hours=hours, ticket_ref=ticket_ref)
    _db(services)
    try:
        with services.db.connection() as conn:  # type: ignore[union-attr]
            support_q.grant(conn, user_id=user_id, hours=hours, ticket_ref=ticket_ref)
    except PlatformUnavailable:
        raise PrivacyUnavailable(_DOWN) from None


def revoke(services: PlatformServices, user_id: str, grant_id: int) -> bool:
    _db(services)
    try:
        with services.db.connection() as conn:  # type: ignore[union-attr]
            return bool(support_q.revoke(conn, user_id=user_id, grant_id=grant_id))
    except PlatformUnavailable:
        raise PrivacyUnavailable(_DOWN) from None
