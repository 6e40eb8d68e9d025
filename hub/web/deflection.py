"""``/v1/deflection`` and ``/v1/context``: deflection offers and context carry-over.

``POST /v1/deflection/offer`` (API bearer token): ordered offers with a reason each, and one context
token for the decision. ``GET /v1/context/<token>``: the trail behind a context token.

Why the context endpoint takes no API token: the receiving channel may be a chat widget or an SMS
landing page in the customer's browser, which must never hold the hub's API token (it reads every
event). The context token is itself the credential, and a narrow one: signed by the hub, audience
``cti-hub-context``, valid for minutes, naming one decision that must be on record, and opening one
episode's trail without any phone number or email. Tokens in a URL path can reach proxy logs, so the
lifetime stays short and the answer is sent with ``Cache-Control: no-store`` and
``Referrer-Policy: no-referrer``.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Blueprint, Flask, current_app, request
from flask.blueprints import BlueprintSetupState
from flask.typing import ResponseReturnValue

from hub.bootstrap import Hub
from hub.domain.business_hours import Schedule
from hub.domain.deflection import DeflectionConfig
from hub.domain.errors import ConfigError, Problem
from hub.mappings import Mappings
from hub.mappings.deflection import DEFLECTION_FILE, SLA_FILE, load_deflection_config
from hub.services.context_token import SECRET_SETTING, ContextTokens, context_key
from hub.services.deflection import DeflectionService, parse_offer_request
from hub.settings import PREFIX
from hub.web.auth import require_token
from hub.web.context import current_hub
from hub.web.errors import NotConfigured, error_response

bp = Blueprint("deflection", __name__, url_prefix="/v1")

EXTENSION = "ctihub.deflection"
NO_STORE = {"Cache-Control": "no-store", "Referrer-Policy": "no-referrer"}


@dataclass(frozen=True)
class _Setup:
    config: DeflectionConfig
    schedule: Schedule | None


@bp.record_once
def _load(state: BlueprintSetupState) -> None:
    """Read ``deflection.yaml`` and find its schedule when the app is built: a broken file or an
    unknown schedule stops the hub at startup, not at the first caller."""
    hub: Hub = state.app.extensions["ctihub"]
    config = load_deflection_config(hub.mappings.directory)
    state.app.extensions[EXTENSION] = _Setup(config, schedule_for(hub.mappings, config))


def schedule_for(mappings: Mappings, config: DeflectionConfig) -> Schedule | None:
    """The ``sla.yaml`` schedule that ``business_hours`` names (None: always open)."""
    if config.schedule_name is None:
        return None
    found = mappings.sla.schedules.get(config.schedule_name) if mappings.sla is not None else None
    if found is None:
        path = str(mappings.directory / DEFLECTION_FILE)
        raise ConfigError(
            f"business-hours schedule {config.schedule_name!r} is not configured",
            [Problem(path, f"business_hours: no schedule {config.schedule_name!r} in {SLA_FILE}")],
        )
    return found


def service(app: Flask | None = None) -> DeflectionService:
    app = app or current_app
    hub: Hub = app.extensions["ctihub"]
    setup: _Setup = app.extensions[EXTENSION]
    secret = hub.settings.value(SECRET_SETTING.removeprefix(PREFIX))
    if not secret:  # 503 naming the setting; never derived from another secret
        raise NotConfigured.missing(SECRET_SETTING, "context tokens")
    key = context_key(secret)
    return DeflectionService(
        engine=hub.engine,
        catalog=hub.mappings.catalog,
        config=setup.config,
        clock=hub.clock,
        tokens=ContextTokens(key, setup.config.token_lifetime),
        schedule=setup.schedule,
        default_region=hub.settings.default_region,
    )


@bp.post("/deflection/offer")
@require_token
def post_offer() -> ResponseReturnValue:
    if request.mimetype != "application/json":
        return error_response(
            415, "unsupported_media_type", "send the request as Content-Type: application/json"
        )
    offer_request = parse_offer_request(request.get_data(cache=False), current_hub().mappings.catalog)
    result = service().offer(offer_request)
    return result.as_dict(), 200, NO_STORE


@bp.get("/context/<token>")
def get_context(token: str) -> ResponseReturnValue:
    return service().trail(token), 200, NO_STORE
