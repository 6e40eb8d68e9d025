"""The one composition root: settings -> store -> adapters -> services.

CRM adapters and webhook sources are found through entry points (``cti_hub.adapters``,
``cti_hub.webhooks``), so a new CRM or channel is a plugin, not an edit of the core.
"""

from __future__ import annotations

import logging
import secrets
import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import timedelta
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from hub.domain.errors import ConfigError, Problem
from hub.domain.event_time import EventWindow
from hub.domain.roles import RoleRules
from hub.logs import register_secrets, secret_values
from hub.mappings import Mappings, load_mappings
from hub.mappings.metrics import MetricsConfig, load_metrics_config
from hub.mappings.roles import load_role_rules
from hub.ports import CRM, AdapterConfig, Clock, OutcomeSource
from hub.services.clock import SystemClock
from hub.services.ingest import IngestService
from hub.services.link import Linker
from hub.services.retention import RetentionService
from hub.services.routing import router_for
from hub.services.scheduler import close_elapsed_episodes
from hub.services.sla import SlaService, SlaSettings
from hub.services.telemetry import InstrumentedCRM, InstrumentedLinker
from hub.services.validation import OutcomeValidator, load_outcome_schema
from hub.services.worker import Worker
from hub.settings import Settings
from hub.store.db import make_engine
from hub.store.requesters import StoredRequesters

log = logging.getLogger(__name__)
DEV_SECRETS_FILE = Path("var/dev-secrets.env")


def load_plugin(group: str, name: str) -> Any:
    found = {ep.name: ep for ep in entry_points(group=group)}
    if name not in found:
        known = ", ".join(sorted(found)) or "none (is cti-hub installed? run `pip install -e .`)"
        raise ConfigError(f"no {group} plugin named {name!r}; installed: {known}")
    return found[name].load()


def sandbox_crm_settings(crm: str) -> dict[str, str]:
    from adapters.sandbox import SALESFORCE_INSTANCE_URL

    if crm == "salesforce":
        return {"instance_url": SALESFORCE_INSTANCE_URL, "access_token": "sandbox-session"}
    return {"subdomain": "sandbox", "email": "hub@sandbox.invalid", "api_token": "sandbox-token"}


def ensure_dev_secrets(settings: Settings, path: Path = DEV_SECRETS_FILE) -> Settings:
    """For the sandbox only: fill missing secrets from (or into) a 0600 file under ./var/.

    Each is generated on its own (64 hex digits or 43 URL-safe characters: above every minimum of
    ``hub.settings.SECRET_MINIMUMS``); the context-token secret is never derived from another.
    """
    context_name = "CTIHUB_CONTEXT_TOKEN_SECRET"
    if (
        settings.webhook_secret
        and settings.api_token
        and settings.session_secret
        and settings.environment.get(context_name)
    ):
        return settings
    values: dict[str, str] = {}
    if path.exists():
        for line in path.read_text().splitlines():
            key, _, value = line.partition("=")
            values[key.strip()] = value.strip()
    values.setdefault("CTIHUB_WEBHOOK_SECRET", secrets.token_hex(32))
    values.setdefault("CTIHUB_API_TOKEN", secrets.token_urlsafe(32))
    values.setdefault("CTIHUB_SESSION_SECRET", secrets.token_urlsafe(48))
    values.setdefault(context_name, secrets.token_hex(32))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.write_text("".join(f"{k}={v}\n" for k, v in values.items()))
    log.info("sandbox secrets are in %s", path)
    return replace(
        settings,
        webhook_secret=settings.webhook_secret or values["CTIHUB_WEBHOOK_SECRET"],
        api_token=settings.api_token or values["CTIHUB_API_TOKEN"],
        session_secret=settings.session_secret or values["CTIHUB_SESSION_SECRET"],
        environment={context_name: values[context_name], **settings.environment},
    )


