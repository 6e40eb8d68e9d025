"""``GET /v1/metrics/recovery``: attempts by result, blocked by reason, connect rate, touches per
resolution, opt-out rate per touch (``hub.services.recovery_metrics``). ``?since=`` an ISO 8601 time."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import Blueprint, request
from flask.typing import ResponseReturnValue

from hub.domain.errors import Problem, ValidationFailed
from hub.services.recovery_metrics import recovery_metrics
from hub.web.auth import require_token
from hub.web.context import current_hub

bp = Blueprint("recovery", __name__, url_prefix="/v1")


@bp.get("/metrics/recovery")
@require_token
def metrics() -> ResponseReturnValue:
    since = request.args.get("since")
    moment = None
    if since:
        try:
            moment = datetime.fromisoformat(since.replace("Z", "+00:00"))
        except ValueError:
            raise ValidationFailed(
                "since is not an ISO 8601 time", [Problem("since", f"{since!r} is not an ISO 8601 time")]
            ) from None
        moment = moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    return recovery_metrics(current_hub().engine, since=moment)
