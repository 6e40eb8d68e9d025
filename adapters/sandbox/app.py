"""The sandbox's Flask blueprint (``/salesforce/...``, ``/zendesk/...``) and a minimal WSGI app."""

from __future__ import annotations

from typing import TYPE_CHECKING
from urllib.parse import quote, unquote

from flask import Blueprint, Flask, Response, request

from .oauth import add_oauth_routes

if TYPE_CHECKING:
    from .core import Sandbox

METHODS = ["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"]


def _raw_segments(rest: str) -> list[str]:
    """The path after the CRM prefix, split on the *raw* ``/`` and then percent-decoded per segment.

    Salesforce external id values may contain an encoded ``/`` (``%2F``); WSGI servers decode it in
    ``PATH_INFO``, so the raw request URI is used when the server provides it.
    """
    raw_uri = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if raw_uri:
        raw_path = raw_uri.split("?", 1)[0]
        if "://" in raw_path:  # absolute-form request target
            raw_path = "/" + raw_path.split("://", 1)[1].partition("/")[2]
        full = request.script_root + request.path
        prefix_slashes = full[: len(full) - len(rest)].count("/")
        raw_rest = "/".join(raw_path.split("/")[prefix_slashes:])
        if unquote(raw_rest) == rest:
            return [unquote(s) for s in raw_rest.split("/")]
    return [unquote(s) for s in quote(rest, safe="/").split("/")]


def make_blueprint(sandbox: Sandbox) -> Blueprint:
    bp = Blueprint("sandbox", __name__)
    add_oauth_routes(bp, sandbox)  # before the catch-alls; werkzeug prefers the static rules anyway

    def serve(crm: str, rest: str) -> Response:
        segments = _raw_segments(rest)
        served = sandbox.serve(
            crm,
            request.method,
            segments,
            request.query_string.decode("latin-1"),
            dict(request.headers),
            request.get_data(cache=False) or None,
        )
        return Response(served.body, status=served.status, headers=served.headers)

    @bp.route("/salesforce/", defaults={"rest": ""}, methods=METHODS, strict_slashes=False)
    @bp.route("/salesforce/<path:rest>", methods=METHODS)
    def salesforce(rest: str) -> Response:
        return serve("salesforce", rest)

    @bp.route("/zendesk/", defaults={"rest": ""}, methods=METHODS, strict_slashes=False)
    @bp.route("/zendesk/<path:rest>", methods=METHODS)
    def zendesk(rest: str) -> Response:
        return serve("zendesk", rest)

    return bp


def make_app(sandbox: Sandbox) -> Flask:
    app = Flask("adapters.sandbox")
    app.register_blueprint(make_blueprint(sandbox), url_prefix="/sandbox")
    return app
