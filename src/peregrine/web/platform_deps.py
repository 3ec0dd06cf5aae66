"""Request dependencies for platform features: who the user is (cloud), the telemetry
sink, and server-side feature gates."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request

from peregrine.platform.ids import InvalidUserId, parse_user_id
from peregrine.platform.runtime import PlatformServices
from peregrine.platform.tiers import FEATURES, UnknownFeature
from peregrine.platform.usage import NoTelemetry, Telemetry


def get_user_id(request: Request) -> str | None:
    """The signed-in user's canonical id in cloud mode; None in local and demo mode.

    The cloud session layer puts the verified id on ``request.state.user_id``; without
    one a cloud request is refused (fail closed), never served as some default user.
    """
    if not request.app.state.settings.cloud:
        return None
    user_id = getattr(request.state, "user_id", None)
    if user_id is None:
        # Routes that need only the identity (privacy, tiers) verify the session here; an
        # invalid one raises AuthenticationRequired, answered with the sign-in page or 401.
        user_id = request.app.state.tenancy.authenticate(request.headers)
        request.state.user_id = user_id
    if not isinstance(user_id, str):
        raise HTTPException(401, "sign in to continue")
    try:
        parse_user_id(user_id)
    except InvalidUserId:
        raise HTTPException(401, "sign in to continue") from None
    return user_id


def get_platform(request: Request) -> PlatformServices:
    services: PlatformServices = request.app.state.platform
    return services


def get_telemetry(request: Request) -> Telemetry | NoTelemetry:
    return get_platform(request).telemetry


UserIdDep = Annotated[str | None, Depends(get_user_id)]
PlatformDep = Annotated[PlatformServices, Depends(get_platform)]
TelemetryDep = Annotated[Telemetry | NoTelemetry, Depends(get_telemetry)]


# Background task kinds that are gated features: every way of starting one is checked.
TASK_FEATURES = {
    "cover_letter": "cover_letter",
    "research": "company_research",
    "prep": "interview_prep",
}


def feature_refusal(request: Request, feature: str) -> str | None:
    """Why the signed-in user may not use ``feature``, or None when they may.

    Local and demo mode are never gated (their resolver allows everything).
    """
    if feature not in FEATURES:
        raise UnknownFeature(feature)
    user_id = get_user_id(request)
    if get_platform(request).tiers.allows(user_id, feature):
        return None
    return f"{feature.replace('_', ' ')} needs the {FEATURES[feature]} plan or higher"


def check_feature(request: Request, feature: str) -> None:
    """Refuse with a JSON 403 unless the user's tier includes ``feature``: for routes
    whose feature depends on the request body."""
    message = feature_refusal(request, feature)
    if message is not None:
        raise HTTPException(403, message)


def require_feature(feature: str) -> Any:
    """``Depends(...)`` that refuses the route unless the user's tier includes ``feature``.

    Unknown feature names fail when the route is declared, not when a user arrives.
    """
    if feature not in FEATURES:
        raise UnknownFeature(feature)

    def check(request: Request) -> None:
        check_feature(request, feature)

    return Depends(check)
