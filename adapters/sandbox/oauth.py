"""Salesforce's OAuth 2.0 web-server flow with PKCE, and its OpenID endpoints, in the sandbox.

    GET  /services/oauth2/authorize      approves the user ``login_hint`` names (else the agent), no click
    POST /services/oauth2/token          authorization_code grant; checks client, redirect_uri, S256 verifier
    GET  /services/oauth2/userinfo       Salesforce's userinfo shape, with ``custom_permissions``
    GET  /id/keys                        the JWKS that signs ID tokens
    GET  /.well-known/openid-configuration

Shapes follow Salesforce's documentation: the token answer carries ``access_token``,
``instance_url``, ``id``, ``token_type``, ``issued_at`` (milliseconds, as text) and ``signature``
(base64 HMAC-SHA256 of ``id + issued_at`` keyed by the consumer secret); errors are
``{"error", "error_description"}`` with HTTP 400. Registered on the sandbox blueprint before its
catch-all routes, so both the hub's ``/sandbox/salesforce/...`` and the in-process transport serve them.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

from flask import Blueprint, Response, jsonify, redirect, request

from .identity import (
    CODE_LIFETIME,
    KEY_ID,
    SALESFORCE_CLIENT_ID,
    SALESFORCE_CLIENT_SECRET,
    SALESFORCE_ORG_ID,
    Grant,
    SandboxUser,
    s256,
    user_for_hint,
)

if TYPE_CHECKING:
    from .core import Sandbox

ISSUER = "https://sandbox.my.salesforce.com"  # = SALESFORCE_INSTANCE_URL (kept literal: no import cycle)


def _error(error: str, description: str, status: int = 400) -> Response:
    response = jsonify({"error": error, "error_description": description})
    response.status_code = status
    return response


def _identity_url(user: SandboxUser) -> str:
    return f"{ISSUER}/id/{SALESFORCE_ORG_ID}/{user.salesforce_id}"


def _redirect_allowed(redirect_uri: str) -> bool:
    """The sandbox's connected app accepts callbacks on the host that asked (the hub itself) or localhost."""
    parts = urlsplit(redirect_uri)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.fragment:
        return False
    return parts.netloc == request.host or parts.hostname in ("127.0.0.1", "localhost")


def _client_credentials() -> tuple[str, str]:
    auth = request.authorization
    if auth is not None and auth.type == "basic":
        return auth.username or "", auth.password or ""
    return request.form.get("client_id", ""), request.form.get("client_secret", "")


