"""``/webhooks/<source>``: the channel platforms' own webhooks (Twilio, Zendesk, Sunshine, Salesforce).

Every route does the same, in this order, and answers only after the commit:

1. the source's settings are complete (else 503 naming each missing ``CTIHUB_`` setting);
2. the content type is the provider's (else 415) and the body fits in 1 MiB (else 413);
3. the request is authentic (signature, API key, or Salesforce's URL token and then the org
   allow-list; else 401, or 403 for an organization that is not allowed); a malformed credential
   is refused before any other work;
4. the body parses into canonical items (else 400 when it cannot be read at all, 422 when it reads
   but is invalid or holds what cannot be stored: the status map of ``hub.web.errors``);
5. ``ChannelEvents.receive`` stores and processes every item in one transaction (a redelivered item
   changes nothing); if an item failed to process it is kept as ``failed`` and the answer is 500, so
   the provider retries and the retry processes it again.

Status codes: a bad signature is 401 on every source, as on ``/v1`` (Twilio's own samples answer
403; Twilio retries neither and logs both as error 11200, so the hub's one rule wins). Salesforce
answers SOAP: the ``Ack`` envelope on success, a SOAP fault otherwise, with the same status codes:
Salesforce retries every message that is not acknowledged, whatever the status, for 24 hours.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import wraps
from typing import Any

from flask import Blueprint, Response, current_app, request
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from hub.bootstrap import load_plugin
from hub.domain.errors import AuthError, HubError, Problem
from hub.services.channel_events import (
    SALESFORCE_OUTBOUND,
    SUNSHINE,
    TWILIO_SMS,
    ZENDESK,
    ChannelEvents,
    ChannelSettings,
    Receipt,
)
from hub.web.context import current_hub
from hub.web.errors import NotConfigured, error_response, status_for
from webhooks.common import DeliveryItem, kept_headers
from webhooks.salesforce_outbound import ACK, CONTENT_TYPE, fault

log = logging.getLogger(__name__)
bp = Blueprint("channel_webhooks", __name__, url_prefix="/webhooks")

EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
EXTENSION = "ctihub.channel_webhooks"
SOURCES = (TWILIO_SMS, ZENDESK, SUNSHINE, SALESFORCE_OUTBOUND)


class UnsupportedMedia(HubError):
    code = "unsupported_media_type"


class ProcessingFailed(HubError):
    code = "processing_failed"


@dataclass
class ChannelWebhooks:
    """What the routes need, built once per app from the Hub: the service and the source plugins."""

    events: ChannelEvents
    sources: dict[str, Any]

    def ready(self, source: str) -> ChannelSettings:
        problems = self.events.settings.problems(source)
        if problems:
            names = ", ".join(dict.fromkeys(p.path for p in problems))
            raise NotConfigured(f"the {source} webhook is not configured: see {names}", problems)
        return self.events.settings


def channel_webhooks() -> ChannelWebhooks:
    found = current_app.extensions.get(EXTENSION)
    if found is None:
        hub = current_hub()
        found = ChannelWebhooks(
            events=ChannelEvents.for_hub(hub),
            sources={name: load_plugin("cti_hub.webhooks", name) for name in SOURCES},
        )
        current_app.extensions[EXTENSION] = found
    return found


# --- errors ---------------------------------------------------------------------------------------


def _status_for(error: Exception) -> int:
    """``hub.web.errors.status_for``, plus this blueprint's own two."""
    if isinstance(error, HTTPException):
        return error.code or 500
    if isinstance(error, UnsupportedMedia):
        return 415
    if isinstance(error, ProcessingFailed):
        return 500
    if isinstance(error, HubError):
        return status_for(error)
    return 500


def _describe(error: Exception) -> tuple[str, str, list[Problem]]:
    if isinstance(error, HubError):
        return error.code, error.message, error.problems
    if isinstance(error, HTTPException):
        return (error.name or "error").lower().replace(" ", "_"), error.description or str(error.name), []
    return "internal_error", "the hub failed to handle this webhook; see its log", []


def _answers(render: Callable[[int, str, str, list[Problem]], Response]) -> Callable[..., Any]:
    """Translate every failure of a route into the route's own error format, with its status."""

    def decorate(view: Callable[..., ResponseReturnValue]) -> Callable[..., ResponseReturnValue]:
        @wraps(view)
        def wrapper(*args: Any, **kwargs: Any) -> ResponseReturnValue:
            try:
                return view(*args, **kwargs)
            except Exception as error:
                status = _status_for(error)
                code, message, problems = _describe(error)
                if status >= 500:
                    log.log(
                        logging.ERROR if status == 500 else logging.WARNING,
                        "%s %s: %s",
                        request.path,
                        status,
                        message,
                        exc_info=not isinstance(error, HubError | HTTPException),
                    )
                return render(status, code, message, problems)

        return wrapper

    return decorate


