"""``GET /v1/crm/status``: the CRM adapter's state (ok, quota_exhausted, rate_limited,
auth_failed), until when, and the last API usage it saw. Never calls the CRM."""

from __future__ import annotations

from flask import Blueprint
from flask.typing import ResponseReturnValue

from hub.web.auth import require_token
from hub.web.context import current_hub

bp = Blueprint("crm", __name__, url_prefix="/v1")


@bp.get("/crm/status")
@require_token
def status() -> ResponseReturnValue:
    crm = current_hub().crm
    report = getattr(crm, "status", None)
    if not callable(report):
        return {"crm": crm.name, "state": "unknown"}
    return {"crm": crm.name, **report()}
