"""``/v1/admin/...``: the configuration versions API (the admin console uses only this).

Bearer token or a session with the ``admin`` role; session writes carry the CSRF header. Errors use
the hub's error body; validation problems are its ``details`` (``path`` = ``<file>:<line>``), and a
publish conflict (409) names the published version in ``error.current_version``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from flask import Blueprint, Response, jsonify, request
from flask.typing import ResponseReturnValue

from hub.live_config import config_versions
from hub.services.config_versions import Actor, ConfigVersions, VersionError
from hub.store.config_versions import Version
from hub.web.context import current_hub
from hub.web.errors import error_response
from hub.web.session import current_principal, require_role

bp = Blueprint("admin_api", __name__, url_prefix="/v1/admin")
OPENAPI = Path(__file__).with_name("openapi_admin.json")


@bp.before_app_request
def apply_published_configuration() -> None:
    """Every web process picks up a newly published version (checked at most every few seconds)."""
    current_hub().refresh_config()


def _versions() -> ConfigVersions:
    hub = current_hub()
    return config_versions(hub.settings, hub.engine, hub.clock)


def _actor() -> Actor:
    principal = current_principal()
    assert principal is not None  # require_role ran
    return Actor(principal.subject, principal.name)


def _failed(exc: VersionError) -> ResponseReturnValue:
    response, status = error_response(exc.status, exc.code, exc.message, exc.problems)
    assert isinstance(response, Response)
    body = response.get_json()
    body["error"].update(exc.details)
    return jsonify(body), status


def _bad_request(message: str) -> ResponseReturnValue:
    return error_response(400, "bad_request", message)


def _body() -> dict[str, Any] | None:
    body = request.get_json(silent=True)
    return body if isinstance(body, dict) else None


def _optional_int(body: dict[str, Any], key: str) -> tuple[int | None, str | None]:
    value = body.get(key)
    if value is None or (isinstance(value, int) and not isinstance(value, bool)):
        return value, None
    return None, f"{key} must be a version number or null"


def _detail(version: Version, versions: ConfigVersions) -> dict[str, Any]:
    return {
        **version.summary(),
        "documents": dict(version.documents),
        "problems": [p.as_dict() for p in versions.problems(version.documents)],
    }


@bp.get("/openapi.json")
@require_role("admin")
def openapi() -> ResponseReturnValue:
    return Response(OPENAPI.read_text(encoding="utf-8"), mimetype="application/json")


@bp.get("/schemas/<document>")
@require_role("admin")
def schema(document: str) -> ResponseReturnValue:
    """The JSON Schema a document is checked against (the console's editor completes from it)."""
    from hub.mappings.schema import schema_path
    from hub.services.config_docs import DOCUMENT_NAME

    if not DOCUMENT_NAME.match(document):
        return error_response(
            404, "not_found", f"{document!r} is not an admin document (like fields.zendesk.yaml, sla.yaml)"
        )
    kind = document.removesuffix(".yaml").split(".")[0]
    path = schema_path(kind, current_hub().mappings.directory)
    if path is None:
        return error_response(404, "not_found", f"no JSON Schema for {document}")
    return Response(path.read_text(encoding="utf-8"), mimetype="application/schema+json")


@bp.get("/config")
@require_role("admin")
def list_versions() -> ResponseReturnValue:
    versions = _versions()
    items = [v.summary() for v in versions.versions()]
    published = next((item["version"] for item in items if item["state"] == "published"), None)
    return jsonify({"published_version": published, "versions": items})


@bp.get("/config/<int:version_id>")
@require_role("admin")
def get_version(version_id: int) -> ResponseReturnValue:
    versions = _versions()
    try:
        return jsonify(_detail(versions.get(version_id), versions))
    except VersionError as exc:
        return _failed(exc)


@bp.post("/config")
@require_role("admin")
def save_draft() -> ResponseReturnValue:
    body = _body()
    if body is None:
        return _bad_request("send a JSON object with documents: {name: YAML text}")
    documents = body.get("documents")
    if not isinstance(documents, dict) or not all(isinstance(v, str) for v in documents.values()):
        return _bad_request("documents must be an object of {file name: YAML text}")
    based_on, wrong = _optional_int(body, "based_on")
    note = body.get("note", "")
    if wrong or not isinstance(note, str):
        return _bad_request(wrong or "note must be text")
    versions = _versions()
    try:
        new_id, problems = versions.save_draft(documents, actor=_actor(), based_on=based_on, note=note)
    except VersionError as exc:
        return _failed(exc)
    return jsonify({**versions.get(new_id).summary(), "problems": [p.as_dict() for p in problems]}), 201


@bp.post("/config/<int:version_id>/publish")
@require_role("admin")
def publish(version_id: int) -> ResponseReturnValue:
    body = _body()
    if body is None or "base_version" not in body:
        return _bad_request('name the published version this draft is based on: {"base_version": N}')
    base, wrong = _optional_int(body, "base_version")
    if wrong:
        return _bad_request(wrong)
    try:
        version = _versions().publish(version_id, base_version=base, actor=_actor())
    except VersionError as exc:
        return _failed(exc)
    current_hub().refresh_config(force=True)
    return jsonify(version.summary())


@bp.post("/config/<int:version_id>/rollback")
@require_role("admin")
def rollback(version_id: int) -> ResponseReturnValue:
    body = _body() or {}
    base, wrong = _optional_int(body, "base_version")
    note = body.get("note", "")
    if wrong or not isinstance(note, str):
        return _bad_request(wrong or "note must be text")
    try:
        version = _versions().rollback(version_id, actor=_actor(), base_version=base, note=note)
    except VersionError as exc:
        return _failed(exc)
    current_hub().refresh_config(force=True)
    return jsonify(version.summary()), 201


@bp.get("/config/diff")
@require_role("admin")
def diff() -> ResponseReturnValue:
    try:
        a, b = int(request.args["a"]), int(request.args["b"])
    except (KeyError, ValueError):
        return _bad_request("give two version numbers: ?a=N&b=M")
    try:
        return jsonify({"a": a, "b": b, "documents": _versions().diff(a, b)})
    except VersionError as exc:
        return _failed(exc)


@bp.get("/config/<int:version_id>/crm-check")
@require_role("admin")
def crm_check(version_id: int) -> ResponseReturnValue:
    """The version's mapping checked against the live CRM schema (like ``ctihub crm check``)."""
    from hub.domain.errors import ConfigError, CrmError
    from hub.services.config_preview import crm_check as check

    hub = current_hub()
    if not callable(getattr(hub.crm, "metadata", None)):
        return error_response(501, "not_supported", f"the {hub.crm.name} adapter cannot describe its schema")
    try:
        return jsonify(check(hub.crm, _versions().get(version_id).documents))
    except VersionError as exc:
        return _failed(exc)
    except ConfigError as exc:
        return error_response(422, "invalid_configuration", "fix the version's problems first", exc.problems)
    except CrmError as exc:
        return error_response(502, "crm_unavailable", f"cannot read the {hub.crm.name} schema: {exc}")


@bp.post("/preview")
@require_role("admin")
def preview() -> ResponseReturnValue:
    """What linking an event (pasted, or stored by source + event_id) would write under the published
    version and under ``version`` (a draft), side by side. Writes nothing."""
    from hub.domain.errors import ValidationFailed
    from hub.services.config_preview import compare, stored_payload

    body = _body()
    if body is None:
        return _bad_request('send {"event": {...}} or {"source": ..., "event_id": ...}, and "version"')
    draft, wrong = _optional_int(body, "version")
    if wrong:
        return _bad_request(wrong)
    hub = current_hub()
    event = body.get("event")
    if event is None and isinstance(body.get("event_id"), str):
        event = stored_payload(hub.engine, str(body.get("source") or "generic"), body["event_id"])
        if event is None:
            return error_response(404, "not_found", "no stored event with that source and event_id")
    if not isinstance(event, dict):
        return _bad_request("event must be an outcome event object (or give source and event_id)")
    try:
        return jsonify(compare(hub, _versions(), event, draft))
    except VersionError as exc:
        return _failed(exc)
    except ValidationFailed as exc:
        return error_response(422, "invalid_event", exc.message, list(exc.problems))


@bp.get("/audit")
@require_role("admin")
def audit() -> ResponseReturnValue:
    return jsonify({"entries": _versions().audit_log()})


__all__ = ["bp"]
