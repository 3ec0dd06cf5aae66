"""The privacy settings page (cloud mode). Self-contained on purpose: the shared layout is
owned elsewhere; this page only needs to render the state and call the JSON API."""

from __future__ import annotations

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, select_autoescape

from peregrine.platform import consent as consent_q
from peregrine.platform import support_access as support_q
from peregrine.platform.pool import PlatformUnavailable
from peregrine.web.platform_deps import PlatformDep, UserIdDep
from peregrine.web.routes.api_privacy import COLLECTED

router = APIRouter(tags=["privacy"])

_templates = Environment(
    loader=PackageLoader("peregrine.web", "templates"),
    autoescape=select_autoescape(["html"]),
)


@router.get("/settings/privacy", response_class=HTMLResponse)
def privacy_page(request: Request, user_id: UserIdDep, services: PlatformDep) -> HTMLResponse:
    if user_id is None:
        raise HTTPException(404, "privacy settings exist only in the hosted service")
    if services.db is None:
        raise HTTPException(503, "privacy settings are unavailable on this server")
    try:
        with services.db.connection() as conn:
            consent = consent_q.get_consent(conn, user_id=user_id)
            grants = support_q.list_grants(conn, user_id=user_id)
    except PlatformUnavailable:
        raise HTTPException(
            503, "privacy settings are unavailable right now; please try again in a minute"
        ) from None
    html = _templates.get_template("privacy/settings.html").render(
        consent=consent,
        grants=grants,
        collected=COLLECTED,
        api_base=f"{request.scope.get('root_path', '')}/api/v1/privacy",
    )
    return HTMLResponse(html)
