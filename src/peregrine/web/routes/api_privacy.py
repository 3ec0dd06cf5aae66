"""Privacy settings (cloud mode): telemetry consent toggles and temporary support access.

Every query is scoped to the signed-in user's id; a grant id of another user answers 404,
the same as one that does not exist.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from fastapi import APIRouter, Depends, HTTPException, Request
from pydantic import BaseModel, ConfigDict, StrictBool, StrictInt, StrictStr

from peregrine.platform import consent as consent_q
from peregrine.platform import support_access as support_q
from peregrine.platform.consent import Consent
from peregrine.platform.pool import PlatformUnavailable
from peregrine.platform.runtime import PlatformServices
from peregrine.platform.support_access import SupportAccessError
from peregrine.web.platform_deps import PlatformDep, UserIdDep

router = APIRouter(prefix="/api/v1/privacy", tags=["privacy"])


def _json_only(request: Request) -> None:
    """CSRF guard for the state-changing calls: a page on another site can submit a form
    (urlencoded, multipart or text/plain) without asking, but cannot send
    ``application/json`` cross-origin without a CORS preflight, which we never grant."""
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise HTTPException(415, "send this request as JSON (Content-Type: application/json)")


_CHANGES = [Depends(_json_only)]

# Plain-language list shown next to the toggles (docs/privacy.md says the same).
COLLECTED: tuple[str, ...] = (
    "When usage statistics are on: which features you use and when (for example "
    "'a job moved to Applied', 'a cover letter was generated'), with counts and durations.",
    "Never: job descriptions, company names, URLs, your résumé, letters, notes, names or "
    "e-mail addresses.",
    "Content sharing (off unless you turn it on): anonymised examples that help us improve "
    "the assistant.",
    "Support access (only when you grant it, for 4–72 hours, for one ticket): support staff "
    "may look at your account to fix the problem you reported.",
)


class PrivacyUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    all_disabled: StrictBool | None = None
    usage_events_enabled: StrictBool | None = None
    content_sharing_enabled: StrictBool | None = None


class GrantRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hours: StrictInt
    ticket_ref: StrictStr


def _signed_in(user_id: str | None) -> str:
    if user_id is None:
        # Local and demo mode keep nothing about the user outside their own folder.
        raise HTTPException(404, "privacy settings exist only in the hosted service")
    return user_id


@contextmanager
def _platform(services: PlatformServices) -> Iterator[psycopg.Connection]:
    if services.db is None:
        raise HTTPException(503, "privacy settings are unavailable on this server")
    try:
        with services.db.connection() as conn:
            yield conn
    except PlatformUnavailable:
        raise HTTPException(
            503, "privacy settings are unavailable right now; nothing was changed, try again"
        ) from None


def _view(
    consent: Consent, grants: list[support_q.Grant], *, default_consent: bool
) -> dict[str, Any]:
    return {
        "all_disabled": consent.all_disabled,
        "usage_events_enabled": consent.usage_events_enabled,
        "content_sharing_enabled": consent.content_sharing_enabled,
        "chosen": consent.chosen,
        "usage_events_collected": consent.usage_allowed(default_consent=default_consent),
        "support_access": [g.as_json() for g in grants],
        "collected": list(COLLECTED),
    }


@router.get("")
def read_privacy(user_id: UserIdDep, services: PlatformDep) -> dict[str, Any]:
    user = _signed_in(user_id)
    with _platform(services) as conn:
        consent = consent_q.get_consent(conn, user_id=user)
        grants = support_q.list_grants(conn, user_id=user)
    return _view(consent, grants, default_consent=services.default_consent)


@router.put("", dependencies=_CHANGES)
def update_privacy(
    body: PrivacyUpdate, user_id: UserIdDep, services: PlatformDep
) -> dict[str, Any]:
    user = _signed_in(user_id)
    changes = body.model_dump(exclude_none=True)
    if not changes:
        raise HTTPException(
            422, "send at least one of all_disabled, usage_events_enabled, content_sharing_enabled"
        )
    with _platform(services) as conn:
        consent = consent_q.put_consent(conn, user_id=user, **changes)
        grants = support_q.list_grants(conn, user_id=user)
    services.telemetry.consent_changed(user)
    return _view(consent, grants, default_consent=services.default_consent)


@router.post("/support-access", status_code=201, dependencies=_CHANGES)
def grant_support_access(
    body: GrantRequest, user_id: UserIdDep, services: PlatformDep
) -> dict[str, Any]:
    user = _signed_in(user_id)
    try:
        support_q.check_request(hours=body.hours, ticket_ref=body.ticket_ref)
    except SupportAccessError as exc:
        raise HTTPException(422, str(exc)) from None
    with _platform(services) as conn:
        grant = support_q.grant(conn, user_id=user, hours=body.hours, ticket_ref=body.ticket_ref)
    return grant.as_json()


@router.post("/support-access/{grant_id}/revoke", dependencies=_CHANGES)
def revoke_support_access(
    grant_id: int, user_id: UserIdDep, services: PlatformDep
) -> dict[str, Any]:
    user = _signed_in(user_id)
    with _platform(services) as conn:
        revoked = support_q.revoke(conn, user_id=user, grant_id=grant_id)
    if not revoked:
        raise HTTPException(404, "no active support access with that id")
    return {"id": grant_id, "revoked": True}
