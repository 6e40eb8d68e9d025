"""Salesforce sign-in: OAuth 2.0 web-server flow with PKCE (S256) through authlib's Flask client.

    GET /signin/salesforce?next=/panel/...&popup=1   -> Salesforce's authorize page (in a popup)
    GET /signin/salesforce/callback                  -> code + verifier for tokens, ID token checked,
                                                        OpenID userinfo read, roles mapped, signed in

Salesforce login pages refuse to be framed, so the panel opens the start URL in a popup; the
callback page then tells its opener (same origin, explicit target origin) and closes, and the panel
reloads. Roles come from the userinfo ``custom_permissions`` map (scope ``custom_permissions``):
see ``hub.domain.roles``. With ``CTIHUB_SALESFORCE_ORG_ID`` set, a user of another org is refused.

In sandbox mode the same code runs against the sandbox's endpoints: the browser is sent to the
hub's own ``/sandbox/salesforce/services/oauth2/authorize``; token and userinfo calls go through the
sandbox's in-process transport to ``https://sandbox.my.salesforce.com``.
"""

from __future__ import annotations

import logging
from typing import Any

from authlib.common.errors import AuthlibBaseError
from authlib.integrations.flask_client import OAuth, OAuthError
from flask import Blueprint, Flask, abort, current_app, redirect, render_template, request, session, url_for
from flask.typing import ResponseReturnValue
from requests import RequestException

from hub.bootstrap import Hub
from hub.web.context import current_hub
from hub.web.redirects import is_safe_next, safe_next
from hub.web.session import Principal, sign_in
from hub.web.signin_page import render_signin
from hub.web.web_settings import WebSettings

try:  # authlib 1.7+ validates ID tokens with joserfc
    from joserfc.errors import JoseError as IdTokenError
except ImportError:  # pragma: no cover - older authlib
    from authlib.jose.errors import JoseError as IdTokenError

log = logging.getLogger(__name__)
bp = Blueprint("signin_salesforce", __name__)
SCOPE = "openid profile email custom_permissions"
CLIENT = "salesforce"
_PENDING = "salesforce_signin"


def _endpoints(base: str) -> dict[str, str]:
    return {
        "access_token_url": f"{base}/services/oauth2/token",
        "authorize_url": f"{base}/services/oauth2/authorize",
        "userinfo_endpoint": f"{base}/services/oauth2/userinfo",
    }


def register(app: Flask, hub: Hub, web: WebSettings) -> None:
    """Register the authlib client when Salesforce sign-in is configured (always in sandbox mode)."""
    oauth = OAuth(app)
    timeout = (hub.settings.crm_connect_timeout, hub.settings.crm_read_timeout)
    client_kwargs: dict[str, Any] = {
        "scope": SCOPE,
        "code_challenge_method": "S256",
        "token_endpoint_auth_method": "client_secret_post",
        "default_timeout": timeout,
    }
    if hub.sandbox is not None:
        from adapters.sandbox import SALESFORCE_INSTANCE_URL
        from adapters.sandbox.identity import SALESFORCE_CLIENT_ID, SALESFORCE_CLIENT_SECRET

        sandbox = hub.sandbox

        def through_sandbox(session: Any) -> None:
            transport = sandbox.session().get_adapter("https://")
            session.mount("https://", transport)

        endpoints = _endpoints(SALESFORCE_INSTANCE_URL)
        # The browser reaches the sandbox on this hub; a relative URL works for any host and port.
        endpoints["authorize_url"] = "/sandbox/salesforce/services/oauth2/authorize"
        oauth.register(
            CLIENT,
            client_id=SALESFORCE_CLIENT_ID,
            client_secret=SALESFORCE_CLIENT_SECRET,
            client_kwargs=client_kwargs,
            compliance_fix=through_sandbox,
            issuer=SALESFORCE_INSTANCE_URL,
            jwks=sandbox.identity.jwks(),
            **endpoints,
        )
    elif web.salesforce_signin_ready:
        base = web.salesforce_login_url or ""
        oauth.register(
            CLIENT,
            client_id=web.salesforce_consumer_key,
            client_secret=web.salesforce_consumer_secret,
            client_kwargs=client_kwargs,
            issuer=base,
            jwks_uri=f"{base}/id/keys",
            **_endpoints(base),
        )
    else:
        return
    app.extensions["ctihub_salesforce_oauth"] = oauth


