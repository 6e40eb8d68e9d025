"""``GET /metrics`` (Prometheus exposition) and the request hooks that count events and webhooks.

Authentication: ``Authorization: Bearer`` with ``CTIHUB_METRICS_TOKEN`` (a scraper need not hold the
API token) or ``CTIHUB_API_TOKEN``; anything else is a 401 with the hub's error body.
"""

from __future__ import annotations

import hmac
from typing import Any

from flask import Blueprint, Flask, Response, request

from hub.services import telemetry
from hub.services.scrape import exposition
from hub.services.scrape import mark_process_dead as mark_process_dead
from hub.web.context import current_hub
from hub.web.errors import error_response

bp = Blueprint("prometheus", __name__)

# channel_webhooks view -> the source label (the same names as the webhook plugins)
WEBHOOK_SOURCES = {
    "channel_webhooks.twilio_sms": "twilio-sms",
    "channel_webhooks.zendesk_webhook": "zendesk",
    "channel_webhooks.sunshine_webhook": "sunshine",
    "channel_webhooks.salesforce_outbound_webhook": "salesforce-outbound",
}
OUTCOMES_ENDPOINT = "v1.post_outcome"


def token_allowed(header: str, tokens: list[str | None]) -> bool:
    """A bearer token equal (constant time) to one of the configured ``tokens``."""
    scheme, _, given = header.partition(" ")
    if scheme.lower() != "bearer" or not given.strip():
        return False
    offered = given.strip().encode()
    matches = [hmac.compare_digest(offered, token.encode()) for token in tokens if token]
    return any(matches)


def scrape_tokens(settings: Any) -> list[str | None]:
    return [settings.metrics_token, settings.api_token]


@bp.get("/metrics")
def metrics() -> Any:
    hub = current_hub()
    if not token_allowed(request.headers.get("Authorization", ""), scrape_tokens(hub.settings)):
        body, status = error_response(
            401, "unauthenticated", "send Authorization: Bearer with CTIHUB_METRICS_TOKEN or CTIHUB_API_TOKEN"
        )
        body.headers["WWW-Authenticate"] = "Bearer"
        return body, status
    payload, content_type = exposition(hub.engine, hub.clock.now)
    return Response(payload, content_type=content_type)


def _count(response: Response) -> Response:
    endpoint = request.endpoint or ""
    status = response.status_code
    if endpoint == OUTCOMES_ENDPOINT:
        if status == 202:
            telemetry.event_received("accepted")
        elif status == 200:
            telemetry.event_received("duplicate")
        else:
            body = response.get_json(silent=True) if response.is_json else None
            code = (body or {}).get("error", {}).get("code") if isinstance(body, dict) else None
            telemetry.event_received("rejected", str(code or status))
    elif endpoint in WEBHOOK_SOURCES:
        telemetry.webhook_delivered(WEBHOOK_SOURCES[endpoint], _webhook_result(status))
    return response


def _webhook_result(status: int) -> str:
    if status < 300:
        return "accepted"
    if status == 401:
        return "signature_failed"
    if status == 403:
        return "forbidden"
    return "rejected" if status < 500 else "error"


def register(app: Flask) -> None:
    app.register_blueprint(bp)
    app.after_request(_count)


def standalone_app(hub: Any) -> Any:
    """A WSGI app serving only ``/metrics`` for a ``ctihub worker`` or ``ctihub scheduler`` that
    runs on a host of its own (``--metrics-port``), with the same authentication."""
    app = Flask(__name__)
    app.extensions["ctihub"] = hub
    app.register_blueprint(bp)
    return app


def serve_metrics(hub: Any, port: int, host: str = "127.0.0.1") -> Any:
    """Serve ``standalone_app`` on ``host:port`` in a daemon thread; returns the server (``shutdown()``)."""
    import threading

    from werkzeug.serving import make_server

    server = make_server(host, port, standalone_app(hub), threaded=True)
    threading.Thread(target=server.serve_forever, name="metrics", daemon=True).start()
    return server


def child_exit(server: Any, worker: Any) -> None:
    """gunicorn's ``child_exit`` server hook: in the gunicorn config module, ``from
    hub.web.prometheus import child_exit`` (or call ``mark_process_dead(worker.pid)`` from yours)."""
    mark_process_dead(worker.pid)
