"""Periodic ticks. APScheduler only fires them; the work and its state live in our own tables.

The job store is in memory and never shared: several processes may each run a scheduler safely
because every tick is idempotent over the database (claims, unique action keys). Which ticks exist
is decided by the composition root (``Hub.scheduled_ticks``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine

from hub.ports import Clock
from hub.store import episodes

log = logging.getLogger(__name__)


def close_elapsed_episodes(engine: Engine, clock: Clock) -> int:
    with engine.begin() as connection:
        closed = episodes.close_elapsed(connection, clock.now())
    if closed:
        log.info("closed %d episodes whose window elapsed", closed)
    return closed


def _logged(name: str, tick: Callable[[], object]) -> Callable[[], None]:
    def run() -> None:
        try:
            tick()
        except Exception:  # one failing tick must not stop the others; it runs again next time
            log.exception("scheduler tick %s failed", name)

    return run


def build_scheduler(
    ticks: Mapping[str, Callable[[], object]], *, every_seconds: float = 60.0
) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})
    for name, tick in ticks.items():
        scheduler.add_job(_logged(name, tick), "interval", seconds=every_seconds, id=name, name=name)
    return scheduler
