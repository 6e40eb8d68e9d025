"""Every error leaves as ``{"error": {"code", "message", "details": [{"path", "message"}]}}``."""

from __future__ import annotations

import logging

from flask import Flask, jsonify
from flask.typing import ResponseReturnValue
from werkzeug.exceptions import HTTPException

from hub.domain.errors import AuthError, ConfigError, HubError, Problem, ValidationFailed
from hub.services.validation import MalformedBody

log = logging.getLogger(__name__)


def error_response(
    status: int, code: str, message: str, problems: list[Problem] | None = None
) -> ResponseReturnValue:
    body = {"error": {"code": code, "message": message, "details": [p.as_dict() for p in problems or []]}}
    return jsonify(body), status


def _status_for(error: HubError) -> int:
    if isinstance(error, MalformedBody):
        return 400
    if isinstance(error, ValidationFailed):
        return 422
    if isinstance(error, AuthError):
        return 401
    if isinstance(error, ConfigError):
        return 500
    return 502


def register(app: Flask) -> None:
    @app.errorhandler(HubError)
    def hub_error(error: HubError) -> ResponseReturnValue:
        status = _status_for(error)
        if status >= 500:
            log.error("request failed: %s", error.message)
        response = error_response(status, error.code, error.message, error.problems)
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
