"""Settings, the session every Zendesk request goes through, and the lazy zenpy client.

What the installed zenpy 2.0.57 does, and what we do about it:

- On a 429 it sleeps for ``Retry-After`` and tries again, in a loop. It has no
  ``raise_on_ratelimit`` switch (that exists only on zenpy's main branch). ``BoundSession`` raises
  ``requests.HTTPError`` for every 429 before zenpy sees it, so zenpy can never sleep, and the
  ``Retry-After`` header reaches ``errors``. ``ratelimit_budget=0`` is a second guard: zenpy's loop
  would raise ``RatelimitBudgetExceeded`` before its first ``sleep(1)``.
- Given a ``session=``, it writes the auth onto that object (``session.auth`` for a token,
  ``session.headers["Authorization"]`` for OAuth). The caller's session may be shared (the sandbox
  routes Salesforce through the same one), so zenpy gets a ``BoundSession`` that keeps its own
  ``auth`` and ``headers`` and passes them per request to the transport, which stays untouched.
- Its ``timeout=`` is passed on every call it makes; ``BoundSession`` adds the same timeout to the
  calls we send ourselves.
- It mounts a urllib3 ``Retry(total=3)`` adapter only on a session it creates itself; ours has none,
  so nothing is retried below the adapter's own ``RetryPolicy`` (``crm``) and the hub's worker.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import requests
from requests.structures import CaseInsensitiveDict
from zenpy import Zenpy

from adapters.http import BoundSession as HttpSession
from hub.domain.errors import ConfigError, Problem

ENV_PREFIX = "CTIHUB_ZENDESK_"
DEFAULT_DOMAIN = "zendesk.com"
_SUBDOMAIN = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?")  # one DNS label
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DOMAIN = re.compile(rf"(?:{_LABEL}\.)+{_LABEL}")  # host names only: no port, path or user@
USER_AGENT = "cti-hub (zenpy)"


@dataclass(frozen=True)
class ZendeskSettings:
    """What ``CTIHUB_ZENDESK_*`` configure. Secrets stay out of ``repr``."""

    subdomain: str
    email: str | None = None
    api_token: str | None = field(default=None, repr=False)
    oauth_token: str | None = field(default=None, repr=False)
    domain: str = DEFAULT_DOMAIN
    retry_attempts: int = 3
    retry_max_wait: float = 5.0

    @property
    def auth(self) -> str:
        return "oauth" if self.oauth_token else "api_token"

    @property
    def base_url(self) -> str:
        return f"https://{self.subdomain}.{self.domain}"

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/api/v2"

    @classmethod
    def from_settings(cls, settings: Mapping[str, str]) -> ZendeskSettings:
        """Check the settings without connecting; a ConfigError names every missing one."""

        def get(name: str) -> str | None:
            value = settings.get(name)
            return value.strip() if isinstance(value, str) and value.strip() else None

        problems: list[Problem] = []
        subdomain = get("subdomain")
        if not subdomain:
            problems.append(Problem(f"{ENV_PREFIX}SUBDOMAIN", "required"))
        elif not _SUBDOMAIN.fullmatch(subdomain):
            # The subdomain becomes the host of every call, with the credentials: never a path,
            # a port, a user@ or another domain.
            problems.append(
                Problem(
                    f"{ENV_PREFIX}SUBDOMAIN",
                    "must be the subdomain alone (letters, digits and inner hyphens, at most 63), "
                    "e.g. acme for https://acme.zendesk.com",
                )
            )
        domain = get("domain")
        if domain and not _DOMAIN.fullmatch(domain):
            problems.append(Problem(f"{ENV_PREFIX}DOMAIN", "must be a host name such as zendesk.com"))
        email, api_token, oauth_token = get("email"), get("api_token"), get("oauth_token")
        if not oauth_token:
            if not api_token:
                problems.append(Problem(f"{ENV_PREFIX}API_TOKEN", "set it (with EMAIL), or OAUTH_TOKEN"))
            if not email:
                problems.append(Problem(f"{ENV_PREFIX}EMAIL", "required with an API token"))
        retry = {}
        for name, convert in (("retry_attempts", int), ("retry_max_wait", float)):
            raw = get(name)
            if raw is None:
                continue
            try:
                retry[name] = convert(raw)
            except ValueError:
                problems.append(Problem(f"{ENV_PREFIX}{name.upper()}", f"not a number: {raw!r}"))
        if problems:
            raise ConfigError("Zendesk settings are incomplete", problems)
        return cls(
            subdomain=str(subdomain),
            email=email,
            api_token=None if oauth_token else api_token,
            oauth_token=oauth_token,
            domain=domain or DEFAULT_DOMAIN,
            **retry,  # type: ignore[arg-type]
        )


class BoundSession(HttpSession):
    """The ``requests.Session`` zenpy (and our own calls) see.

    Keeps this account's auth and headers to itself, puts our timeout on every request, raises
    ``requests.HTTPError`` for a 429 (or a 5xx with ``Retry-After``) instead of returning it
    (``adapters.http.BoundSession``), and keeps the last ``X-Rate-Limit`` headers it saw.
    """

    def __init__(self, transport: requests.Session, timeout: tuple[float, float]) -> None:
        super().__init__(transport, timeout, on_response=self._note)
        self.auth: Any = None  # zenpy sets ("<email>/token", <api token>) here
        self.headers: CaseInsensitiveDict[str] = CaseInsensitiveDict(
            {"User-Agent": USER_AGENT, "Accept": "application/json"}
        )
        self.rate_limit: tuple[int, int] | None = None  # (limit, remaining) per minute

    def __repr__(self) -> str:
        return "BoundSession(<zendesk>)"

    def prepare(self, kwargs: dict[str, Any]) -> dict[str, Any]:
        kwargs["headers"] = {**self.headers, **(kwargs.get("headers") or {})}
        if self.auth is not None and kwargs.get("auth") is None:
            kwargs["auth"] = self.auth
        return kwargs

    def _note(self, response: requests.Response) -> None:
        limit, remaining = (response.headers.get(h) for h in ("X-Rate-Limit", "X-Rate-Limit-Remaining"))
        if limit and remaining and limit.isdigit() and remaining.isdigit():
            self.rate_limit = (int(limit), int(remaining))


def connect(
    settings: ZendeskSettings, transport: requests.Session | None, timeout: tuple[float, float]
) -> tuple[Zenpy, BoundSession]:
    """A zenpy client and the session it sends through. Nothing is sent yet."""
    session = BoundSession(transport or requests.Session(), timeout)
    zenpy = Zenpy(
        subdomain=settings.subdomain,
        domain=settings.domain,
        email=settings.email,
        token=settings.api_token,
        oauth_token=settings.oauth_token,
        session=session,
        timeout=timeout,
        ratelimit_budget=0,
        disable_cache=True,  # get_case must see the ticket as it is now
    )
    return zenpy, session
