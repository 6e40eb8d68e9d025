"""Settings from the environment (``CTIHUB_`` prefix), an optional env file, and secret files.

Any setting ``CTIHUB_X`` may instead be given as ``CTIHUB_X_FILE`` naming a file that holds the
value (Docker/Kubernetes secrets). ``CTIHUB_SETTINGS_FILE`` may name a ``KEY=VALUE`` file read
before the environment, which wins. Nothing here runs at import time.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

from hub.domain.errors import ConfigError, Problem
from hub.domain.signing_keys import LEGACY_KEY_ID, SigningKey, parse_keys

PREFIX = "CTIHUB_"
CRM_NAMES = ("zendesk", "salesforce")
WEBHOOK_KEYS = f"{PREFIX}WEBHOOK_KEYS"
# The shortest value each secret may have, checked at start (``Settings.check``) and again by the
# routes that use it (503 naming it). 32 characters for every secret the admin chooses (32 random
# hex digits are 128 bits; the sandbox generates 64) and for the providers' own secrets whose length
# is known (Twilio auth tokens are 32 hex digits, Zendesk signing secrets 44 base64 characters);
# 24 for Sunshine's webhook secret, whose length Sunshine does not document.
SECRET_MINIMUMS = {
    "WEBHOOK_SECRET": 32,
    "API_TOKEN": 32,
    "CONTEXT_TOKEN_SECRET": 32,
    "SALESFORCE_OUTBOUND_TOKEN": 32,
    "TWILIO_AUTH_TOKEN": 32,
    "ZENDESK_WEBHOOK_SECRET": 32,
    "SUNSHINE_API_KEY": 24,
}


def secret_problem(name: str, value: str | None) -> Problem | None:
    """A Problem when ``CTIHUB_<name>`` is set but shorter than its minimum (never quoting it)."""
    minimum = SECRET_MINIMUMS.get(name)
    if value and minimum and len(value) < minimum:
        return Problem(PREFIX + name, f"is {len(value)} characters; use at least {minimum} random ones")
    return None
LOG_FORMATS = ("text", "json")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
SQLITE_SYNCHRONOUS = ("full", "normal")


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
    metrics_token: str | None = field(default=None, repr=False)  # opens GET /metrics (besides the API token)
    mappings_dir: Path = Path("mappings")
    default_region: str = "US"
    crm: str = "zendesk"
    sandbox: bool = False
    episode_window_hours: float = 72.0
    worker_lease_seconds: float = 120.0
    worker_max_attempts: int = 10  # unexpected (non-CRM) failures only
    transient_retry_budget_hours: float = 24.0  # a CRM's transient faults are retried this long
    worker_poll_seconds: float = 0.5
    link_batch_size: int = 100  # events claimed and written together (Zendesk's bulk limit)
    link_batch_window_seconds: float = 1.0  # how long a worker lets a burst gather into one batch
    crm_connect_timeout: float = 5.0
    crm_read_timeout: float = 30.0
    max_event_age_days: float = 30.0  # an event's occurred_at may be this old at most (docs/identity.md)
    max_clock_skew_seconds: float = 300.0  # ... and this far in the future at most
    retention_days: float = 30.0  # raw payloads and webhook bodies are purged after this (docs/retention.md)
    log_format: str = "text"  # or "json": one object per line
    log_level: str = "INFO"
    # Embedded SQLite only: FULL syncs the WAL at every commit, so an acknowledged event survives a
    # power loss (as on PostgreSQL); NORMAL survives a crash of the process but not of the machine.
    sqlite_synchronous: str = "full"
    scheduler_interval_seconds: float = 60.0  # each tick runs once per interval, on the leader
    # PostgreSQL, per process: connections kept open, extra ones allowed at peaks, and the longest a
    # statement may run (0: the server's own setting). See docs/production.md for the sizing.
    db_pool_size: int = 5
    db_max_overflow: int = 5
    db_statement_timeout_ms: int = 30_000
    crm_settings: Mapping[str, Mapping[str, str]] = field(default_factory=dict, repr=False)
    # Every CTIHUB_* value (secret files resolved), for areas that read their own settings
    # through ``value`` and a typed dataclass of their own.
    environment: Mapping[str, str] = field(default_factory=dict, repr=False)

    @cached_property
    def signing_keys(self) -> tuple[SigningKey, ...]:
        """The outcome-signing keys: ``CTIHUB_WEBHOOK_KEYS`` (bound to sources), then the legacy
        ``CTIHUB_WEBHOOK_SECRET`` (every source). Empty when neither is set."""
        keys: list[SigningKey] = []
        raw = self.environment.get(WEBHOOK_KEYS)
        if raw:
            keys.extend(parse_keys(raw, WEBHOOK_KEYS))
        if self.webhook_secret:
            keys.append(SigningKey(LEGACY_KEY_ID, self.webhook_secret, ("*",)))
        return tuple(keys)
    def engine_options(self) -> dict[str, Any]:
        """What ``hub.store.db.make_engine`` takes from the settings."""
        return {
            "sqlite_synchronous": self.sqlite_synchronous,
            "pool_size": self.db_pool_size,
            "max_overflow": self.db_max_overflow,
            "statement_timeout_ms": self.db_statement_timeout_ms,
        }

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
            metrics_token=values.get(f"{PREFIX}METRICS_TOKEN") or None,
            mappings_dir=Path(values.get(f"{PREFIX}MAPPINGS") or cls.mappings_dir),
            default_region=(values.get(f"{PREFIX}DEFAULT_REGION") or cls.default_region).upper(),
            crm=(values.get(f"{PREFIX}CRM") or cls.crm).lower(),
            sandbox=(values.get(f"{PREFIX}SANDBOX", "").lower() in ("1", "true", "yes")),
            episode_window_hours=_number(values, "EPISODE_WINDOW_HOURS", cls.episode_window_hours),
            worker_lease_seconds=_number(values, "WORKER_LEASE_SECONDS", cls.worker_lease_seconds),
            worker_max_attempts=int(_number(values, "WORKER_MAX_ATTEMPTS", cls.worker_max_attempts)),
            worker_poll_seconds=_number(values, "WORKER_POLL_SECONDS", cls.worker_poll_seconds),
            transient_retry_budget_hours=_number(
                values, "TRANSIENT_RETRY_BUDGET_HOURS", cls.transient_retry_budget_hours
            ),
            link_batch_size=int(_number(values, "LINK_BATCH_SIZE", cls.link_batch_size)),
            link_batch_window_seconds=_number(
                values, "LINK_BATCH_WINDOW_SECONDS", cls.link_batch_window_seconds
            ),
            crm_connect_timeout=_number(values, "CRM_CONNECT_TIMEOUT", cls.crm_connect_timeout),
            crm_read_timeout=_number(values, "CRM_READ_TIMEOUT", cls.crm_read_timeout),
            max_event_age_days=_number(values, "MAX_EVENT_AGE_DAYS", cls.max_event_age_days),
            max_clock_skew_seconds=_number(values, "MAX_CLOCK_SKEW_SECONDS", cls.max_clock_skew_seconds),
            retention_days=_number(values, "RETENTION_DAYS", cls.retention_days),
            log_format=(values.get(f"{PREFIX}LOG_FORMAT") or cls.log_format).lower(),
            log_level=(values.get(f"{PREFIX}LOG_LEVEL") or cls.log_level).upper(),
            sqlite_synchronous=(values.get(f"{PREFIX}SQLITE_SYNCHRONOUS") or cls.sqlite_synchronous).lower(),
            scheduler_interval_seconds=_number(
                values, "SCHEDULER_INTERVAL_SECONDS", cls.scheduler_interval_seconds
            ),
            db_pool_size=int(_number(values, "DB_POOL_SIZE", cls.db_pool_size)),
            db_max_overflow=int(_number(values, "DB_MAX_OVERFLOW", cls.db_max_overflow)),
            db_statement_timeout_ms=int(
                _number(values, "DB_STATEMENT_TIMEOUT_MS", cls.db_statement_timeout_ms)
            ),
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
        if not 0 < self.transient_retry_budget_hours <= 24 * 30:
            problems.append(
                Problem(
                    f"{PREFIX}TRANSIENT_RETRY_BUDGET_HOURS", "must be more than 0 and at most 720 (30 days)"
                )
            )
        if not 1 <= self.link_batch_size <= 1000:
            problems.append(Problem(f"{PREFIX}LINK_BATCH_SIZE", "must be between 1 and 1000"))
        if not 0 <= self.link_batch_window_seconds <= 60:
            problems.append(Problem(f"{PREFIX}LINK_BATCH_WINDOW_SECONDS", "must be between 0 and 60"))
        for name in SECRET_MINIMUMS:
            found = secret_problem(name, self.environment.get(PREFIX + name))
            if found and found not in problems:
                problems.append(found)
        for name, value in (("WEBHOOK_SECRET", self.webhook_secret), ("API_TOKEN", self.api_token)):
            found = secret_problem(name, value)
            if found and found not in problems:
                problems.append(found)
        try:
            self.signing_keys  # noqa: B018 - parsed at start so a bad CTIHUB_WEBHOOK_KEYS stops it
        except ConfigError as exc:
            problems.extend(exc.problems)
        if self.max_event_age_days <= 0:
            problems.append(Problem(f"{PREFIX}MAX_EVENT_AGE_DAYS", "must be positive"))
        if self.max_clock_skew_seconds < 0:
            problems.append(Problem(f"{PREFIX}MAX_CLOCK_SKEW_SECONDS", "must not be negative"))
        if self.retention_days < 1:
            problems.append(Problem(f"{PREFIX}RETENTION_DAYS", "must be at least 1"))
        if self.log_format not in LOG_FORMATS:
            problems.append(Problem(f"{PREFIX}LOG_FORMAT", f"must be text or json, not {self.log_format!r}"))
        if self.log_level not in LOG_LEVELS:
            known = ", ".join(LOG_LEVELS)
            problems.append(Problem(f"{PREFIX}LOG_LEVEL", f"must be one of {known}, not {self.log_level!r}"))
        if self.sqlite_synchronous not in SQLITE_SYNCHRONOUS:
            problems.append(
                Problem(
                    f"{PREFIX}SQLITE_SYNCHRONOUS",
                    f"must be full or normal, not {self.sqlite_synchronous!r}",
                )
            )
        if self.db_pool_size < 1 or self.db_max_overflow < 0 or self.db_statement_timeout_ms < 0:
            problems.append(
                Problem(
                    f"{PREFIX}DB_POOL_SIZE",
                    "pool size must be at least 1; max overflow and statement timeout at least 0",
                )
            )
        if self.scheduler_interval_seconds < 1:
            problems.append(Problem(f"{PREFIX}SCHEDULER_INTERVAL_SECONDS", "must be at least 1"))
        if problems:
            raise ConfigError("invalid settings", problems)