@dataclass
class Hub:
    """Everything a process needs, built once."""

    settings: Settings
    engine: Engine
    clock: Clock
    mappings: Mappings
    crm: CRM
    ingest: IngestService
    linker: Linker
    source: OutcomeSource
    sla: SlaService | None = None
    sandbox: Any = None
    metrics: MetricsConfig = field(default_factory=MetricsConfig)  # mappings/metrics.yaml
    wake_worker: threading.Event = field(default_factory=threading.Event)
    config_version: int | None = None  # the published admin configuration in use (hub.live_config)
    config_watcher: Any = None  # hub.live_config.ConfigWatcher, when the configuration is in the database
    roles: RoleRules = field(default_factory=RoleRules)  # roles.yaml of the configuration in use

    def refresh_config(self, *, force: bool = False) -> bool:
        """Apply a newly published configuration version, if any (throttled; see hub.live_config)."""
        return self.config_watcher.check(force=force) if self.config_watcher is not None else False

    def current_linker(self) -> Linker:
        """The linker of the published configuration (checked unthrottled: once per claimed batch)."""
        self.refresh_config(force=True)
        return self.linker

    def instrumented_current_linker(self) -> Linker:
        return InstrumentedLinker(self.current_linker())  # type: ignore[return-value]

    def new_worker(self) -> Worker:
        return Worker(
            engine=self.engine,
            linker=InstrumentedLinker(self.linker),  # type: ignore[arg-type]  # link latency (Prometheus)
            clock=self.clock,
            lease=timedelta(seconds=self.settings.worker_lease_seconds),
            max_attempts=self.settings.worker_max_attempts,
            transient_budget=timedelta(hours=self.settings.transient_retry_budget_hours),
            batch_size=self.settings.link_batch_size,
            batch_window=self.settings.link_batch_window_seconds if self.linker.batches else 0.0,
            refresh=self.instrumented_current_linker if self.config_watcher is not None else None,
        )

    def scheduled_ticks(self) -> dict[str, Callable[[], object]]:
        """What the scheduler fires; each tick is idempotent over the database."""
        from hub.services.channel_events import ChannelEvents
        from hub.services.recovery import RecoveryService

        ticks: dict[str, Callable[[], object]] = {
            "close_elapsed_episodes": lambda: close_elapsed_episodes(self.engine, self.clock),
            "retry_failed_webhooks": ChannelEvents.for_hub(self).retry_failed,
        }
        if self.sla is not None:
            # warnings, breaches, cases' SLA fields: each written once (the current SlaService's)
            ticks["sla_clocks"] = lambda: self.sla.tick() if self.sla else None
        if (recovery := RecoveryService.for_hub(self)) is not None:  # with mappings/recovery.yaml
            ticks["recovery"] = recovery.tick  # claims due attempts (SKIP LOCKED + lease), guards, acts
        ticks["metrics_rollup"] = self.deflection_rollup().tick  # docs/metrics.md; idempotent, late facts
        ticks["retention"] = self.retention().tick  # payloads and webhook bodies past CTIHUB_RETENTION_DAYS
        return ticks

    def deflection_rollup(self) -> Any:
        from hub.services.deflection_rollup import DeflectionRollup

        return DeflectionRollup(
            engine=self.engine,
            catalog=self.mappings.catalog,
            clock=self.clock,
            window_hours=self.metrics.recontact_window_hours,
        )

    def retention(self) -> RetentionService:
        return RetentionService(self.engine, self.clock, days=self.settings.retention_days)

    def close(self) -> None:
        self.engine.dispose()


def build_hub(
    settings: Settings,
    *,
    clock: Clock | None = None,
    crm: CRM | None = None,
    engine: Engine | None = None,
    watch: bool = True,
) -> Hub:
    from hub import live_config

    clock = clock or SystemClock()
    engine = engine or make_engine(settings.database_url, **settings.engine_options())
    register_secrets(secret_values(settings.environment, settings.webhook_secret, settings.api_token))
    crm_injected = crm is not None
    settings, config_version = live_config.published_settings(settings, engine, clock)
    mappings = load_mappings(settings.mappings_dir)
    if settings.crm not in mappings.crms:
        raise ConfigError(
            f"CRM {settings.crm!r} has no field mapping",
            [Problem(str(settings.mappings_dir / f"fields.{settings.crm}.yaml"), "file is missing")],
        )
    sandbox = None
    if crm is None:
        crm_settings = dict(settings.crm_settings.get(settings.crm, {}))
        session = None
        if settings.sandbox:
            from adapters.sandbox import Sandbox

            sandbox = Sandbox(engine)
            sandbox.ensure_schema()
            session = sandbox.session()
            crm_settings = sandbox_crm_settings(settings.crm)
        factory = load_plugin("cti_hub.adapters", settings.crm)
        crm = factory(
            AdapterConfig(
                settings=crm_settings,
                mapping=mappings.crm(settings.crm),
                session=session,
                connect_timeout=settings.crm_connect_timeout,
                read_timeout=settings.crm_read_timeout,
                requesters=StoredRequesters(engine, clock),
            )
        )
    if not isinstance(crm, InstrumentedCRM):  # a configuration refresh passes the wrapped one back
        crm = InstrumentedCRM(crm)  # type: ignore[assignment]  # every CRM call counted and timed (Prometheus)
    window = EventWindow(
        max_age=timedelta(days=settings.max_event_age_days),
        max_skew=timedelta(seconds=settings.max_clock_skew_seconds),
    )
    validator = OutcomeValidator(load_outcome_schema(), mappings.catalog, window)
    sla = (
        SlaService(
            engine=engine,
            config=mappings.sla,
            clock=clock,
            crm=crm,
            settings=SlaSettings.from_settings(settings),
        )
        if mappings.sla is not None
        else None
    )
    wake = threading.Event()
    hub = Hub(
        settings=settings,
        engine=engine,
        clock=clock,
        mappings=mappings,
        crm=crm,
        ingest=IngestService(engine, validator, clock, on_accepted=wake.set),
        linker=Linker(
            engine=engine,
            crm=crm,
            mapping=mappings.crm(settings.crm),
            catalog=mappings.catalog,
            clock=clock,
            default_region=settings.default_region,
            window=timedelta(hours=settings.episode_window_hours),
            case_claim_ttl=timedelta(seconds=settings.worker_lease_seconds),
            sla_fields=(lambda connection, episode_id: sla.case_fields_on(connection, episode_id, crm.name))
            if sla
            else None,
            config_version=config_version,
            router=router_for(mappings.routing, crm, clock),
        ),
        sla=sla,
        source=load_plugin("cti_hub.webhooks", "generic"),
        sandbox=sandbox,
        metrics=load_metrics_config(settings.mappings_dir),
        roles=load_role_rules(settings.mappings_dir),
        wake_worker=wake,
        config_version=config_version,
    )
    if watch and config_version is not None:
        hub.config_watcher = live_config.ConfigWatcher(
            hub, every_seconds=live_config.poll_seconds(settings), crm_injected=crm_injected
        )
    return hub
