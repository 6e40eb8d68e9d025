"""Settings, the session every Salesforce request goes through, and the connection.

simple-salesforce has no default timeout, and its ``SFType.upsert``/``update``/``create`` take no
``timeout`` argument (only ``get``, ``restful``, ``query`` pass ``**kwargs`` on to requests), so the
timeout cannot be given per call. ``adapters.http.BoundSession`` wraps the transport session and
puts ``(connect_timeout, read_timeout)`` on every request the library makes, token requests and
the legacy login included.

It also raises ``requests.HTTPError`` itself for a 429, and for a 5xx that carries ``Retry-After``:
simple-salesforce's exceptions keep only the status and body, so the header would be lost.
``SalesforceSession`` adds a note of the last ``Sforce-Limit-Info`` (``api-usage=used/max``).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests
from simple_salesforce import Salesforce

from adapters.http import BoundSession
from hub.domain.errors import ConfigError, Problem

from . import auth

log = logging.getLogger(__name__)

DEFAULT_API_VERSION = "59.0"
MIN_API_VERSION = 46.0  # upserts answer 200 with the id from 46.0 (composite references need it)
ENV_PREFIX = "CTIHUB_SALESFORCE_"
AUTH_MODES = ("access_token", "jwt", "client_credentials", "password")
DEFAULT_SESSION_SECONDS = 3600.0


@dataclass(frozen=True)
class SalesforceSettings:
    """What ``CTIHUB_SALESFORCE_*`` configure. Secrets stay out of ``repr``.

    ``auth`` is one of ``AUTH_MODES``; when unset it follows from what is given (access_token,
    else private_key: jwt, else consumer_secret: client_credentials, else username: password).
    """

    auth: str = "access_token"
    instance_url: str | None = None
    access_token: str | None = field(default=None, repr=False)
    api_version: str = DEFAULT_API_VERSION
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    security_token: str | None = field(default=None, repr=False)
    domain: str | None = None  # "login" or "test", for the legacy username/password login
    consumer_key: str | None = None
    consumer_secret: str | None = field(default=None, repr=False)
    private_key: str | None = field(default=None, repr=False)
    login_url: str | None = None  # JWT: login/test host or My Domain; client credentials: My Domain
    jwt_audience: str | None = None
    session_seconds: float = DEFAULT_SESSION_SECONDS
    retry_attempts: int = 3
    retry_max_wait: float = 5.0

    @property
    def legacy_login(self) -> bool:
        return self.auth == "password"

    @property
    def where(self) -> str:
        """The org, for messages and repr: the instance or login URL (never a secret)."""
        return self.instance_url or self.login_url or f"{self.auth} login"

    @classmethod
    def from_settings(cls, settings: Mapping[str, str]) -> SalesforceSettings:
        """Check the settings without connecting; a ConfigError names every missing one."""

        def get(name: str) -> str | None:
            value = settings.get(name)
            return value.strip() if isinstance(value, str) and value.strip() else None

        problems: list[Problem] = []

        def number(name: str, default: float) -> float:
            raw = get(name)
            if raw is None:
                return default
            try:
                return float(raw)
            except ValueError:
                problems.append(Problem(f"{ENV_PREFIX}{name.upper()}", f"not a number: {raw!r}"))
                return default

        private_key = get("private_key")
        key_file = get("private_key_file")
        if private_key is None and key_file is not None:
            try:
                private_key = Path(key_file).read_text(encoding="utf-8").strip()
            except OSError as exc:
                problems.append(Problem(f"{ENV_PREFIX}PRIVATE_KEY_FILE", f"cannot read it ({exc.strerror})"))
        if private_key is not None and "\\n" in private_key and "\n" not in private_key:
            private_key = private_key.replace("\\n", "\n")  # a PEM kept on one line of an env file
        mode = (get("auth") or "").lower() or _inferred_mode(
            get("access_token"),
            private_key or key_file,
            get("consumer_secret"),
            get("username"),
            get("password"),
        )
        version = (get("api_version") or DEFAULT_API_VERSION).removeprefix("v")
        found = cls(
            auth=mode,
            instance_url=(get("instance_url") or "").rstrip("/") or None,
            access_token=get("access_token"),
            api_version=version,
            username=get("username"),
            password=get("password"),
            security_token=get("security_token"),
            domain=get("domain"),
            consumer_key=get("consumer_key"),
            consumer_secret=get("consumer_secret"),
            private_key=private_key,
            login_url=(get("login_url") or "").rstrip("/") or None,
            jwt_audience=get("jwt_audience"),
            session_seconds=number("session_seconds", DEFAULT_SESSION_SECONDS),
            retry_attempts=int(number("retry_attempts", 3)),
            retry_max_wait=number("retry_max_wait", 5.0),
        )
        problems[:0] = found._auth_problems()
        try:
            if float(version) < MIN_API_VERSION:
                problems.append(
                    Problem(
                        f"{ENV_PREFIX}API_VERSION", f"{version} is too old; the adapter needs 46.0 or later"
                    )
                )
        except ValueError:
            problems.append(Problem(f"{ENV_PREFIX}API_VERSION", f"not a version number: {version!r}"))
        if problems:
            raise ConfigError("Salesforce settings are incomplete", problems)
        return found

    def _auth_problems(self) -> list[Problem]:
        problems: list[Problem] = []

        def need(*names: str, why: str) -> None:
            for name in names:
                if not getattr(self, name):
                    problems.append(Problem(f"{ENV_PREFIX}{name.upper()}", why))

        if self.auth not in AUTH_MODES:
            return [Problem(f"{ENV_PREFIX}AUTH", f"one of {', '.join(AUTH_MODES)}, not {self.auth!r}")]
        if self.auth == "access_token":
            if not self.access_token:
                problems.append(
                    Problem(
                        f"{ENV_PREFIX}ACCESS_TOKEN",
                        "set it (with INSTANCE_URL), or AUTH=jwt (CONSUMER_KEY, USERNAME, PRIVATE_KEY) "
                        "or AUTH=client_credentials (CONSUMER_KEY, CONSUMER_SECRET, LOGIN_URL)",
                    )
                )
            elif not self.instance_url:
                problems.append(Problem(f"{ENV_PREFIX}INSTANCE_URL", "required with an access token"))
            elif not self.instance_url.startswith("https://"):
                problems.append(Problem(f"{ENV_PREFIX}INSTANCE_URL", "must start with https://"))
        elif self.auth == "jwt":
            need("consumer_key", "username", why="required for the JWT bearer flow")
            if not self.private_key:
                problems.append(
                    Problem(
                        f"{ENV_PREFIX}PRIVATE_KEY", "required for the JWT bearer flow (or PRIVATE_KEY_FILE)"
                    )
                )
            elif self.consumer_key and self.username:
                problems += _key_problems(self.jwt_source())
            if self.login_url and not self.login_url.startswith("https://"):
                problems.append(Problem(f"{ENV_PREFIX}LOGIN_URL", "must start with https://"))
        elif self.auth == "client_credentials":
            need("consumer_key", "consumer_secret", why="required for the client credentials flow")
            my_domain = self.login_url or self.instance_url
            host = (urlsplit(my_domain or "").hostname or "").lower()
            if not my_domain:
                problems.append(
                    Problem(
                        f"{ENV_PREFIX}LOGIN_URL",
                        "required: the org's My Domain URL (https://<name>.my.salesforce.com)",
                    )
                )
            elif host in auth.LOGIN_HOSTS or self.domain in ("login", "test"):
                problems.append(
                    Problem(
                        f"{ENV_PREFIX}LOGIN_URL",
                        "the client credentials flow works only on the org's My Domain host, "
                        f"not {host or self.domain}",
                    )
                )
            elif not my_domain.startswith("https://"):
                problems.append(Problem(f"{ENV_PREFIX}LOGIN_URL", "must start with https://"))
        else:
            need("username", "password", "security_token", why="required for a password login")
        return problems

    # -- token sources ---------------------------------------------------------------------------

    def jwt_source(self) -> auth.JwtBearer:
        login_url = (
            self.login_url or f"https://{auth.TEST_HOST if self.domain == 'test' else auth.LOGIN_HOST}"
        )
        return auth.JwtBearer(
            consumer_key=str(self.consumer_key),
            username=str(self.username),
            private_key=str(self.private_key),
            login_url=login_url,
            audience=self.jwt_audience or auth.audience_for(login_url),
            lifetime=self.session_seconds,
        )

    def token_source(self) -> auth.TokenSource:
        if self.auth == "jwt":
            return self.jwt_source()
        if self.auth == "client_credentials":
            return auth.ClientCredentials(
                consumer_key=str(self.consumer_key),
                consumer_secret=str(self.consumer_secret),
                my_domain_url=str(self.login_url or self.instance_url),
                lifetime=self.session_seconds,
            )
        if self.auth == "password":
            return auth.PasswordLogin(
                username=str(self.username),
                password=str(self.password),
                security_token=str(self.security_token),
                domain=self.domain,
                api_version=self.api_version,
                lifetime=self.session_seconds,
            )
        return auth.StaticToken(str(self.access_token), str(self.instance_url))


def _inferred_mode(
    access_token: str | None, key: str | None, secret: str | None, username: str | None, password: str | None
) -> str:
    if access_token:
        return "access_token"
    if key:
        return "jwt"
    if secret:
        return "client_credentials"
    if username or password:
        return "password"
    return "access_token"


def _key_problems(source: auth.JwtBearer) -> list[Problem]:
    """Sign one assertion now, so a bad key is a ConfigError at start and not a failed event later."""
    try:
        source.assertion(1_700_000_000.0)  # any time will do: only the key is tried
    except Exception as exc:  # authlib/joserfc raise several types for a bad key
        return [
            Problem(
                f"{ENV_PREFIX}PRIVATE_KEY",
                f"not a usable RSA private key in PEM form ({type(exc).__name__})",
            )
        ]
    return []


_LIMIT_INFO = re.compile(r"api-usage=(\d+)/(\d+)")


class SalesforceSession(BoundSession):
    """``BoundSession`` that also keeps the last ``Sforce-Limit-Info`` it saw (api-usage)."""

    def __init__(self, transport: requests.Session, timeout: tuple[float, float]) -> None:
        super().__init__(transport, timeout, on_response=self._note)
        self._lock = threading.Lock()
        self.api_usage: tuple[int, int] | None = None

    def _note(self, response: requests.Response) -> None:
        found = _LIMIT_INFO.search(response.headers.get("Sforce-Limit-Info", ""))
        if found:
            with self._lock:
                self.api_usage = (int(found.group(1)), int(found.group(2)))


def session_for(transport: requests.Session | None, timeout: tuple[float, float]) -> SalesforceSession:
    return SalesforceSession(transport or requests.Session(), timeout)


def client_for(settings: SalesforceSettings, session: Any, token: auth.Token) -> Salesforce:
    """A simple-salesforce client on ``token``; nothing is sent."""
    return Salesforce(
        instance_url=token.instance_url,
        session_id=token.access_token,
        session=session,
        version=settings.api_version,
    )


def connect(
    settings: SalesforceSettings, transport: requests.Session | None, timeout: tuple[float, float]
) -> Salesforce:
    """A client with a token of its own: an access token sends nothing; the other modes mint one
    (raises the table's CrmError; call it inside ``errors.translated()``)."""
    import time

    session = session_for(transport, timeout)
    token = settings.token_source().mint(session, time.time())
    return client_for(settings, session, token)
