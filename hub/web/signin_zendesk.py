"""Zendesk sign-in: the Apps framework's signed URL (``signedUrls: true`` in the app's manifest).

Zendesk POSTs a form field ``token`` to the app's location URL: an RS256 JWT signed with the app
installation's private key. We verify it with the installation's public key and check, exactly:
``iss`` = ``<subdomain>.zendesk.com``, ``aud`` =
``https://<subdomain>.zendesk.com/api/v2/apps/installations/<installation id>.json``, ``exp`` and
``iat`` (checked against the hub's clock, 60 s leeway). Only RS256 is accepted, so a token signed
with HS256 using the public key as the secret, or ``alg: none``, is refused.

Settings: ``CTIHUB_ZENDESK_APP_PUBLIC_KEY`` (PEM; or ``_FILE``), ``CTIHUB_ZENDESK_APP_INSTALLATION_ID``
and ``CTIHUB_ZENDESK_SUBDOMAIN``. In sandbox mode the sandbox's own key and installation are used.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

import jwt
from flask import Blueprint, abort, current_app, request
from flask.typing import ResponseReturnValue

from hub.domain.roles import RoleRules
from hub.web.context import current_hub
from hub.web.redirects import is_safe_next
from hub.web.session import Principal, sign_in
from hub.web.signin_page import render_signin

log = logging.getLogger(__name__)
bp = Blueprint("signin_zendesk", __name__)
LEEWAY_SECONDS = 60


class ZendeskTokenRejected(Exception):
    """The token is not one this hub's Zendesk app installation signed, now; ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class ZendeskAppConfig:
    subdomain: str
    installation_id: str
    public_key: str = field(repr=False)

    @property
    def issuer(self) -> str:
        return f"{self.subdomain}.zendesk.com"

    @property
    def audience(self) -> str:
        return f"https://{self.subdomain}.zendesk.com/api/v2/apps/installations/{self.installation_id}.json"


def verify_app_token(token: str, config: ZendeskAppConfig, now: datetime) -> dict[str, Any]:
    """The token's claims, or ``ZendeskTokenRejected``. Never logs the token."""
    try:
        claims = jwt.decode(
            token,
            config.public_key,
            algorithms=["RS256"],
            audience=config.audience,
            issuer=config.issuer,
            options={
                "require": ["iss", "aud", "exp", "iat", "sub"],
                "verify_exp": False,
                "verify_iat": False,
            },
        )
    except jwt.InvalidAudienceError as exc:
        raise ZendeskTokenRejected("the token is for another app installation (aud)") from exc
    except jwt.InvalidIssuerError as exc:
        raise ZendeskTokenRejected("the token comes from another Zendesk account (iss)") from exc
    except jwt.MissingRequiredClaimError as exc:
        raise ZendeskTokenRejected(f"the token has no {exc.claim!r} claim") from exc
    except jwt.InvalidAlgorithmError as exc:
        raise ZendeskTokenRejected("the token is not signed with RS256") from exc
    except jwt.InvalidSignatureError as exc:
        raise ZendeskTokenRejected("the token's signature does not match the app's public key") from exc
    except jwt.InvalidTokenError as exc:
        raise ZendeskTokenRejected(f"the token is malformed ({type(exc).__name__})") from exc
    moment = now.timestamp()
    if not isinstance(claims["exp"], int | float) or claims["exp"] <= moment - LEEWAY_SECONDS:
        raise ZendeskTokenRejected("the token has expired (exp)")
    if not isinstance(claims["iat"], int | float) or claims["iat"] > moment + LEEWAY_SECONDS:
        raise ZendeskTokenRejected("the token was issued in the future (iat)")
    return claims


def principal_from_claims(claims: dict[str, Any], rules: RoleRules) -> Principal:
    user_id = str(claims["sub"])
    name = str(claims.get("name") or f"Zendesk user {user_id}")
    email = claims.get("email") if isinstance(claims.get("email"), str) else None
    return Principal(
        subject=f"zendesk:user:{user_id}",
        name=name,
        crm="zendesk",
        roles=rules.for_zendesk(user_id, claims.get("role") if isinstance(claims.get("role"), str) else None),
        time_zone=str(claims.get("time_zone") or "UTC"),
        email=email,
    )


def app_config() -> ZendeskAppConfig | None:
    """This hub's Zendesk app installation, or None when it is not configured."""
    hub = current_hub()
    if hub.sandbox is not None:
        from adapters.sandbox import ZENDESK_SUBDOMAIN
        from adapters.sandbox.identity import ZENDESK_APP_INSTALLATION_ID

        return ZendeskAppConfig(
            ZENDESK_SUBDOMAIN, str(ZENDESK_APP_INSTALLATION_ID), hub.sandbox.identity.public_key_pem()
        )
    zd = hub.settings.crm_settings.get("zendesk", {})
    subdomain = (zd.get("subdomain") or "").strip()
    installation = (zd.get("app_installation_id") or "").strip()
    key = (zd.get("app_public_key") or "").replace("\\n", "\n").strip()
    if not (subdomain and installation and key):
        return None
    return ZendeskAppConfig(subdomain, installation, key)


@bp.post("/signin/zendesk")
def signin() -> ResponseReturnValue:
    """Zendesk's POST of the app token; 303 to ``next`` (a path on this hub) when it verifies."""
    next_url = request.args.get("next", "/")
    if not is_safe_next(next_url):
        abort(400, description="next must be a path on this hub, like /panel/zendesk?host=zaf")
    config = app_config()
    if config is None:
        return render_signin(
            next_url=next_url,
            status=401,
            error="Zendesk sign-in is not set up on this hub (CTIHUB_ZENDESK_APP_PUBLIC_KEY, "
            "CTIHUB_ZENDESK_APP_INSTALLATION_ID, CTIHUB_ZENDESK_SUBDOMAIN).",
        )
    token = request.form.get("token", "")
    try:
        claims = verify_app_token(token, config, current_hub().clock.now())
    except ZendeskTokenRejected as rejected:
        log.warning("Zendesk app sign-in refused: %s", rejected.reason)
        return render_signin(
            next_url=next_url, status=401, error=f"Zendesk sign-in failed: {rejected.reason}."
        )
    principal = principal_from_claims(claims, current_hub().roles)  # the published roles.yaml
    if not principal.roles:
        log.warning("Zendesk user %s has no CTI Hub role", principal.subject)
        return render_signin(
            next_url=next_url,
            status=403,
            error="Your Zendesk account has no CTI Hub role (see mappings/roles.yaml).",
        )
    sign_in(principal)
    return current_app.redirect(next_url + app_frame_fragment(), code=303)


def app_frame_fragment() -> str:
    """Zendesk appends ``origin`` and ``app_guid`` to the app's URL; ``ZAFClient.init()`` needs both
    on the page it runs in, so they travel on to ``next`` in the fragment (never sent to a server)."""
    carried = {name: request.args[name] for name in ("origin", "app_guid") if request.args.get(name)}
    return "#" + urlencode(carried) if len(carried) == 2 else ""
