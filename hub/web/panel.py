"""The agent panel: pages under ``/panel`` and JSON under ``/v1/panel`` and ``/v1/screen-pop``.

Every panel URL is keyed by one CRM record (``/panel/zendesk/tickets/<id>``,
``/panel/salesforce/cases/<id>``): an agent sees only what that record leads to, and nothing here
lists or searches customers. The page is rendered server-side from the same dict the JSON answers
(first paint needs no second round trip); ``panel.js`` polls ``.../version`` (an ETag, answered 304
while nothing changed) and swaps in the re-rendered body when something new is recorded.

Why polling rather than Server-Sent Events: ``ctihub serve`` runs under gunicorn's sync workers
(and werkzeug in tests), where each open event stream would hold a worker for as long as the panel
is open; a conditional GET every few seconds costs one indexed query and frees the worker at once.
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path
from typing import Any

from flask import Blueprint, abort, current_app, redirect, render_template, request
from flask.typing import ResponseReturnValue

from hub.domain.errors import ValidationFailed
from hub.services.panel import OBJECTS, PanelService
from hub.services.panel_actions import ActionRefused, Actor, PanelActions
from hub.services.screen_pop import ScreenPop
from hub.web.context import current_hub
from hub.web.errors import error_response
from hub.web.session import current_principal, require_role

bp = Blueprint("panel", __name__)

RECORD_ID = re.compile(r"^[A-Za-z0-9]{1,40}$")
HOSTS = ("zaf", "lwc", "opencti")
POLL_SECONDS = 3


# A screen pop's query names a phone or an email: access logs (werkzeug's, gunicorn's) must not keep it.
_IDENTIFIER_QUERY = re.compile(r"([?&](?:phone|email|id)=)[^&\s\"']*")
ACCESS_LOGGERS = ("werkzeug", "gunicorn.access")


def _redact(value: Any) -> Any:
    return _IDENTIFIER_QUERY.sub(r"\1[redacted]", value) if isinstance(value, str) else value


class RedactIdentifiers(logging.Filter):
    """Blanks ``phone=``, ``email=`` and ``id=`` query values in access log lines."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_redact(arg) for arg in record.args)
        elif isinstance(record.args, dict):
            record.args = {key: _redact(value) for key, value in record.args.items()}
        record.msg = _redact(record.msg)
        return True


@bp.record_once
def _install_redaction(_state: Any) -> None:
    for name in ACCESS_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactIdentifiers) for f in logger.filters):
            logger.addFilter(RedactIdentifiers())


def crm_settings(hub: Any) -> dict[str, str]:
    """The CRM's address settings, for links to records (the sandbox's own under ``--sandbox``)."""
    if hub.sandbox is not None:
        from hub.bootstrap import sandbox_crm_settings

        return sandbox_crm_settings(hub.settings.crm)
    return dict(hub.settings.crm_settings.get(hub.settings.crm, {}))


def panel_service() -> PanelService:
    hub = current_hub()
    return PanelService(
        engine=hub.engine,
        catalog=hub.mappings.catalog,
        clock=hub.clock,
        sla=hub.sla,
        crm_name=hub.crm.name,
        crm_settings=crm_settings(hub),
    )


def _record(crm: str, object_name: str, record_id: str) -> None:
    """404 unless the URL names a record the way the panel's URLs do."""
    if OBJECTS.get(crm) != object_name or not RECORD_ID.match(record_id):
        abort(404, description=f"no panel for /{crm}/{object_name}/{record_id}")


def _time_zone() -> str:
    principal = current_principal()
    return principal.time_zone if principal else "UTC"


def _host() -> str | None:
    host = request.args.get("host")
    return host if host in HOSTS else None


def _bridge_present() -> bool:
    folder = current_app.static_folder
    return bool(folder) and (Path(folder) / "bridge.js").is_file()


# --- JSON --------------------------------------------------------------------------------------------


@bp.get("/v1/panel/<crm>/<object_name>/<record_id>")
@require_role("agent")
def panel_json(crm: str, object_name: str, record_id: str) -> ResponseReturnValue:
    _record(crm, object_name, record_id)
    body = panel_service().for_record(crm, record_id, time_zone=_time_zone())
    return body, 200, {"ETag": _etag(body["version"]), "Cache-Control": "no-store"}


@bp.get("/v1/panel/<crm>/<object_name>/<record_id>/version")
@require_role("agent")
def panel_version(crm: str, object_name: str, record_id: str) -> ResponseReturnValue:
    """The cheap live check: 304 while the panel's data is unchanged."""
    _record(crm, object_name, record_id)
    etag = _etag(panel_service().version(crm, record_id))
    if request.if_none_match.contains(etag.strip('"')):
        return "", 304, {"ETag": etag, "Cache-Control": "no-store"}
    return {"version": etag}, 200, {"ETag": etag, "Cache-Control": "no-store"}


