"""How the Salesforce adapter gets an access token and its instance URL, and gets them again.

    auth=jwt                 OAuth 2.0 JWT bearer. authlib signs the assertion (RS256): iss = the
                             connected app's consumer key, sub = the username, aud = the login host
                             (https://login.salesforce.com or https://test.salesforce.com, NOT the
                             token URL), exp = now + 180 s (Salesforce wants it within 3 minutes).
                             POST {login_url}/services/oauth2/token. No refresh token: a new
                             assertion is minted when the token is old or Salesforce answers
                             INVALID_SESSION_ID.
    auth=client_credentials  POST {My Domain}/services/oauth2/token, grant_type=client_credentials,
                             consumer key and secret as HTTP Basic. Salesforce accepts this flow only
                             on the My Domain host, so login/test hosts are refused (ConfigError).
    auth=password            legacy SOAP login (simple-salesforce); a WARNING is logged once.
    auth=access_token        a session id given as is; it cannot be renewed.

Every token request goes through the adapter's ``BoundSession`` (our timeouts, the sandbox
transport in tests). A token endpoint's refusal (``invalid_grant`` ...) is classified by
``errors.TABLE`` as CrmAuthExpired. Secrets (private key, consumer secret, password, tokens) are
kept out of every ``repr``, message and log line.
"""

from __future__ import annotations

import functools
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlsplit

from hub.domain.errors import CrmAuthExpired

from .errors import CRM, from_answer

log = logging.getLogger(__name__)

JWT_GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"
JWT_LIFETIME = 180  # seconds; Salesforce rejects an assertion whose exp is further away
LOGIN_HOST = "login.salesforce.com"
TEST_HOST = "test.salesforce.com"
LOGIN_HOSTS = frozenset({LOGIN_HOST, TEST_HOST})
TOKEN_PATH = "/services/oauth2/token"  # noqa: S105 - a path, not a secret
LEEWAY = 60.0  # a token this close to its end is renewed before use


@dataclass(frozen=True)
class Token:
    """An access token, the instance it is for, and until when it is used."""

    access_token: str = field(repr=False)
    instance_url: str
    issued_at: float
    expires_at: float | None = None  # None: until Salesforce says INVALID_SESSION_ID

    def fresh(self, now: float) -> bool:
        return self.expires_at is None or now < self.expires_at - LEEWAY


class TokenSource(Protocol):
    kind: str
    renewable: bool  # False: a new token cannot be had without the admin

    def mint(self, session: Any, now: float) -> Token: ...


def audience_for(login_url: str) -> str:
    """The JWT ``aud`` for a login URL: the login host, never the token URL.

    login.salesforce.com and test.salesforce.com are their own audience; a My Domain login URL
    uses test.salesforce.com for a sandbox org (``*.sandbox.my.salesforce.com``) and
    login.salesforce.com otherwise (set ``jwt_audience`` for an Experience Cloud site).
    """
    host = (urlsplit(login_url).hostname or "").lower()
    if host in LOGIN_HOSTS:
        return f"https://{host}"
    if host.endswith(".sandbox.my.salesforce.com"):
        return f"https://{TEST_HOST}"
    return f"https://{LOGIN_HOST}"


def _token_from(response: Any, now: float, lifetime: float) -> Token:
    """A Token from a token endpoint's answer; its refusal as the table's CrmError."""
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if response.status_code >= 300:
        raise from_answer(response.status_code, body, response.headers)
    if not isinstance(body, dict) or not body.get("access_token") or not body.get("instance_url"):
        raise CrmAuthExpired(
            "the token endpoint answered without access_token and instance_url",
            crm=CRM,
            status=response.status_code,
        )
    try:
        seconds = float(body["expires_in"])
    except (KeyError, TypeError, ValueError):
        seconds = lifetime  # Salesforce usually says nothing: the org's session timeout applies
    return Token(
        access_token=str(body["access_token"]),
        instance_url=str(body["instance_url"]).rstrip("/"),
        issued_at=now,
        expires_at=now + seconds,
    )


@dataclass(frozen=True)
class StaticToken:
    """A session id given in the settings (``auth=access_token``)."""

    access_token: str = field(repr=False)
    instance_url: str
    kind: str = "access_token"
    renewable: bool = False

    def mint(self, session: Any, now: float) -> Token:
        return Token(self.access_token, self.instance_url, now)


