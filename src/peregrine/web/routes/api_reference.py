"""The API reference page, rendered on the server from the OpenAPI schema.

FastAPI's Swagger page loads its script from a CDN, which breaks offline and under our CSP,
so we draw a plain page instead; ``/api/openapi.json`` stays for tools.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import HTMLResponse

from peregrine.web.render import render, root

router = APIRouter(include_in_schema=False)

_METHODS = ("get", "post", "put", "patch", "delete")


def _type(schema: dict[str, Any]) -> str:
    if "$ref" in schema:
        return str(schema["$ref"]).rsplit("/", 1)[-1]
    if "anyOf" in schema:
        return " or ".join(_type(s) for s in schema["anyOf"])
    if "enum" in schema:
        return " | ".join(str(v) for v in schema["enum"])
    if schema.get("type") == "array":
        return f"list of {_type(schema.get('items', {}))}"
    return str(schema.get("type", "any"))


def _operations(spec: dict[str, Any]) -> list[dict[str, Any]]:
    groups: dict[str, list[dict[str, Any]]] = {}
    for path, item in spec.get("paths", {}).items():
        for method in _METHODS:
            op = item.get(method)
            if op is None:
                continue
            body: dict[str, Any] = op.get("requestBody", {}).get("content", {})
            first: dict[str, Any] = next(iter(body.values()), {}) if body else {}
            body_schema = first.get("schema")
            entry = {
                "method": method.upper(),
                "path": path,
                "summary": op.get("description") or op.get("summary", ""),
                "parameters": [
                    {
                        "name": p["name"],
                        "where": p.get("in", ""),
                        "type": _type(p.get("schema", {})),
                        "required": p.get("required", False),
                    }
                    for p in op.get("parameters", [])
                ],
                "body": _type(body_schema) if body_schema else "",
                "responses": sorted(op.get("responses", {})),
            }
            groups.setdefault((op.get("tags") or ["other"])[0], []).append(entry)
    return [{"tag": tag, "operations": ops} for tag, ops in sorted(groups.items())]


def _schemas(spec: dict[str, Any]) -> list[tuple[str, list[tuple[str, str, bool]]]]:
    out = []
    for name, schema in sorted(spec.get("components", {}).get("schemas", {}).items()):
        required = set(schema.get("required", []))
        fields = [
            (field, _type(sub), field in required)
            for field, sub in schema.get("properties", {}).items()
        ]
        out.append((name, fields))
    return out


@router.get("/api/docs", response_class=HTMLResponse, name="api_reference")
def api_reference(request: Request) -> HTMLResponse:
    spec = request.app.openapi()
    return render(
        request,
        "api_reference.html",
        {
            "groups": _operations(spec),
            "schemas": _schemas(spec),
            "openapi_url": f"{root(request)}/api/openapi.json",
        },
    )
