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


def require_feature(feature: str) -> Any:
    """``Depends(...)`` that refuses the route unless the user's tier includes ``feature``.

    Unknown feature names fail when the route is declared, not when a user arrives.
    """
    if feature not in FEATURES:
        raise UnknownFeature(feature)

    def check(request: Request, user_id: UserIdDep) -> None:
        tiers = get_platform(request).tiers
        if not tiers.allows(user_id, feature):
            raise HTTPException(
                403,
                f"{feature.replace('_', ' ')} needs the {FEATURES[feature]} plan or higher",
            )

    return Depends(check)
