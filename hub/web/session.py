"""Who is asking: the signed-in principal, roles, and CSRF for the web UI.

The session is Flask's signed cookie (``CTIHUB_SESSION_SECRET``): no table, nothing to clean up.
It carries the principal, the time it signed in (the session ends ``CTIHUB_SESSION_HOURS`` later,
however active it is) and the CSRF token. ``require_role`` is the one gate for pages and JSON
endpoints; a view that changes something must use it, which is also where CSRF is checked.
"""

from __future__ import annotations

import functools
import hmac
import secrets
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from flask import current_app, g, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue

from hub.domain.errors import ConfigError
from hub.web.context import current_hub
from hub.web.errors import error_response
from hub.web.signin_page import render_signin

ROLES = ("agent", "operations", "admin")
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
_KEY = "principal"
_CSRF_KEY = "csrf"


@dataclass(frozen=True)
class Principal:
    subject: str
    name: str
    crm: str
    roles: frozenset[str] = field(default_factory=frozenset)
    time_zone: str = "UTC"
    email: str | None = None

    def has_any(self, roles: Iterable[str]) -> bool:
        return bool(self.roles.intersection(roles))

    def as_dict(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "name": self.name,
            "crm": self.crm,
            "roles": sorted(self.roles),
            "time_zone": self.time_zone,
            "email": self.email,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Principal:
        return cls(
            subject=str(data["subject"]),
            name=str(data["name"]),
            crm=str(data["crm"]),
            roles=frozenset(r for r in data.get("roles", ()) if r in ROLES),
            time_zone=str(data.get("time_zone") or "UTC"),
            email=data.get("email"),
        )


API_TOKEN_PRINCIPAL = Principal(subject="hub:api-token", name="API token", crm="hub", roles=frozenset(ROLES))


def _now() -> datetime:
    return current_hub().clock.now()


def session_lifetime() -> timedelta:
    return current_app.permanent_session_lifetime


def current_principal() -> Principal | None:
    """The principal of this request: a bearer-token caller (set by ``require_role``) or the session's.

    A session older than ``CTIHUB_SESSION_HOURS`` counts as none (and is cleared).
    """
    found = g.get("hub_principal")
    if found is not None:
        return found
    data = session.get(_KEY)
    if not isinstance(data, dict):
        return None
    try:
        signed_in = datetime.fromtimestamp(float(data["at"]), UTC)
        principal = Principal.from_dict(data)
    except (KeyError, TypeError, ValueError):
        session.clear()
        return None
    if _now() - signed_in >= session_lifetime() or signed_in - _now() > timedelta(minutes=5):
        session.clear()
        return None
    return principal


def sign_in(principal: Principal) -> None:
    """Start a fresh session (a new CSRF token too: no fixation across sign-ins)."""
    if not current_app.secret_key:
        raise ConfigError("web sign-in needs a session secret (set CTIHUB_SESSION_SECRET)")
    session.clear()
    session.permanent = True
    session[_KEY] = {**principal.as_dict(), "at": _now().timestamp()}
    session[_CSRF_KEY] = secrets.token_urlsafe(32)


def sign_out() -> None:
    session.clear()


def csrf_token() -> str:
    """The session's CSRF token (a Jinja global); empty without a session secret."""
    if not current_app.secret_key:
        return ""
    token = session.get(_CSRF_KEY)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        session[_CSRF_KEY] = token
    return token


def csrf_ok() -> bool:
    """Whether this request carries the session's CSRF token (header, or form field)."""
    expected = session.get(_CSRF_KEY)
    given = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD) or ""
    return (
        isinstance(expected, str)
        and bool(expected)
        and hmac.compare_digest(given.encode(), expected.encode())
    )


def wants_json() -> bool:
    if request.path.startswith("/v1/"):
        return True
    best = request.accept_mimetypes.best_match(["text/html", "application/json"])
    return best == "application/json"


def _bearer_principal() -> Principal | bool | None:
    """For ``/v1/`` requests with an ``Authorization: Bearer``: the API principal, or False if wrong."""
    header = request.headers.get("Authorization", "")
    if not header or not request.path.startswith("/v1/"):
        return None
    scheme, _, given = header.partition(" ")
    expected = current_hub().settings.api_token
    if scheme.lower() != "bearer" or not expected:
        return False
    if not hmac.compare_digest(given.strip().encode(), expected.encode()):
        return False
    return API_TOKEN_PRINCIPAL


def crm_of_request() -> str:
    """Which CRM a page belongs to: its path says so (``/panel/salesforce/...``), else the hub's CRM."""
    segments = [s for s in request.path.split("/") if s]
    for crm in ("salesforce", "zendesk"):
        if crm in segments[:2]:
            return crm
    return current_hub().settings.crm


def _unauthenticated(roles: tuple[str, ...]) -> ResponseReturnValue:
    if wants_json():
        body, status = error_response(401, "unauthenticated", "sign in first, or send the API bearer token")
        body.headers["WWW-Authenticate"] = "Bearer"
        return body, status
    if current_hub().sandbox is not None:
        return redirect(
            url_for("signin.sandbox", next=request.full_path.rstrip("?"), role=roles[0], crm=crm_of_request())
        )
    return render_signin(next_url=request.full_path.rstrip("?"), status=401)


def _forbidden(principal: Principal, roles: tuple[str, ...]) -> ResponseReturnValue:
    message = f"this needs the {' or '.join(roles)} role; you are signed in as {principal.name}"
    if wants_json():
        return error_response(403, "forbidden", message)
    switch = None
    if current_hub().sandbox is not None:  # the demo: offer the sandbox user who has the role
        switch = url_for(
            "signin.sandbox", next=request.full_path.rstrip("?"), role=roles[0], crm=crm_of_request()
        )
    return render_template("forbidden.html", message=message, roles=roles, sandbox_switch=switch), 403


def _csrf_failed() -> ResponseReturnValue:
    message = f"missing or wrong CSRF token (send the {CSRF_HEADER} header from the page's meta tag)"
    if wants_json():
        return error_response(403, "csrf_failed", message)
    return render_template("forbidden.html", message=message, roles=()), 403


def require_role(*roles: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Let the view run for a principal with any of ``roles``; see UI-CONTRACT.md for every case."""
    unknown = [r for r in roles if r not in ROLES]
    if not roles or unknown:
        raise ValueError(f"require_role needs roles from {ROLES}, got {roles}")

    def decorate(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            bearer = _bearer_principal()
            if bearer is False:
                body, status = error_response(401, "unauthenticated", "missing or wrong bearer token")
                body.headers["WWW-Authenticate"] = "Bearer"
                return body, status
            if isinstance(bearer, Principal):
                g.hub_principal = bearer  # CSRF does not apply: a bearer token is never sent by a browser
                return view(*args, **kwargs)
            principal = current_principal()
            if principal is None:
                return _unauthenticated(roles)
            if not principal.has_any(roles):
                return _forbidden(principal, roles)
            if request.method not in SAFE_METHODS and not csrf_ok():
                return _csrf_failed()
            return view(*args, **kwargs)

        wrapped.required_roles = roles  # type: ignore[attr-defined]
        return wrapped

    return decorate
