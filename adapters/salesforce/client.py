"""Settings, the session every Salesforce request goes through, and the lazy connection.

simple-salesforce has no default timeout, and its ``SFType.upsert``/``update``/``create`` take no
``timeout`` argument (only ``get``, ``restful``, ``query`` pass ``**kwargs`` on to requests), so the
timeout cannot be given per call. ``BoundSession`` wraps the transport session and puts
``(connect_timeout, read_timeout)`` on every request the library makes, login included.

It also raises ``requests.HTTPError`` itself for a 429, and for a 5xx that carries ``Retry-After``:
simple-salesforce's exceptions keep only the status and body, so the header would be lost.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
from simple_salesforce import Salesforce

from hub.domain.errors import ConfigError, Problem

log = logging.getLogger(__name__)

DEFAULT_API_VERSION = "59.0"
ENV_PREFIX = "CTIHUB_SALESFORCE_"


@dataclass(frozen=True)
class SalesforceSettings:
    """What ``CTIHUB_SALESFORCE_*`` configure. Secrets stay out of ``repr``."""

    instance_url: str | None = None
    access_token: str | None = field(default=None, repr=False)
    api_version: str = DEFAULT_API_VERSION
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    security_token: str | None = field(default=None, repr=False)
    domain: str | None = None  # "login" or "test", for the legacy username/password login

    @property
    def legacy_login(self) -> bool:
        return not self.access_token

    @classmethod
    def from_settings(cls, settings: Mapping[str, str]) -> SalesforceSettings:
        """Check the settings without connecting; a ConfigError names every missing one."""

        def get(name: str) -> str | None:
            value = settings.get(name)
            return value.strip() if isinstance(value, str) and value.strip() else None

        version = (get("api_version") or DEFAULT_API_VERSION).removeprefix("v")
        found = cls(
            instance_url=(get("instance_url") or "").rstrip("/") or None,
            access_token=get("access_token"),
            api_version=version,
            username=get("username"),
            password=get("password"),
            security_token=get("security_token"),
            domain=get("domain"),
        )
        problems: list[Problem] = []
        if found.access_token:
            if not found.instance_url:
                problems.append(Problem(f"{ENV_PREFIX}INSTANCE_URL", "required with an access token"))
            elif not found.instance_url.startswith("https://"):
                problems.append(Problem(f"{ENV_PREFIX}INSTANCE_URL", "must start with https://"))
        elif found.username or found.password:
            for name in ("username", "password", "security_token"):
                if not getattr(found, name):
                    problems.append(Problem(f"{ENV_PREFIX}{name.upper()}", "required for a password login"))
        else:
            problems.append(
                Problem(f"{ENV_PREFIX}ACCESS_TOKEN", "set it (with INSTANCE_URL), or a legacy login")
            )
        try:
            float(version)
        except ValueError:
            problems.append(Problem(f"{ENV_PREFIX}API_VERSION", f"not a version number: {version!r}"))
        if problems:
            raise ConfigError("Salesforce settings are incomplete", problems)
        return found


class BoundSession:
    """The ``requests.Session`` simple-salesforce sees: our timeout on every request.

    It sends through ``transport`` (the caller's session, e.g. the sandbox's in-process one) without
    changing it.
    """

    def __init__(self, transport: requests.Session, timeout: tuple[float, float]) -> None:
        self.transport = transport
        self.timeout = timeout

    @property
    def proxies(self) -> Any:  # read by Salesforce.__init__
        return self.transport.proxies

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        response = self.transport.request(method, url, **kwargs)
        status = response.status_code
        if status == 429 or (status >= 500 and "Retry-After" in response.headers):
            raise requests.HTTPError(f"{status} {response.reason}", response=response)
        return response

    def get(self, url: str, **kwargs: Any) -> requests.Response:
        return self.request("GET", url, **kwargs)

    def post(self, url: str, data: Any = None, json: Any = None, **kwargs: Any) -> requests.Response:
        return self.request("POST", url, data=data, json=json, **kwargs)

    def patch(self, url: str, data: Any = None, **kwargs: Any) -> requests.Response:
        return self.request("PATCH", url, data=data, **kwargs)

    def put(self, url: str, data: Any = None, **kwargs: Any) -> requests.Response:
        return self.request("PUT", url, data=data, **kwargs)

    def delete(self, url: str, **kwargs: Any) -> requests.Response:
        return self.request("DELETE", url, **kwargs)


def connect(
    settings: SalesforceSettings, transport: requests.Session | None, timeout: tuple[float, float]
) -> Salesforce:
    """A simple-salesforce client. With an access token nothing is sent yet; a legacy login logs in."""
    session: Any = BoundSession(transport or requests.Session(), timeout)
    if not settings.legacy_login:
        return Salesforce(
            instance_url=settings.instance_url,
            session_id=settings.access_token,
            session=session,
            version=settings.api_version,
        )
    return Salesforce(
        username=settings.username,
        password=settings.password,
        security_token=settings.security_token,
        domain=settings.domain,
        session=session,
        version=settings.api_version,
    )
