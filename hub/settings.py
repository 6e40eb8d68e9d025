"""Settings from the environment (``CTIHUB_`` prefix), an optional env file, and secret files.

Any setting ``CTIHUB_X`` may instead be given as ``CTIHUB_X_FILE`` naming a file that holds the
value (Docker/Kubernetes secrets). ``CTIHUB_SETTINGS_FILE`` may name a ``KEY=VALUE`` file read
before the environment, which wins. Nothing here runs at import time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from hub.domain.errors import ConfigError, Problem

PREFIX = "CTIHUB_"
CRM_NAMES = ("zendesk", "salesforce")


def _read_env_file(path: Path) -> dict[str, str]:
    values: dict[str, str] = {}
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            continue
        key, sep, value = stripped.partition("=")
        if not sep:
            raise ConfigError(
                "settings file is not KEY=VALUE", [Problem(f"{path}:{number}", "expected KEY=VALUE")]
            )
        values[key.strip()] = value.strip().strip('"').strip("'")
    return values


def collect_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """Every ``CTIHUB_*`` value, with ``*_FILE`` indirections resolved (file content, stripped)."""
    merged: dict[str, str] = {}
    settings_file = environ.get(f"{PREFIX}SETTINGS_FILE")
    if settings_file:
        merged.update(_read_env_file(Path(settings_file)))
    merged.update({k: v for k, v in environ.items() if k.startswith(PREFIX)})
    resolved: dict[str, str] = {}
    for key, value in merged.items():
        if key.endswith("_FILE") and key != f"{PREFIX}SETTINGS_FILE":
            try:
                resolved[key[: -len("_FILE")]] = Path(value).read_text().strip()
            except OSError as exc:
                raise ConfigError(f"cannot read {key}", [Problem(key, str(exc.strerror))]) from exc
        else:
            resolved.setdefault(key, value)
    return resolved


def _number(values: Mapping[str, str], name: str, default: float) -> float:
    raw = values.get(PREFIX + name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError as exc:
        raise ConfigError(f"{PREFIX}{name} must be a number", [Problem(PREFIX + name, repr(raw))]) from exc


@dataclass(frozen=True)
class Settings:
    database_url: str = "sqlite:///var/ctihub.db"
    webhook_secret: str | None = field(default=None, repr=False)
    api_token: str | None = field(default=None, repr=False)
    session_secret: str | None = field(default=None, repr=False)  # signs the web UI's session cookie
    mappings_dir: Path = Path("mappings")
    default_region: str = "US"
    crm: str = "zendesk"
    sandbox: bool = False
    episode_window_hours: float = 72.0
    worker_lease_seconds: float = 120.0
    worker_max_attempts: int = 10
    worker_poll_seconds: float = 0.5
    link_batch_size: int = 100  # events claimed and written together (Zendesk's bulk limit)
    link_batch_window_seconds: float = 1.0  # how long a worker lets a burst gather into one batch
    crm_connect_timeout: float = 5.0
    crm_read_timeout: float = 30.0
    crm_settings: Mapping[str, Mapping[str, str]] = field(default_factory=dict, repr=False)
    # Every CTIHUB_* value (secret files resolved), for areas that read their own settings
    # through ``value`` and a typed dataclass of their own.
    environment: Mapping[str, str] = field(default_factory=dict, repr=False)

    def value(self, name: str, default: str | None = None) -> str | None:
        """``CTIHUB_<name>`` (or its ``_FILE``), or ``default`` when unset or empty."""
        return self.environment.get(PREFIX + name) or default

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
        values = collect_environment(os.environ if environ is None else environ)
        crm_settings = {
            crm: {
                key[len(f"{PREFIX}{crm.upper()}_") :].lower(): value
                for key, value in values.items()
                if key.startswith(f"{PREFIX}{crm.upper()}_")
            }
            for crm in CRM_NAMES
        }
        settings = cls(
            database_url=values.get(f"{PREFIX}DATABASE_URL") or cls.database_url,
            webhook_secret=values.get(f"{PREFIX}WEBHOOK_SECRET") or None,
            api_token=values.get(f"{PREFIX}API_TOKEN") or None,
            session_secret=values.get(f"{PREFIX}SESSION_SECRET") or None,
            mappings_dir=Path(values.get(f"{PREFIX}MAPPINGS") or cls.mappings_dir),
            default_region=(values.get(f"{PREFIX}DEFAULT_REGION") or cls.default_region).upper(),
            crm=(values.get(f"{PREFIX}CRM") or cls.crm).lower(),
            sandbox=(values.get(f"{PREFIX}SANDBOX", "").lower() in ("1", "true", "yes")),
            episode_window_hours=_number(values, "EPISODE_WINDOW_HOURS", cls.episode_window_hours),
            worker_lease_seconds=_number(values, "WORKER_LEASE_SECONDS", cls.worker_lease_seconds),
            worker_max_attempts=int(_number(values, "WORKER_MAX_ATTEMPTS", cls.worker_max_attempts)),
            worker_poll_seconds=_number(values, "WORKER_POLL_SECONDS", cls.worker_poll_seconds),
            link_batch_size=int(_number(values, "LINK_BATCH_SIZE", cls.link_batch_size)),
            link_batch_window_seconds=_number(
                values, "LINK_BATCH_WINDOW_SECONDS", cls.link_batch_window_seconds
            ),
            crm_connect_timeout=_number(values, "CRM_CONNECT_TIMEOUT", cls.crm_connect_timeout),
            crm_read_timeout=_number(values, "CRM_READ_TIMEOUT", cls.crm_read_timeout),
            crm_settings=crm_settings,
            environment=values,
        )
        settings = replace(settings, **overrides)
        settings.check()
        return settings

    def check(self) -> None:
        problems = []
        if self.crm not in CRM_NAMES:
            problems.append(
                Problem(f"{PREFIX}CRM", f"must be one of {', '.join(CRM_NAMES)}, not {self.crm!r}")
            )
        if len(self.default_region) != 2 or not self.default_region.isalpha():
            problems.append(Problem(f"{PREFIX}DEFAULT_REGION", "must be an ISO 3166-1 alpha-2 code like US"))
        if self.episode_window_hours <= 0:
            problems.append(Problem(f"{PREFIX}EPISODE_WINDOW_HOURS", "must be positive"))
        if not 1 <= self.link_batch_size <= 1000:
            problems.append(Problem(f"{PREFIX}LINK_BATCH_SIZE", "must be between 1 and 1000"))
        if not 0 <= self.link_batch_window_seconds <= 60:
            problems.append(Problem(f"{PREFIX}LINK_BATCH_WINDOW_SECONDS", "must be between 0 and 60"))
        if problems:
            raise ConfigError("invalid settings", problems)
