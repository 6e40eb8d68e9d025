"""The public v1 API."""

from __future__ import annotations

from flask import Blueprint, request
from flask.typing import ResponseReturnValue

from hub.domain.signing_keys import allowed_by
from hub.services.validation import load_outcome_schema
from hub.settings import WEBHOOK_KEYS
from hub.store import inbox
from hub.web.auth import require_token
from hub.web.context import current_hub
from hub.web.errors import NotConfigured, error_response

bp = Blueprint("v1", __name__, url_prefix="/v1")


@bp.post("/outcomes")
def post_outcome() -> ResponseReturnValue:
    """Verify, validate and commit one event; the CRM is never touched in the request."""
    hub = current_hub()
    if request.mimetype != "application/json":
        return error_response(
            415, "unsupported_media_type", "send the event as Content-Type: application/json"
        )
    keys = hub.settings.signing_keys
    if not keys:  # 503, not 401: the sender retries a 5xx, and nothing it sends could pass now
        raise NotConfigured.missing(f"CTIHUB_WEBHOOK_SECRET or {WEBHOOK_KEYS}", "outcome signing")
    body = request.get_data(cache=False)  # raises 413 above MAX_CONTENT_LENGTH
    # The signature first (a single constant-time pass over every active key), then the body is
    # parsed, then the key's binding is checked against the body's source (403, nothing stored).
    matched = hub.source.verify_keys(request.headers, body, keys=keys, now=hub.clock.now())
    accepted = hub.ingest.accept(body, may_write=lambda source: allowed_by(matched, source))
    return accepted.as_dict(), 200 if accepted.duplicate else 202


@bp.get("/outcomes/<source>/<path:event_id>")
@require_token
def get_outcome(source: str, event_id: str) -> ResponseReturnValue:
    hub = current_hub()
    with hub.engine.connect().execution_options(readonly=True) as connection:
        status = inbox.event_status(connection, source, event_id)
    if status is None:
        return error_response(404, "not_found", f"no event {event_id!r} from source {source!r}")
    return status


@bp.get("/catalog")
@require_token
def get_catalog() -> ResponseReturnValue:
    catalog = current_hub().mappings.catalog
    return {
        "intents": [intent.as_dict() for intent in catalog.intents.values()],
        "dispositions": [disposition.as_dict() for disposition in catalog.dispositions.values()],
    }


@bp.get("/schemas/outcome-event")
def get_outcome_schema() -> ResponseReturnValue:
    return load_outcome_schema(), 200, {"Content-Type": "application/schema+json"}