def add_oauth_routes(bp: Blueprint, sandbox: Sandbox) -> None:
    identity = sandbox.identity

    @bp.get("/salesforce/services/oauth2/authorize")
    def sf_authorize() -> Response:
        args = request.args
        redirect_uri = args.get("redirect_uri", "")
        if args.get("client_id") != SALESFORCE_CLIENT_ID:
            return _error("invalid_client_id", "client identifier invalid")
        if not _redirect_allowed(redirect_uri):
            return _error("redirect_uri_mismatch", "redirect_uri must match configuration")

        def back(**params: str) -> Response:
            if args.get("state") is not None:
                params["state"] = args["state"]
            separator = "&" if "?" in redirect_uri else "?"
            return redirect(redirect_uri + separator + urlencode(params), code=302)

        if args.get("response_type") != "code":
            return back(error="unsupported_response_type", error_description="response type not supported")
        challenge = args.get("code_challenge", "")
        if not challenge or args.get("code_challenge_method", "S256") != "S256":
            return back(error="invalid_request", error_description="missing or unsupported code_challenge")
        grant = Grant(
            user=user_for_hint(args.get("login_hint")),
            client_id=SALESFORCE_CLIENT_ID,
            redirect_uri=redirect_uri,
            code_challenge=challenge,
            scope=args.get("scope", "id api"),
            nonce=args.get("nonce"),
            expires=sandbox.now() + CODE_LIFETIME,
        )
        return back(code=identity.issue_code(grant))

    @bp.post("/salesforce/services/oauth2/token")
    def sf_token() -> Response:
        form = request.form
        if form.get("grant_type") != "authorization_code":
            return _error("unsupported_grant_type", "grant type not supported")
        client_id, client_secret = _client_credentials()
        if client_id != SALESFORCE_CLIENT_ID or not hmac.compare_digest(
            client_secret.encode(), SALESFORCE_CLIENT_SECRET.encode()
        ):
            return _error("invalid_client", "invalid client credentials")
        grant = identity.take_code(form.get("code", ""))
        now = sandbox.now()
        if grant is None or grant.expires <= now:
            return _error("invalid_grant", "invalid authorization code")
        if form.get("redirect_uri") != grant.redirect_uri:
            return _error("invalid_grant", "redirect_uri must match configuration")
        verifier = form.get("code_verifier", "")
        if not verifier or not hmac.compare_digest(s256(verifier), grant.code_challenge):
            return _error("invalid_grant", "invalid code verifier")
        user = grant.user
        issued_at = str(int(now.timestamp() * 1000))
        identity_url = _identity_url(user)
        signature = base64.b64encode(
            hmac.new(
                SALESFORCE_CLIENT_SECRET.encode(), (identity_url + issued_at).encode(), hashlib.sha256
            ).digest()
        ).decode()
        body: dict[str, Any] = {
            "access_token": identity.issue_token(user, now, grant.scope),
            "signature": signature,
            "scope": grant.scope,
            "instance_url": ISSUER,
            "id": identity_url,
            "token_type": "Bearer",
            "issued_at": issued_at,
        }
        if "openid" in grant.scope.split():
            claims: dict[str, Any] = {
                "iss": ISSUER,
                "sub": identity_url,
                "aud": grant.client_id,
                "iat": int(now.timestamp()),
                "exp": int(now.timestamp()) + 300,
                "name": user.name,
                "email": user.email,
                "preferred_username": user.username,
            }
            if grant.nonce:
                claims["nonce"] = grant.nonce
            body["id_token"] = identity.sign(claims, kid=KEY_ID)
        return jsonify(body)

    @bp.get("/salesforce/services/oauth2/userinfo")
    def sf_userinfo() -> Response:
        scheme, _, token = (request.headers.get("Authorization") or "").partition(" ")
        found = identity.user_of_token(token.strip(), sandbox.now()) if scheme.lower() == "bearer" else None
        if found is None:
            return Response("Bad_OAuth_Token", status=403, mimetype="text/plain")
        user, scope = found
        given, _, family = user.name.partition(" ")
        info: dict[str, Any] = {
            "sub": _identity_url(user),
            "user_id": user.salesforce_id,
            "organization_id": SALESFORCE_ORG_ID,
            "preferred_username": user.username,
            "nickname": user.username.split("@")[0],
            "name": user.name,
            "email": user.email,
            "email_verified": True,
            "given_name": given,
            "family_name": family,
            "zoneinfo": user.time_zone,
            "photos": {},
            "profile": f"{ISSUER}/{user.salesforce_id}",
            "picture": f"{ISSUER}/img/userprofile/default_profile_200_v2.png",
            "address": {},
            "urls": {"rest": f"{ISSUER}/services/data/v{{version}}/"},
            "active": True,
            "user_type": "STANDARD",
            "language": "en_US",
            "locale": "en_US",
            "utcOffset": -18000000,
            "updated_at": "2026-01-05T15:00:00Z",
            "is_app_installed": True,
        }
        if "custom_permissions" in scope.split():
            info["custom_permissions"] = dict(user.custom_permissions)
        return jsonify(info)

    @bp.get("/salesforce/id/keys")
    def sf_keys() -> Response:
        return jsonify(identity.jwks())

    @bp.get("/salesforce/.well-known/openid-configuration")
    def sf_openid_configuration() -> Response:
        return jsonify(
            {
                "issuer": ISSUER,
                "authorization_endpoint": f"{ISSUER}/services/oauth2/authorize",
                "token_endpoint": f"{ISSUER}/services/oauth2/token",
                "userinfo_endpoint": f"{ISSUER}/services/oauth2/userinfo",
                "jwks_uri": f"{ISSUER}/id/keys",
                "response_types_supported": ["code"],
                "subject_types_supported": ["public"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "scopes_supported": ["id", "api", "openid", "profile", "email", "custom_permissions"],
                "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
                "code_challenge_methods_supported": ["S256"],
            }
        )
