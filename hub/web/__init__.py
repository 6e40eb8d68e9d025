"""The Flask application: ``create_app`` builds it from settings (or a ready Hub, in tests)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from flask import Flask, request

from hub.bootstrap import Hub, build_hub
from hub.serving.access import ROUTE_KEY
from hub.settings import Settings

MAX_BODY_BYTES = 1024 * 1024


def _record_route() -> None:
    """The matched route's pattern, for the access log (never the raw path or its query string)."""
    rule = request.url_rule
    request.environ[ROUTE_KEY] = rule.rule if rule is not None else None


def create_app(test_config: Mapping[str, Any] | None = None, *, hub: Hub | None = None) -> Flask:
    """``test_config`` overrides Settings fields (as the Flask tutorial's factory does)."""
    from hub.web import (
        admin_api,
        admin_console,
        api,
        channel_webhooks,
        crm,
        dashboard,
        dedup,
        deflection,
        episodes,
        errors,
        health,
        metrics,
        panel,
        prometheus,
        recovery,
        security,
        signin,
        signin_salesforce,
        signin_zendesk,
    )

    if hub is None:
        hub = build_hub(Settings.from_env(**dict(test_config or {})))
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.extensions["ctihub"] = hub
    errors.register(app)
    app.before_request(_record_route)
    web = security.configure(app, hub)
    signin_salesforce.register(app, hub, web)
    app.register_blueprint(signin.bp)
    app.register_blueprint(signin_zendesk.bp)
    app.register_blueprint(signin_salesforce.bp)
    app.register_blueprint(health.bp)
    app.register_blueprint(api.bp)
    app.register_blueprint(episodes.bp)
    app.register_blueprint(deflection.bp)
    app.register_blueprint(channel_webhooks.bp)
    app.register_blueprint(dedup.bp)
    app.register_blueprint(crm.bp)
    app.register_blueprint(recovery.bp)
    app.register_blueprint(metrics.bp)
    prometheus.register(app)
    app.register_blueprint(dashboard.bp)
    app.register_blueprint(panel.bp)
    app.register_blueprint(admin_api.bp)
    app.register_blueprint(admin_console.bp)
    if hub.sandbox is not None:
        app.register_blueprint(hub.sandbox.blueprint(), url_prefix="/sandbox")
    return app
