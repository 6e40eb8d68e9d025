"""The landing page, the sign-in page, sign-out, and the sandbox's no-click sign-in."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from hub.web.context import current_hub
from hub.web.redirects import safe_next
from hub.web.session import ROLES, csrf_ok, current_principal, sign_out
from hub.web.signin_page import render_signin

bp = Blueprint("signin", __name__)

# Where each role's work is; the landing page and the layout's nav link only what the principal may open.
DESTINATIONS = (
    ("agent", "/panel", "Agent panel", "The trail, SLA clocks and recovery of the case you work."),
    ("operations", "/dashboard", "Operations dashboard", "Deflection, SLA and recovery across channels."),
    ("admin", "/admin", "Admin console", "Mappings, catalog and connections."),
)


@bp.get("/")
def home() -> ResponseReturnValue:
    principal = current_principal()
    if principal is None and current_hub().sandbox is not None:
        return redirect(url_for("signin.sandbox", next="/", role="agent", crm=current_hub().settings.crm))
    links = [d for d in DESTINATIONS if principal is not None and d[0] in principal.roles]
    return render_template("index.html", links=links, principal=principal)


@bp.get("/signin")
def signin_page() -> ResponseReturnValue:
    return render_signin(next_url=request.args.get("next"))


@bp.post("/signout")
def signout() -> ResponseReturnValue:
    if current_principal() is not None and not csrf_ok():
        return render_template("forbidden.html", message="missing or wrong CSRF token", roles=()), 403
    sign_out()
    return redirect(url_for("signin.signin_page"), code=303)


def cookie_will_stick() -> bool:
    """Browsers keep a ``Secure`` cookie over https, and over plain http only on loopback hosts."""
    return request.is_secure or urlsplit("//" + request.host).hostname in ("localhost", "127.0.0.1", "::1")


@bp.get("/signin/sandbox")
def sandbox() -> ResponseReturnValue:
    """Sandbox mode only: sign in through the sandbox CRM as its user with the role the page needs.

    No click, and through the production code: for Zendesk the sandbox signs an app token that this
    page posts to ``/signin/zendesk``; for Salesforce the OAuth flow runs against the sandbox's
    authorize, token and userinfo endpoints.
    """
    hub = current_hub()
    if hub.sandbox is None:
        abort(404)
    from adapters.sandbox import ZENDESK_SUBDOMAIN
    from adapters.sandbox.identity import USERS

    role = request.args.get("role", "agent")
    crm = request.args.get("crm", hub.settings.crm)
    if role not in ROLES or crm not in ("zendesk", "salesforce"):
        abort(400, description="role must be agent, operations or admin; crm zendesk or salesforce")
    next_url = safe_next(request.args.get("next"))
    if not cookie_will_stick():
        return render_template("sandbox_insecure.html", host=request.host), 400
    if crm == "salesforce":
        return redirect(url_for("signin_salesforce.start", next=next_url, login_hint=role))
    token = hub.sandbox.identity.zendesk_app_token(USERS[role], hub.clock.now(), ZENDESK_SUBDOMAIN)
    return render_template("sandbox_zendesk.html", token=token, next_url=next_url, user=USERS[role])
