"""Session cookie flags and the security headers every response carries.

The few headers are written here rather than through flask-talisman: we need exactly one CSP
(no inline script, ``frame-ancestors`` limited to the consoles), no ``X-Frame-Options`` (it would
forbid the console iframes that CSP allows), and nothing else to configure or keep up with.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

from flask import Flask, Request, Response, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

from hub.bootstrap import Hub
from hub.web.session import csrf_token, current_principal
from hub.web.web_settings import WebSettings

SESSION_COOKIE = "ctihub_session"


def content_security_policy(web: WebSettings) -> str:
    ancestors = " ".join(web.frame_ancestors) or "'none'"
    scripts = " ".join(("'self'", *web.script_sources))
    return "; ".join(
        (
            "default-src 'self'",
            f"script-src {scripts}",
            "style-src 'self'",
            "img-src 'self' data:",
            "font-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "form-action 'self'",
            f"frame-ancestors {ancestors}",
        )
    )


class CookieFirstSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, except that a request without a Cookie header (every API and
    webhook call) gets its empty session without Flask first building the signing serializer (a key
    derivation per request, about a tenth of the hub's CPU per ``POST /v1/outcomes``)."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and "HTTP_COOKIE" not in request.environ:
            return self.session_class()
        return super().open_session(app, request)


def configure(app: Flask, hub: Hub) -> WebSettings:
    web = WebSettings.from_settings(hub.settings)
    web.check()
    secret = hub.settings.session_secret
    if not secret and hub.sandbox is not None:
        secret = secrets.token_urlsafe(48)  # sandbox only: sessions last as long as the process
    app.secret_key = secret
    app.session_interface = CookieFirstSessions()
    app.config.update(
        SESSION_COOKIE_NAME=SESSION_COOKIE,
        SESSION_COOKIE_SECURE=True,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="None",  # the panel lives in a third-party (console) iframe
        SESSION_REFRESH_EACH_REQUEST=False,  # the session ends SESSION_HOURS after sign-in
        PERMANENT_SESSION_LIFETIME=timedelta(hours=web.session_hours),
    )
    app.extensions["ctihub_web"] = web
    app.jinja_env.globals.update(csrf_token=csrf_token, current_principal=current_principal)
    policy = content_security_policy(web)

    @app.after_request
    def security_headers(response: Response) -> Response:
        response.headers.setdefault("Content-Security-Policy", policy)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", "max-age=31536000")
        if response.mimetype == "text/html":
            response.headers.setdefault("Cache-Control", "no-store")
        return response

    return web
