"""Context tokens: a signed, short-lived JWT that carries a deflection's context to the next channel.

The token (HS256, issuer ``cti-hub``, audience ``cti-hub-context``) names the decision (``jti``),
the intent, the customer key and the episode; it never carries a phone number or an email. Whoever
holds it may read that one episode's trail (``GET /v1/context/<token>``) until it expires, so it is
a bearer credential: keep its lifetime short (``mappings/deflection.yaml``, default 15 minutes).

The signing key is ``CTIHUB_CONTEXT_TOKEN_SECRET`` (at least 32 characters), independent of every
other secret: rotating the webhook secret (or a leak of it) says nothing about context tokens, and
the reverse. Without it the deflection routes answer 503 naming it (``ctihub serve --sandbox``
generates one). Rotating it invalidates the tokens in flight (at most one lifetime of them).

Expiry is checked against the hub's injected clock, never the wall clock, so tests move time by
advancing a FixedClock.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import authlib.deprecate  # noqa: F401  (installs authlib's own "always" filter first)

from hub.domain.errors import AuthError, ConfigError, Problem

with warnings.catch_warnings():
    # authlib 1.x warns that authlib.jose moves to joserfc in 2.0; the project pins authlib<2.
    warnings.simplefilter("ignore", DeprecationWarning)
    from authlib.jose import JoseError, JsonWebToken
    from authlib.jose.errors import ExpiredTokenError

ISSUER = "cti-hub"
AUDIENCE = "cti-hub-context"
ALGORITHM = "HS256"
SECRET_SETTING = "CTIHUB_CONTEXT_TOKEN_SECRET"  # noqa: S105 (the setting's name, not a secret)
MIN_SECRET_LENGTH = 32

_jwt = JsonWebToken([ALGORITHM])  # only HS256: "none" and every other algorithm are refused
_CLAIMS_OPTIONS = {
    "iss": {"essential": True, "value": ISSUER},
    "aud": {"essential": True, "value": AUDIENCE},
    "exp": {"essential": True},
    "iat": {"essential": True},
    "jti": {"essential": True},
    "intent": {"essential": True},
}


def context_key(secret: str | None) -> bytes:
    """The HS256 key: ``CTIHUB_CONTEXT_TOKEN_SECRET``, never derived from another secret."""
    if not secret:
        raise ConfigError(
            "context tokens cannot be signed: no secret", [Problem(SECRET_SETTING, "is not set")]
        )
    if len(secret) < MIN_SECRET_LENGTH:
        raise ConfigError(
            f"{SECRET_SETTING} is too short",
            [Problem(SECRET_SETTING, f"use at least {MIN_SECRET_LENGTH} random characters")],
        )
    return secret.encode()


@dataclass(frozen=True)
class ContextClaims:
    jti: str
    intent: str
    customer_key: str | None
    episode_id: str | None
    issued_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class ContextTokens:
    key: bytes
    lifetime: timedelta = timedelta(minutes=15)

    def issue(
        self, *, jti: str, intent: str, customer_key: str | None, episode_id: str | None, now: datetime
    ) -> tuple[str, datetime]:
        """The signed token and the moment it expires."""
        issued = int(now.timestamp())
        expires = issued + int(self.lifetime.total_seconds())
        payload: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "iat": issued,
            "exp": expires,
            "jti": jti,
            "intent": intent,
            "customer_key": customer_key,
            "episode_id": episode_id,
        }
        token = _jwt.encode({"alg": ALGORITHM, "typ": "JWT"}, payload, self.key)
        return token.decode("ascii"), datetime.fromtimestamp(expires, UTC)

    def verify(self, token: str, *, now: datetime) -> ContextClaims:
        """The claims of a token this hub signed, still valid at ``now``; ``AuthError`` otherwise."""
        moment = int(now.timestamp())
        try:
            claims = _jwt.decode(token, self.key, claims_options=_CLAIMS_OPTIONS)
            claims.validate(now=moment, leeway=0)
        except ExpiredTokenError as exc:
            raise AuthError("the context token has expired; ask for a new offer") from exc
        except (JoseError, ValueError, TypeError, UnicodeError) as exc:
            raise AuthError("the context token is not valid") from exc
        if claims["exp"] <= moment:  # RFC 7519: not accepted *on* or after exp (authlib allows "on")
            raise AuthError("the context token has expired; ask for a new offer")
        return ContextClaims(
            jti=str(claims["jti"]),
            intent=str(claims["intent"]),
            customer_key=claims.get("customer_key"),
            episode_id=claims.get("episode_id"),
            issued_at=datetime.fromtimestamp(claims["iat"], UTC),
            expires_at=datetime.fromtimestamp(claims["exp"], UTC),
        )
