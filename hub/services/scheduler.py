"""Periodic ticks. APScheduler only fires them; the work and its state live in our own tables.

The job store is in memory and never shared. Any number of scheduler processes may run, on any
number of machines: only the leader (``hub.services.leader``) runs the ticks, once per interval,
and a follower takes over within an interval when the leader dies. Every tick is idempotent over
the database as well (claims, unique action keys), so the rare overlap at a takeover does no harm.
Which ticks exist is decided by the composition root (``Hub.scheduled_ticks``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime

from apscheduler.schedulers.background import BackgroundScheduler
from sqlalchemy import Engine

from hub.ports import Clock
from hub.services.leader import Leadership
from hub.store import episodes

log = logging.getLogger(__name__)
LEADERSHIP_JOB = "leadership"


def close_elapsed_episodes(engine: Engine, clock: Clock) -> int:
    with engine.begin() as connection:
        closed = episodes.close_elapsed(connection, clock.now())
    if closed:
        log.info("closed %d episodes whose window elapsed", closed)
    return closed


def _logged(name: str, tick: Callable[[], object], leadership: Leadership | None) -> Callable[[], None]:
    def run() -> None:
        if leadership is not None and not leadership.leading:
            return
        started = time.perf_counter()
        try:
            tick()
        except Exception:  # one failing tick must not stop the others; it runs again next time
            log.exception("scheduler tick %s failed", name)
            return
        log.debug("scheduler tick %s ran in %.0f ms", name, 1000 * (time.perf_counter() - started))

    return run


def build_scheduler(
    ticks: Mapping[str, Callable[[], object]],
    *,
    every_seconds: float = 60.0,
    leadership: Leadership | None = None,
) -> BackgroundScheduler:
    """Each tick every ``every_seconds``; with ``leadership``, only while this process leads."""
    scheduler = BackgroundScheduler(timezone="UTC", job_defaults={"coalesce": True, "max_instances": 1})
    for name, tick in ticks.items():
        scheduler.add_job(
            _logged(name, tick, leadership), "interval", seconds=every_seconds, id=name, name=name
        )
    if leadership is not None:

        def check() -> None:
            was = leadership.leading
            if leadership.check() and not was:
                for name in ticks:  # a new leader runs every tick now, not an interval later
                    scheduler.modify_job(name, next_run_time=datetime.now(UTC))

        scheduler.add_job(
            check,
            "interval",
            seconds=every_seconds / 4,
            id=LEADERSHIP_JOB,
            name=LEADERSHIP_JOB,
            next_run_time=datetime.now(UTC),
        )
    return scheduler
