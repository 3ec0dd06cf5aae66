"""Cloud users deleting their own account: the JSON API and the Settings → Data form.

Both run the same erasure as `peregrine admin delete-user`, with the user's in-flight
requests drained and cached handles closed first; afterwards the still-valid session gets
410 ("this account was deleted") and nothing is provisioned again.
"""

from __future__ import annotations

import logging
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, Response
from pydantic import BaseModel, ConfigDict, StrictStr

from peregrine.services.account_erasure import AccountErasure, erase_account
from peregrine.web.render import render

log = logging.getLogger("peregrine.web")

router = APIRouter(tags=["account"])

CONFIRM_WORD = "DELETE"


class DeleteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    confirm: StrictStr


def _cloud_user(request: Request) -> str:
    if not request.app.state.settings.cloud:
        raise HTTPException(404, "account deletion exists only in cloud mode")
    user_id: str = request.app.state.tenancy.authenticate(request.headers)
    return user_id


def _erase(request: Request, user_id: str) -> AccountErasure:
    tenancy = request.app.state.tenancy
    outcome: list[AccountErasure] = []

    def action() -> None:
        outcome.append(
            erase_account(request.app.state.settings, user_id, close_handles=tenancy.close_user)
        )

    tenancy.replace_user_database(user_id, action)
    return outcome[0]


@router.post("/api/v1/account/delete")
async def delete_account_api(request: Request, body: DeleteRequest) -> JSONResponse:
    user_id = _cloud_user(request)
    if body.confirm != CONFIRM_WORD:
        raise HTTPException(422, f'to delete your account, send {{"confirm": "{CONFIRM_WORD}"}}')
    done = await run_in_threadpool(_erase, request, user_id)
    return JSONResponse(
        {"deleted": True, "platform_rows_pending": bool(done.pending)},
        headers={"Cache-Control": "no-store"},
    )


@router.post("/settings/data/delete-account", name="settings_delete_account")
async def delete_account_form(request: Request) -> Response:
    user_id = _cloud_user(request)
    form = await request.form()
    confirm = form.get("confirm")
    if confirm != CONFIRM_WORD:
        context: dict[str, Any] = {
            "tabs": _tabs(),
            "tab": "settings_data",
            "cloud": True,
            "values": {},
            "errors": {"confirm": f"Type {CONFIRM_WORD} to confirm."},
        }
        return render(request, "settings/data.html", context, status=422, active="settings")
    await run_in_threadpool(_erase, request, user_id)
    return HTMLResponse(
        "<!doctype html><title>Account deleted · Peregrine</title>"
        "<p>Your account and all its data were deleted.</p>",
        headers={"Cache-Control": "no-store"},
    )


def _tabs() -> Any:
    from peregrine.web.routes.pages_settings import TABS

    return TABS