@bp.post("/v1/panel/<crm>/<object_name>/<record_id>/actions/<kind>")
@require_role("agent")
def panel_action(crm: str, object_name: str, record_id: str, kind: str) -> ResponseReturnValue:
    _record(crm, object_name, record_id)
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return error_response(400, "bad_request", "send a JSON object (Content-Type: application/json)")
    principal = current_principal()
    assert principal is not None  # require_role let the request in
    try:
        result = PanelActions.for_hub(current_hub()).perform(
            crm, record_id, kind, body, Actor(principal.subject, principal.name)
        )
    except ActionRefused as refused:
        return error_response(refused.status, refused.code, refused.message, refused.problems)
    return result, 200


def _screen_pop(args: dict[str, str] | None = None) -> dict[str, Any]:
    hub = current_hub()
    popper = ScreenPop(
        engine=hub.engine,
        catalog=hub.mappings.catalog,
        crm_name=hub.crm.name,
        crm_settings=crm_settings(hub),
        default_region=hub.settings.default_region,
    )
    if args is None:
        args = {name: request.args.get(name, "") for name in ("phone", "email", "platform", "id")}
    return popper.pop(args, time_zone=_time_zone())


@bp.get("/v1/screen-pop")
@require_role("agent")
def screen_pop() -> ResponseReturnValue:
    return _screen_pop(), 200, {"Cache-Control": "no-store"}


@bp.post("/v1/screen-pop")
@require_role("agent")
def screen_pop_post() -> ResponseReturnValue:
    """The same as GET, with the identifier in a JSON body (kept out of URLs and access logs)."""
    body = request.get_json(silent=True)
    if not isinstance(body, dict):
        return error_response(400, "bad_request", "send a JSON object (Content-Type: application/json)")
    args = {name: str(body.get(name) or "") for name in ("phone", "email", "platform", "id")}
    return _screen_pop(args), 200, {"Cache-Control": "no-store"}


@bp.get("/panel/pop")
@require_role("agent")
def screen_pop_page() -> ResponseReturnValue:
    """The screen pop for a console: one record opens its panel; several are offered as a choice."""
    try:
        answer = _screen_pop()
    except ValidationFailed as failed:
        return _page("panel/pop.html", answer=None, error=failed), 422
    record = answer.get("record")
    if answer["decision"] == "pop" and record and record.get("panel_path"):
        suffix = f"?host={_host()}" if _host() else ""
        return redirect(record["panel_path"] + suffix)
    return _page("panel/pop.html", answer=answer, error=None), 200, {"Cache-Control": "no-store"}


def _etag(version: str) -> str:
    return '"' + hashlib.sha256(version.encode()).hexdigest()[:20] + '"'


# --- pages -------------------------------------------------------------------------------------------


def _page(template: str, **values: Any) -> str:
    return render_template(
        template, host=_host() or "", bridge=_bridge_present(), poll_seconds=POLL_SECONDS, **values
    )


@bp.get("/panel")
@require_role("agent")
def panel_home() -> ResponseReturnValue:
    """Standalone: a short explanation and a form that opens one record's panel by its id."""
    crm, record_id = request.args.get("crm", ""), request.args.get("id", "").strip()
    if crm in OBJECTS and RECORD_ID.match(record_id):
        return redirect(f"/panel/{crm}/{OBJECTS[crm]}/{record_id}")
    return _page("panel/entry.html", crm=None)


@bp.get("/panel/<crm>")
@require_role("agent")
def panel_entry(crm: str) -> ResponseReturnValue:
    """The console's entry URL: the bridge names the open record and the page goes to its panel."""
    if crm not in OBJECTS:
        abort(404, description=f"no panel for {crm!r}")
    return _page("panel/entry.html", crm=crm)


@bp.get("/panel/zendesk/tickets/<record_id>")
@require_role("agent")
def zendesk_ticket(record_id: str) -> ResponseReturnValue:
    return _record_page("zendesk", record_id)


@bp.get("/panel/salesforce/cases/<record_id>")
@require_role("agent")
def salesforce_case(record_id: str) -> ResponseReturnValue:
    return _record_page("salesforce", record_id)


def _record_page(crm: str, record_id: str) -> ResponseReturnValue:
    _record(crm, OBJECTS[crm], record_id)
    data = panel_service().for_record(crm, record_id, time_zone=_time_zone())
    template = "panel/_body.html" if request.args.get("fragment") == "1" else "panel/record.html"
    return (
        _page(template, p=data, api_base=f"/v1/panel/{crm}/{OBJECTS[crm]}/{record_id}"),
        200,
        {
            "Cache-Control": "no-store",
            "ETag": _etag(data["version"]),
        },
    )
