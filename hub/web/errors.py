"""Every error leaves as ``{"error": {"code", "message", "details": [{"path", "message"}]}}``.

One status map for every route (``status_for``), the ``/v1`` API and the channel webhooks alike:

    Unparseable (not JSON/XML/form, not UTF-8, too deep)  400
    AuthError (signature, token, API key)                 401
    Forbidden (authentic, but not allowed: org, source)   403
    ValidationFailed (parsed, but invalid)                422
    NotConfigured (a setting the route needs is missing)  503  (senders retry a 5xx, drop a 4xx)
    ConfigError                                           500
    anything else from a HubError                         502
"""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from hub.domain.body import Unparseable
from hub.domain.errors import (
    AuthError,
    ConfigError,
    ExternalCallError,
    Forbidden,
    HubError,
    Problem,
    ValidationFailed,
)

log = logging.getLogger(__name__)


def error_response(
    status: int, code: str, message: str, problems: list[Problem] | None = None
) -> ResponseReturnValue:
    body = {"error": {"code": code, "message": message, "details": [p.as_dict() for p in problems or []]}}
    return jsonify(body), status


class NotConfigured(HubError):
    """A setting the route needs is missing or invalid (HTTP 503, naming it): the sender retries."""

    code = "not_configured"

    @classmethod
    def missing(cls, setting: str, what: str) -> NotConfigured:
        return cls(f"{what} is not configured: set {setting}", [Problem(setting, "is not set")])


def status_for(error: HubError) -> int:
    if isinstance(error, Unparseable):
        return 400
    if isinstance(error, ValidationFailed):
        return 422
    if isinstance(error, NotConfigured):
        return 503
    if isinstance(error, Forbidden):
        return 403
    if isinstance(error, AuthError):
        return 401
    if isinstance(error, ConfigError):
        return 500
    return 502


def register(app: Flask) -> None:
    @app.errorhandler(HubError)
    def hub_error(error: HubError) -> ResponseReturnValue:
        status = status_for(error)
        if status >= 500:
            log.error("request failed: %s", error.message)
        message, problems = error.message, error.problems
        if isinstance(error, ExternalCallError):
            # The other system's text may echo what was sent (a phone number, an email): the caller
            # gets where it failed, the masked log gets the rest.
            message, problems = f"{error.origin()} failed; details are in the hub's log", []
        response = error_response(status, error.code, message, problems)
        if status == 401:
            body, code = response  # type: ignore[misc]
            body.headers["WWW-Authenticate"] = "Bearer"
            return body, code
        return response

    @app.errorhandler(HTTPException)
    def http_error(error: HTTPException) -> ResponseReturnValue:
        code = (error.name or "error").lower().replace(" ", "_")
        return error_response(error.code or 500, code, error.description or error.name)

    @app.errorhandler(Exception)
    def unexpected(error: Exception) -> ResponseReturnValue:
        log.exception("unhandled error")
        return error_response(500, "internal_error", "the hub failed to handle this request; see its log")
