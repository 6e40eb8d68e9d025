"""Periodic ticks. APScheduler only fires them; the work and its state live in our own tables.

The job store is in memory and never shared: several processes may each run a scheduler safely
because every tick is an idempotent statement over the database.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

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


def build_scheduler(engine: Engine, clock: Clock, *, every_seconds: float = 60.0) -> BackgroundScheduler:
    scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})
    ticks: dict[str, Callable[[], object]] = {
        "close_elapsed_episodes": lambda: close_elapsed_episodes(engine, clock),
    }
    for name, tick in ticks.items():
        scheduler.add_job(tick, "interval", seconds=every_seconds, id=name, name=name)
    return scheduler