def _json_error(status: int, code: str, message: str, problems: list[Problem]) -> Response:
    response, _ = error_response(status, code, message, problems)  # type: ignore[misc]
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Signature realm="ctihub-webhooks"'
    return response


def _soap_fault(status: int, code: str, message: str, problems: list[Problem]) -> Response:
    details = "; ".join(f"{p.path}: {p.message}" for p in problems)
    text = f"{code}: {message}" + (f" ({details})" if details else "")
    return Response(fault(text, client=status < 500), status=status, content_type=CONTENT_TYPE)


# --- the shared steps -----------------------------------------------------------------------------


def _body(*mimetypes: str) -> bytes:
    if request.mimetype not in mimetypes:
        raise UnsupportedMedia(
            f"send the webhook as Content-Type: {' or '.join(mimetypes)}, "
            f"not {request.mimetype or 'nothing'!r}"
        )
    return request.get_data(cache=False)  # raises 413 above MAX_CONTENT_LENGTH


def _receive(hooks: ChannelWebhooks, source: str, items: Sequence[DeliveryItem]) -> Receipt:
    plugin = hooks.sources[source]
    receipt = hooks.events.receive(source, kept_headers(request.headers, plugin.kept_headers), items)
    if receipt.failed:
        raise ProcessingFailed(
            f"{len(receipt.failed)} item(s) could not be processed; they are stored and will be retried",
            [Problem(item.provider_id, item.detail or "failed") for item in receipt.failed],
        )
    return receipt


# --- routes ---------------------------------------------------------------------------------------


@bp.post("/twilio/sms")
@_answers(_json_error)
def twilio_sms() -> ResponseReturnValue:
    """Twilio inbound SMS; answers empty TwiML (Twilio's own opt-out handling sends the replies)."""
    hooks = channel_webhooks()
    settings = hooks.ready(TWILIO_SMS)
    body = _body("application/x-www-form-urlencoded")
    assert settings.public_url and settings.twilio_auth_token
    url = settings.public_url.rstrip("/") + request.path
    if request.query_string:
        url += "?" + request.query_string.decode("utf-8", "replace")
    source = hooks.sources[TWILIO_SMS]
    source.verify(
        request.headers, body, secret=settings.twilio_auth_token, now=hooks.events.clock.now(), url=url
    )
    _receive(hooks, TWILIO_SMS, [source.parse(body)])
    return Response(EMPTY_TWIML, status=200, content_type="text/xml; charset=utf-8")


@bp.post("/zendesk")
@_answers(_json_error)
def zendesk_webhook() -> ResponseReturnValue:
    hooks = channel_webhooks()
    settings = hooks.ready(ZENDESK)
    body = _body("application/json")
    assert settings.zendesk_webhook_secret
    source = hooks.sources[ZENDESK]
    source.verify(request.headers, body, secret=settings.zendesk_webhook_secret, now=hooks.events.clock.now())
    receipt = _receive(hooks, ZENDESK, [source.parse(body, request.headers)])
    return {"source": ZENDESK, **receipt.items[0].as_dict()}, 200


@bp.post("/sunshine")
@_answers(_json_error)
def sunshine_webhook() -> ResponseReturnValue:
    hooks = channel_webhooks()
    settings = hooks.ready(SUNSHINE)
    body = _body("application/json")
    assert settings.sunshine_api_key
    source = hooks.sources[SUNSHINE]
    source.verify(request.headers, body, secret=settings.sunshine_api_key, now=hooks.events.clock.now())
    receipt = _receive(hooks, SUNSHINE, source.parse(body))
    return {"source": SUNSHINE, "events": [item.as_dict() for item in receipt.items]}, 200


@bp.post("/salesforce/outbound")
@_answers(_soap_fault)
def salesforce_outbound_webhook() -> ResponseReturnValue:
    """Salesforce Outbound Messages: the Ack is sent only once every notification is committed."""
    hooks = channel_webhooks()
    settings = hooks.ready(SALESFORCE_OUTBOUND)  # 503 until CTIHUB_SALESFORCE_OUTBOUND_TOKEN is set
    assert settings.salesforce_outbound_token
    given = request.args.get("token", "")
    if not hmac.compare_digest(
        given.encode("utf-8", "replace"), settings.salesforce_outbound_token.encode("utf-8")
    ):
        raise AuthError("the endpoint URL's ?token= is not CTIHUB_SALESFORCE_OUTBOUND_TOKEN")
    body = _body("text/xml", "application/xml")  # read only once the sender is authenticated
    source = hooks.sources[SALESFORCE_OUTBOUND]
    message, items = source.parse(body)
    source.check_sender(message, settings.salesforce_org_ids)
    _receive(hooks, SALESFORCE_OUTBOUND, items)
    return Response(ACK, status=200, content_type=CONTENT_TYPE)
