"""What a request without a valid session gets: a sign-in page for people, JSON for the API.

Self-contained (no base template) so it renders even when nothing else can.
"""

from __future__ import annotations

from urllib.parse import urlencode

import jinja2
from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from peregrine.tenancy.cloud import AccountDeleted, AuthenticationRequired, TenantUnavailable

_templates = jinja2.Environment(
    loader=jinja2.PackageLoader("peregrine.web", "templates/tenancy"),
    autoescape=True,
)
# Never cache an answer that depends on who is (not) signed in.
_NO_STORE = {"Cache-Control": "no-store"}


def _is_api(request: Request) -> bool:
    path = request.url.path
    root = request.scope.get("root_path", "")
    if root and path.startswith(root):
        path = path[len(root) :]
    return path == "/api" or path.startswith("/api/")


def login_href(login_url: str, request: Request) -> str:
    """``login_url`` with a ``next`` back to this page (a path, never another site)."""
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    if not target.startswith("/") or target.startswith("//"):
        target = "/"
    separator = "&" if "?" in login_url else "?"
    return f"{login_url}{separator}{urlencode({'next': target})}"


def install(app: FastAPI, *, login_url: str) -> None:
    @app.exception_handler(AuthenticationRequired)
    async def sign_in(request: Request, _: AuthenticationRequired) -> Response:
        if _is_api(request) or request.method not in ("GET", "HEAD"):
            return JSONResponse(
                {"error": "sign in required", "login_url": login_url},
                status_code=401,
                headers=_NO_STORE,
            )
        page = _templates.get_template("signin.html").render(
            reason="Your session has ended or you have not signed in yet.",
            login_href=login_href(login_url, request),
        )
        return HTMLResponse(page, status_code=401, headers=_NO_STORE)

    @app.exception_handler(AccountDeleted)
    async def deleted(request: Request, exc: AccountDeleted) -> Response:
        message = "This account was deleted. Its data has been erased."
        if _is_api(request):
            return JSONResponse({"error": message}, status_code=410, headers=_NO_STORE)
        return HTMLResponse(
            _templates.from_string(
                "<!doctype html><title>Account deleted · Peregrine</title><p>{{ m }}</p>"
            ).render(m=message),
            status_code=410,
            headers=_NO_STORE,
        )

    @app.exception_handler(TenantUnavailable)
    async def unavailable(request: Request, exc: TenantUnavailable) -> Response:
        message = f"{exc}; please try again later"
        if _is_api(request):
            return JSONResponse({"error": message}, status_code=503, headers=_NO_STORE)
        return HTMLResponse(
            _templates.from_string(
                "<!doctype html><title>Unavailable · Peregrine</title><p>{{ m }}</p>"
            ).render(m=message),
            status_code=503,
            headers=_NO_STORE,
        )