@dataclass(frozen=True)
class JwtBearer:
    """OAuth 2.0 JWT bearer flow; the assertion is signed by authlib (RFC 7523)."""

    consumer_key: str
    username: str
    private_key: str = field(repr=False)
    login_url: str = f"https://{LOGIN_HOST}"
    audience: str = f"https://{LOGIN_HOST}"
    lifetime: float = 3600.0  # how long a token is used when the answer has no expires_in
    kind: str = "jwt"
    renewable: bool = True

    @property
    def token_url(self) -> str:
        return self.login_url.rstrip("/") + TOKEN_PATH

    @functools.cached_property
    def _key(self) -> Any:
        """The key authlib signs with: a joserfc RSAKey (authlib 1.6+ signs through joserfc and
        deprecates PEM strings), or the PEM itself for an older authlib."""
        try:
            from joserfc.jwk import RSAKey
        except ImportError:  # pragma: no cover - authlib before 1.6
            return self.private_key
        return RSAKey.import_key(self.private_key)

    def assertion(self, now: float) -> str:
        from authlib.oauth2.rfc7523 import JWTBearerGrant

        issued_at = int(now)
        signed = JWTBearerGrant.sign(
            self._key,
            issuer=self.consumer_key,
            audience=self.audience,
            subject=self.username,
            issued_at=issued_at,
            expires_at=issued_at + JWT_LIFETIME,
            header={"alg": "RS256"},
        )
        return signed.decode() if isinstance(signed, bytes) else str(signed)

    def mint(self, session: Any, now: float) -> Token:
        response = session.post(
            self.token_url,
            data={"grant_type": JWT_GRANT, "assertion": self.assertion(now)},
            headers={"Accept": "application/json"},
        )
        return _token_from(response, now, self.lifetime)


@dataclass(frozen=True)
class ClientCredentials:
    """OAuth 2.0 client credentials flow, on the org's My Domain host only."""

    consumer_key: str
    consumer_secret: str = field(repr=False)
    my_domain_url: str = ""
    lifetime: float = 3600.0
    kind: str = "client_credentials"
    renewable: bool = True

    @property
    def token_url(self) -> str:
        return self.my_domain_url.rstrip("/") + TOKEN_PATH

    def mint(self, session: Any, now: float) -> Token:
        response = session.post(
            self.token_url,
            data={"grant_type": "client_credentials"},
            auth=(self.consumer_key, self.consumer_secret),
            headers={"Accept": "application/json"},
        )
        return _token_from(response, now, self.lifetime)


@dataclass(frozen=True)
class PasswordLogin:
    """The legacy SOAP username/password login (simple-salesforce does it)."""

    username: str
    password: str = field(repr=False)
    security_token: str = field(repr=False)
    domain: str | None = None
    api_version: str = "59.0"
    lifetime: float = 3600.0
    kind: str = "password"
    renewable: bool = True

    def mint(self, session: Any, now: float) -> Token:
        from simple_salesforce.login import SalesforceLogin

        session_id, instance = SalesforceLogin(
            username=self.username,
            password=self.password,
            security_token=self.security_token,
            domain=self.domain,
            session=session,
            sf_version=self.api_version,
        )
        return Token(session_id, f"https://{instance}", now, now + self.lifetime)


_warned: set[str] = set()
_warned_lock = threading.Lock()


def warn_legacy_login(username: str | None) -> None:
    """Log, once per username and process, that the password login is a legacy path."""
    with _warned_lock:
        if (username or "") in _warned:
            return
        _warned.add(username or "")
    log.warning(
        "Salesforce: the username/password login (user %s) is a legacy path; set "
        "CTIHUB_SALESFORCE_AUTH=jwt (CONSUMER_KEY, USERNAME, PRIVATE_KEY) or client_credentials",
        username,
    )


class Authenticator:
    """The current token of one org: minted when first needed, again when old or refused.

    ``renew(stale)`` mints a new token unless another thread already replaced ``stale``.
    """

    def __init__(self, source: TokenSource, clock: Callable[[], float] = time.time) -> None:
        self.source = source
        self.clock = clock
        self._lock = threading.Lock()
        self._token: Token | None = None

    def __repr__(self) -> str:
        return f"Authenticator({self.source.kind})"

    @property
    def renewable(self) -> bool:
        return self.source.renewable

    def token(self, session: Any) -> Token:
        with self._lock:
            now = self.clock()
            if self._token is None or (self.source.renewable and not self._token.fresh(now)):
                self._token = self.source.mint(session, now)
            return self._token

    def renew(self, session: Any, stale: Token | None) -> Token:
        with self._lock:
            if self._token is None or self._token is stale:
                self._token = self.source.mint(session, self.clock())
            return self._token

    def forget(self) -> None:
        with self._lock:
            self._token = None
