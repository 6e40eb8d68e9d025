"""The Prometheus exposition of one scrape: the in-process instruments (``hub.services.telemetry``;
every process's, in multiprocess mode) plus what the database knows, read now by
``DatabaseCollector``."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from datetime import timedelta
from typing import Any

from sqlalchemy import Engine

from hub.services.telemetry import instruments
from hub.store import ops_counts

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
FINAL_ATTEMPTS = ("sent", "failed", "blocked", "cancelled")  # an attempt's last status: a counter
OPEN_ATTEMPTS = ("pending", "claimed")
# The counters that grow with the rows stored come from the rollup tick's snapshot (every 60 s)
# while it is this fresh; older (no scheduler running), a scrape counts them itself.
SNAPSHOT_MAX_AGE = timedelta(minutes=5)


class DatabaseCollector:
    """Figures read from the tables at scrape time: the inbox's depth and oldest waiting event live
    (index ranges over the events not linked yet); SLA actions, recovery attempts and blocks from
    the rollup tick's snapshot (``hub.store.ops_counts.counts_for_scrape``)."""

    def __init__(self, engine: Engine, now: Callable[[], Any]) -> None:
        self.engine = engine
        self.now = now

    def collect(self) -> Iterator[Any]:
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        with self.engine.connect().execution_options(readonly=True) as connection:
            depth = ops_counts.inbox_depth(connection)
            oldest = ops_counts.oldest_queued(connection)
            counts = ops_counts.counts_for_scrape(connection, self.now(), SNAPSHOT_MAX_AGE)
        sla, attempts = counts["sla_actions"], counts["recovery_attempts"]
        blocks = counts["recovery_blocks"]
        inbox = GaugeMetricFamily(
            "ctihub_inbox_events", "Events in the inbox that are not linked, by status.", labels=["status"]
        )
        for status, count in sorted(depth.items()):
            inbox.add_metric([status], count)
        yield inbox
        age = 0.0 if oldest is None else max(0.0, (self.now() - oldest).total_seconds())
        yield GaugeMetricFamily(
            "ctihub_inbox_oldest_pending_age_seconds",
            "Age of the oldest event still waiting to be linked (0 when none waits).",
            value=age,
        )
        actions = CounterMetricFamily(
            "ctihub_sla_actions", "SLA warnings and breaches acted on, by kind.", labels=["kind"]
        )
        for kind in ("warning", "breach"):
            actions.add_metric([kind], sla.get(kind, 0))
        yield actions
        final = CounterMetricFamily(
            "ctihub_recovery_attempts", "Recovery attempts that ended, by result.", labels=["result"]
        )
        for status in FINAL_ATTEMPTS:
            final.add_metric([status], attempts.get(status, 0))
        yield final
        waiting = GaugeMetricFamily(
            "ctihub_recovery_attempts_open", "Recovery attempts not done yet, by status.", labels=["status"]
        )
        for status in OPEN_ATTEMPTS:
            waiting.add_metric([status], attempts.get(status, 0))
        yield waiting
        blocked = CounterMetricFamily(
            "ctihub_recovery_blocks",
            "Recovery attempts blocked or cancelled, by the guard that stopped them.",
            labels=["reason"],
        )
        for reason, count in sorted(blocks.items()):
            blocked.add_metric([reason], count)
        yield blocked


def exposition(engine: Engine, now: Callable[[], Any]) -> tuple[bytes, str]:
    """The scrape's body and content type. In multiprocess mode (``PROMETHEUS_MULTIPROC_DIR`` set)
    the instruments of every process writing to that directory are summed."""
    from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

    instruments()  # registered on first use: a scrape shows every family, zeros included
    database = CollectorRegistry(auto_describe=False)
    database.register(DatabaseCollector(engine, now))
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        processes = CollectorRegistry()
        multiprocess.MultiProcessCollector(processes)
        body = generate_latest(processes)
    else:
        body = generate_latest(REGISTRY)
    return body + generate_latest(database), CONTENT_TYPE_LATEST


def mark_process_dead(pid: int) -> None:
    """Call from gunicorn's ``child_exit`` hook (see docs/metrics.md): drops a dead worker's live
    gauge files in multiprocess mode; counters and histograms it wrote are kept and still summed."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
