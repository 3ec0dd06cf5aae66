"""Rendering pages: one Jinja2 environment (autoescape on), root-path-aware links, flashes.

Every link, form action, redirect and static URL goes through ``url()`` / ``static()`` /
``redirect()`` here, so the app works under ``PEREGRINE_ROOT_PATH`` behind a proxy.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any, TypeVar

import jinja2
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from peregrine import __version__
from peregrine.web.security import csrf_token

TEMPLATES = Path(__file__).parent / "templates"
STATIC = Path(__file__).parent / "static"
FLASH_COOKIE = "peregrine_flash"
_FLASH_KINDS = ("info", "success", "error")
_MAX_FLASH_CHARS = 1500

# (key, label, path): paths rather than route names, because Pipeline is built on another
# branch and the nav must not break while it is missing.
NAV = (
    ("home", "Home", "/"),
    ("review", "Review", "/review"),
    ("pipeline", "Pipeline", "/pipeline"),
    ("settings", "Settings", "/settings"),
)


def make_environment() -> jinja2.Environment:
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=True,
        # Templates ship with the package; checking their mtimes on every render is waste.
        auto_reload=False,
        trim_blocks=True,
        lstrip_blocks=True,
    )


def root(request: Request) -> str:
    return str(request.scope.get("root_path", "")).rstrip("/")


def url(request: Request, name: str, /, **params: Any) -> str:
    """The path of a named route, with the root path in front; query from ``query=``."""
    query = params.pop("query", None)
    if params:
        path = root(request) + str(request.app.url_path_for(name, **params))
    else:
        # Routes are fixed once the app is built; looking a name up walks every route, which
        # showed up as a quarter of the review page's time.
        cache: dict[str, str] = request.app.state.__dict__.setdefault("_url_cache", {})
        base = cache.get(name)
        if base is None:
            base = cache[name] = str(request.app.url_path_for(name))
        path = root(request) + base
    if query:
        from urllib.parse import urlencode

        path += "?" + urlencode(
            {k: v for k, v in query.items() if v not in (None, "", False)}, doseq=True
        )
    return path


def static(request: Request, path: str) -> str:
    # The version in the query string busts caches after an upgrade.
    return f"{root(request)}/static/{path}?v={__version__}"


_R = TypeVar("_R", bound=Response)


def redirect(request: Request, name: str, /, **params: Any) -> RedirectResponse:
    """POST-redirect-GET: 303 so the browser follows with GET."""
    return RedirectResponse(url(request, name, **params), status_code=303)


def flash(response: Response, request: Request, kind: str, text: str) -> None:
    """Queue a message for the next page the browser shows (a short-lived cookie)."""
    assert kind in _FLASH_KINDS
    messages = _read_flashes(request)
    messages.append({"kind": kind, "text": text[:500]})
    encoded = base64.urlsafe_b64encode(json.dumps(messages[-5:]).encode()).decode()
    if len(encoded) > _MAX_FLASH_CHARS:
        encoded = base64.urlsafe_b64encode(json.dumps(messages[-1:]).encode()).decode()
    response.set_cookie(
        FLASH_COOKIE,
        encoded,
        max_age=120,
        path=root(request) or "/",
        httponly=True,
        samesite="strict",
        secure=request.app.state.settings.cloud,
    )


def flashed(response: _R, request: Request, kind: str, text: str) -> _R:
    """``response`` with a message queued for the next page (see ``flash``)."""
    flash(response, request, kind, text)
    return response


def _read_flashes(request: Request) -> list[dict[str, str]]:
    raw = request.cookies.get(FLASH_COOKIE)
    if not raw:
        return []
    try:
        data = json.loads(base64.urlsafe_b64decode(raw.encode()))
    except ValueError:
        return []
    if not isinstance(data, list):
        return []
    return [
        {"kind": m["kind"], "text": str(m["text"])[:500]}
        for m in data
        if isinstance(m, dict) and m.get("kind") in _FLASH_KINDS and "text" in m
    ]


def render(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    status: int = 200,
    active: str = "",
) -> HTMLResponse:
    flashes = _read_flashes(request)
    html = render_text(request, template, context, active=active, flashes=flashes)
    return page_response(request, html, flashes=flashes, status=status)


def render_text(
    request: Request,
    template: str,
    context: dict[str, Any] | None = None,
    *,
    active: str = "",
    flashes: list[dict[str, str]] | None = None,
    csrf: str | None = None,
) -> str:
    """A page's HTML. ``csrf`` replaces the request's CSRF token (a page cache renders a
    placeholder there and puts each request's token in afterwards)."""
    env: jinja2.Environment = request.app.state.templates

    def url_for(name: str, /, **params: Any) -> str:
        return url(request, name, **params)

    def static_url(path: str) -> str:
        return static(request, path)

    html: str = env.get_template(template).render(
        {
            "request": request,
            "url": url_for,
            "static": static_url,
            "csrf_token": csrf_token(request.scope) if csrf is None else csrf,
            "flashes": _read_flashes(request) if flashes is None else flashes,
            "nav": NAV,
            "root": root(request),
            "active": active,
            "settings": request.app.state.settings,
            **(context or {}),
        }
    )
    return html


def page_response(
    request: Request,
    html: str | bytes,
    *,
    flashes: list[dict[str, str]] | None = None,
    status: int = 200,
) -> HTMLResponse:
    """The response for a rendered page: never cached by the browser; shown flashes are
    cleared."""
    response = HTMLResponse(html, status_code=status)
    response.headers["cache-control"] = "no-store"
    if flashes:
        response.delete_cookie(FLASH_COOKIE, path=root(request) or "/")
    return response


def pending_flashes(request: Request) -> list[dict[str, str]]:
    """The messages the next rendered page will show."""
    return _read_flashes(request)
