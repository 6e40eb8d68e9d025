"""``GET /v1/metrics/dedup``: duplicates prevented, repaired (merged) and ambiguous matches."""

from __future__ import annotations

from flask import Blueprint
from flask.typing import ResponseReturnValue

from hub.services.dedup_metrics import dedup_counters
from hub.web.auth import require_token
from hub.web.context import current_hub

bp = Blueprint("dedup", __name__, url_prefix="/v1")


@bp.get("/metrics/dedup")
@require_token
def metrics() -> ResponseReturnValue:
    return dedup_counters(current_hub().engine)