def _client() -> Any:
    oauth = current_app.extensions.get("ctihub_salesforce_oauth")
    if oauth is None:
        return None
    return oauth.create_client(CLIENT)


def _callback_url() -> str:
    web: WebSettings = current_app.extensions["ctihub_web"]
    path = url_for("signin_salesforce.callback")
    return (
        f"{web.public_url}{path}" if web.public_url else url_for("signin_salesforce.callback", _external=True)
    )


@bp.get("/signin/salesforce")
def start() -> ResponseReturnValue:
    client = _client()
    next_url = request.args.get("next", "/")
    if not is_safe_next(next_url):
        abort(400, description="next must be a path on this hub, like /panel/salesforce?host=opencti")
    if client is None:
        return render_signin(
            next_url=next_url,
            status=404,
            error="Salesforce sign-in is not set up on this hub (see docs/sign-in.md).",
        )
    session[_PENDING] = {"next": next_url, "popup": request.args.get("popup") == "1"}
    extra: dict[str, str] = {}
    hint = request.args.get("login_hint")
    if hint and current_hub().sandbox is not None:  # the sandbox's no-click sign-in picks its user
        extra["login_hint"] = hint
    return client.authorize_redirect(_callback_url(), **extra)


def _principal(userinfo: dict[str, Any]) -> Principal:
    user_id = str(userinfo.get("user_id") or "")
    if not user_id:
        raise OAuthError(error="invalid_userinfo", description="userinfo has no user_id")
    permissions = userinfo.get("custom_permissions")
    rules = current_hub().roles  # the published roles.yaml (hub.live_config applies a new one)
    return Principal(
        subject=f"salesforce:user:{user_id}",
        name=str(userinfo.get("name") or userinfo.get("preferred_username") or user_id),
        crm="salesforce",
        roles=rules.for_salesforce(user_id, permissions if isinstance(permissions, dict) else {}),
        time_zone=str(userinfo.get("zoneinfo") or "UTC"),
        email=userinfo.get("email") if isinstance(userinfo.get("email"), str) else None,
    )


def _refuse(next_url: str, status: int, message: str) -> ResponseReturnValue:
    return render_signin(next_url=next_url, status=status, error=message)


@bp.get("/signin/salesforce/callback")
def callback() -> ResponseReturnValue:
    client = _client()
    pending = session.pop(_PENDING, None) or {}
    next_url = safe_next(pending.get("next"))
    if client is None:
        abort(404)
    try:
        token = client.authorize_access_token()
        userinfo = client.userinfo(token=token)
    except OAuthError as exc:
        log.warning("Salesforce sign-in refused: %s", exc.error)
        return _refuse(next_url, 401, f"Salesforce sign-in failed: {exc.description or exc.error}.")
    except (IdTokenError, AuthlibBaseError) as exc:
        log.warning("Salesforce sign-in refused: the ID token did not verify (%s)", type(exc).__name__)
        return _refuse(next_url, 401, "Salesforce sign-in failed: the ID token did not verify.")
    except RequestException as exc:
        log.warning("Salesforce sign-in could not reach Salesforce: %s", type(exc).__name__)
        return _refuse(next_url, 502, "Salesforce did not answer; try again in a moment.")
    org_id = current_hub().settings.crm_settings.get("salesforce", {}).get("org_id")
    if org_id and str(userinfo.get("organization_id", ""))[:15] != org_id.strip()[:15]:
        log.warning("Salesforce sign-in refused: user of another org")
        return _refuse(next_url, 403, "This Salesforce user belongs to another org.")
    principal = _principal(dict(userinfo))
    if not principal.roles:
        log.warning("Salesforce user %s has no CTI Hub role", principal.subject)
        return _refuse(
            next_url, 403, "Your Salesforce user has no CTI Hub custom permission (see docs/sign-in.md)."
        )
    sign_in(principal)
    if pending.get("popup"):
        return render_template("signin_done.html", next_url=next_url)
    return redirect(next_url, code=303)
