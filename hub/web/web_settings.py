"""The web UI's own settings (session, headers, sign-in), read from ``Settings.value``.

Frame ancestors and script sources default to what the configured CRMs need, so an operator who
set ``CTIHUB_ZENDESK_SUBDOMAIN`` or ``CTIHUB_SALESFORCE_INSTANCE_URL`` gets a working console embed
without listing domains twice; ``CTIHUB_FRAME_ANCESTORS`` replaces the derived list.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import urlsplit

from hub.domain.errors import ConfigError, Problem
from hub.settings import PREFIX, Settings

DEFAULT_SESSION_HOURS = 8.0
GENERIC_SALESFORCE_LOGIN_HOSTS = ("login.salesforce.com", "test.salesforce.com")


def _origin(url: str | None) -> str | None:
    if not url or not url.strip():
        return None
    parts = urlsplit(url.strip())
    if parts.scheme != "https" or not parts.hostname:
        return None
    return f"https://{parts.netloc}"


def salesforce_origins(url: str | None) -> list[str]:
    """The origins a Salesforce org serves its console and scripts from, given its My Domain URL.

    ``https://acme.my.salesforce.com`` gives that origin plus ``https://acme.lightning.force.com``
    (Lightning Experience, where the LWC and Open CTI frames live). Sandboxes keep their infix:
    ``acme--uat.sandbox.my.salesforce.com`` -> ``acme--uat.sandbox.lightning.force.com``.
    """
    origin = _origin(url)
    if origin is None:
        return []
    host = urlsplit(origin).hostname or ""
    if host in GENERIC_SALESFORCE_LOGIN_HOSTS:
        return []  # login.salesforce.com never frames anything; the org's My Domain must be configured
    origins = [origin]
    if host.endswith(".my.salesforce.com"):
        origins.append("https://" + host.removesuffix(".my.salesforce.com") + ".lightning.force.com")
    return origins


@dataclass(frozen=True)
class WebSettings:
    session_hours: float = DEFAULT_SESSION_HOURS
    frame_ancestors: tuple[str, ...] = ()
    script_sources: tuple[str, ...] = ()
    public_url: str | None = None
    salesforce_login_url: str | None = None
    salesforce_consumer_key: str | None = None
    salesforce_consumer_secret: str | None = field(default=None, repr=False)
    problems: list[Problem] = field(default_factory=list)

    @classmethod
    def from_settings(cls, settings: Settings) -> WebSettings:
        problems: list[Problem] = []
        raw_hours = settings.value("SESSION_HOURS")
        hours = DEFAULT_SESSION_HOURS
        if raw_hours:
            try:
                hours = float(raw_hours)
            except ValueError:
                problems.append(Problem(PREFIX + "SESSION_HOURS", f"must be a number, not {raw_hours!r}"))
            else:
                if not 0 < hours <= 24 * 7:
                    problems.append(Problem(PREFIX + "SESSION_HOURS", "must be between 0 and 168"))
                    hours = DEFAULT_SESSION_HOURS
        sf = settings.crm_settings.get("salesforce", {})
        zd = settings.crm_settings.get("zendesk", {})
        sf_origins: list[str] = []
        for url in (sf.get("instance_url"), sf.get("login_url")):
            for origin in salesforce_origins(url):
                if origin not in sf_origins:
                    sf_origins.append(origin)
        derived = list(sf_origins)
        subdomain = (zd.get("subdomain") or "").strip()
        if subdomain:
            derived.append(f"https://{subdomain}.zendesk.com")
        explicit = settings.value("FRAME_ANCESTORS")
        ancestors = explicit.split() if explicit else derived
        for source in ancestors:
            if source != "'self'" and _origin(source) is None and not source.startswith("https://*."):
                problems.append(
                    Problem(PREFIX + "FRAME_ANCESTORS", f"{source!r} is not an https:// origin or 'self'")
                )
        if settings.sandbox and "'self'" not in ancestors:
            ancestors = ["'self'", *ancestors]
        login_url = _origin(sf.get("login_url")) or _origin(sf.get("instance_url"))
        return cls(
            session_hours=hours,
            frame_ancestors=tuple(ancestors),
            script_sources=tuple(sf_origins),
            public_url=(settings.value("PUBLIC_URL") or "").rstrip("/") or None,
            salesforce_login_url=login_url,
            salesforce_consumer_key=sf.get("signin_consumer_key") or None,
            salesforce_consumer_secret=sf.get("signin_consumer_secret") or None,
            problems=problems,
        )

    @property
    def salesforce_signin_ready(self) -> bool:
        return bool(
            self.salesforce_consumer_key and self.salesforce_consumer_secret and self.salesforce_login_url
        )

    def check(self) -> None:
        if self.problems:
            raise ConfigError("invalid web settings", self.problems)
