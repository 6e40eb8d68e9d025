"""The published configuration in every running process, within seconds, without a restart.

At build time the hub seeds version 1 from the ``mappings/`` files (first start only) and loads the
published version. Afterwards each process asks the database for the published version's id at
most every ``CTIHUB_CONFIG_POLL_SECONDS`` (default 5): the worker before each claim, the web app
before a request, the scheduler on a tick of its own. When it changed, the mapping-dependent parts
(mappings, CRM adapter, linker, validator, SLA service, role rules) are built afresh from it, like at startup,
and swapped into the Hub; the worker picks up the new linker before its next batch, so one batch
is always linked with one version, which each linked event records (``inbox.config_version``).

``CTIHUB_CONFIG_STORE=files`` keeps the old behaviour (the directory is the configuration).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, inspect

from hub.services import config_docs
from hub.services.clock import SystemClock
from hub.services.config_versions import ConfigVersions
from hub.settings import Settings
from hub.store import config_versions as store

if TYPE_CHECKING:
    from hub.bootstrap import Hub

log = logging.getLogger(__name__)
DEFAULT_POLL_SECONDS = 5.0


def uses_database(settings: Settings) -> bool:
    return (settings.value("CONFIG_STORE", "database") or "database").lower() != "files"


def poll_seconds(settings: Settings) -> float:
    return float(settings.value("CONFIG_POLL_SECONDS", str(DEFAULT_POLL_SECONDS)) or DEFAULT_POLL_SECONDS)


def config_versions(settings: Settings, engine: Engine, clock: Any = None) -> ConfigVersions:
    return ConfigVersions(engine, clock or SystemClock(), config_docs.secret_values(settings))


def published_settings(settings: Settings, engine: Engine, clock: Any = None) -> tuple[Settings, int | None]:
    """Settings whose ``mappings_dir`` is the published version (seeded from the files on first
    start), and that version's id. Unchanged settings when the database has no config tables yet."""
    if not uses_database(settings) or not inspect(engine).has_table("config_versions"):
        return settings, None
    versions = config_versions(settings, engine, clock)
    current = versions.published()
    if current is None:
        documents = config_docs.read_directory(settings.mappings_dir)
        if versions.problems(documents):  # never seed a broken version: the files' own problems
            return settings, None  # are reported by load_mappings, with their real paths
        versions.seed(documents)
        current = versions.published()
    if current is None:
        return settings, None
    return replace(settings, mappings_dir=config_docs.materialize(current.documents)), current.id


def current_id(engine: Engine) -> int | None:
    with engine.connect() as connection:
        return store.published_id(connection)


class ConfigWatcher:
    """Checks the published version id (throttled) and rebuilds the hub's mapping-dependent parts."""

    def __init__(
        self,
        hub: Hub,
        *,
        every_seconds: float,
        crm_injected: bool,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self.hub = hub
        self.every_seconds = every_seconds
        self.crm_injected = crm_injected
        self.monotonic = monotonic  # the throttle's clock (a test injects its own)
        self._lock = threading.Lock()
        self._next_check = 0.0

    def check(self, *, force: bool = False) -> bool:
        """True when a new version was applied. Cheap when called often: one indexed SELECT at most
        every ``every_seconds``; concurrent callers skip while another applies."""
        now = self.monotonic()
        if not force and now < self._next_check:
            return False
        if not self._lock.acquire(blocking=force):
            return False
        try:
            self._next_check = now + self.every_seconds
            published = current_id(self.hub.engine)
            if published is None or published == self.hub.config_version:
                return False
            self.apply()
            return True
        except Exception:  # a broken refresh keeps the running version; the next check tries again
            log.exception(
                "applying the published configuration failed; keeping version %s", self.hub.config_version
            )
            return False
        finally:
            self._lock.release()

    def apply(self) -> None:
        from hub.bootstrap import build_hub

        hub = self.hub
        fresh = build_hub(
            hub.settings,
            clock=hub.clock,
            engine=hub.engine,
            crm=hub.crm if self.crm_injected else None,
            watch=False,
        )
        # Swap references (each assignment is atomic): readers see the old or the new part.
        hub.ingest.validator = fresh.ingest.validator
        hub.mappings = fresh.mappings
        hub.metrics = fresh.metrics
        hub.roles = fresh.roles  # the next sign-in gets the published roles.yaml
        hub.sla = fresh.sla
        hub.crm = fresh.crm
        hub.settings = fresh.settings
        hub.linker = fresh.linker
        hub.config_version = fresh.config_version
        log.info("applied configuration version %s", fresh.config_version)


class CurrentTicks:
    """The scheduler's ticks, taken from the Hub's current configuration: after a new version is
    applied, the next firing of each tick uses the services built from it (recovery, SLA, ...)."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self._version: object = object()
        self._ticks: dict[str, Any] = {}

    def all(self) -> dict[str, Any]:
        return {name: self._runner(name) for name in self.hub.scheduled_ticks()}

    def _runner(self, name: str) -> Any:
        def run() -> object:
            if self._version != self.hub.config_version:
                self._ticks, self._version = dict(self.hub.scheduled_ticks()), self.hub.config_version
            tick = self._ticks.get(name)
            return tick() if tick is not None else None

        return run


def follow(scheduler: Any, hub: Hub) -> None:
    """Check for a newly published version every ``CTIHUB_CONFIG_POLL_SECONDS`` in a scheduler process."""
    scheduler.add_job(
        hub.refresh_config,
        "interval",
        seconds=poll_seconds(hub.settings),
        id="apply_published_configuration",
        name="apply_published_configuration",
    )
