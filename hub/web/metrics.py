"""``GET /v1/metrics/deflection``: the deflection figures of docs/metrics.md over a range of days
(``hub.services.deflection_metrics``), from the rollup the scheduler keeps."""

from __future__ import annotations

from flask import Blueprint, request
from flask.typing import ResponseReturnValue

from hub.services.deflection_metrics import Query, deflection_report
from hub.web.context import current_hub
from hub.web.session import require_role

bp = Blueprint("metrics", __name__, url_prefix="/v1")


@bp.get("/metrics/deflection")
@require_role("operations")  # the API bearer token, or a signed-in principal with the role
def deflection() -> ResponseReturnValue:
    hub = current_hub()
    query = Query.parse(request.args)
    return deflection_report(hub.engine, query, window_hours=hub.metrics.recontact_window_hours)
