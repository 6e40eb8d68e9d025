"""The landing page, the sign-in page, sign-out, and the sandbox's no-click sign-in."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from hub.web.context import current_hub
from hub.web.session import ROLES, Principal, csrf_ok, current_principal, safe_next, sign_in, sign_out
from hub.web.signin_page import render_signin

bp = Blueprint("signin", __name__)

# Where each role's work is; the landing page and the layout's nav link only what the principal may open.
DESTINATIONS = (
    ("agent", "/panel", "Agent panel", "The trail, SLA clocks and recovery of the case you work."),
    ("operations", "/dashboard", "Operations dashboard", "Deflection, SLA and recovery across channels."),
    ("admin", "/admin", "Admin console", "Mappings, catalog and connections."),
)

SANDBOX_NAMES = {"agent": "Sandbox Agent", "operations": "Sandbox Operations", "admin": "Sandbox Admin"}


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


@bp.get("/signin/sandbox")
def sandbox() -> ResponseReturnValue:
    """Sandbox mode only: sign in as the sandbox user with the role the page needs, no click."""
    hub = current_hub()
    if hub.sandbox is None:
        abort(404)
    role = request.args.get("role", "agent")
    crm = request.args.get("crm", hub.settings.crm)
    if role not in ROLES or crm not in ("zendesk", "salesforce"):
        abort(400, description="role must be agent, operations or admin; crm zendesk or salesforce")
    sign_in(
        Principal(
            subject=f"sandbox:{role}",
            name=SANDBOX_NAMES[role],
            crm=crm,
            roles=frozenset(ROLES[: ROLES.index(role) + 1]),
            email=f"{role}@sandbox.invalid",
        )
    )
    return redirect(safe_next(request.args.get("next")), code=303)
