"""Retention: purge raw payloads and webhook bodies older than ``CTIHUB_RETENTION_DAYS``.

Run by the scheduler (tick ``retention``, every minute, a bounded amount of work each time) and by
``ctihub retention purge [--dry-run]``. What is kept and why: ``docs/retention.md``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import timedelta

from sqlalchemy import Engine

from hub.ports import Clock
from hub.store import retention

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Purged:
    cutoff: str
    counts: dict[str, int] = field(default_factory=dict)
    dry_run: bool = False


@dataclass
class RetentionService:
    engine: Engine
    clock: Clock
    days: float = 30.0
    batch: int = 500  # rows per transaction
    max_batches: int = 20  # per call of ``tick`` (the CLI purges everything)

    def purge(self, *, dry_run: bool = False, max_batches: int | None = None) -> Purged:
        now = self.clock.now()
        cutoff = now - timedelta(days=self.days)
        if dry_run:
            with self.engine.connect() as connection:
                return Purged(cutoff.isoformat(), retention.due(connection, cutoff), dry_run=True)
        counts = {"inbox": 0, "webhook_deliveries": 0}
        batches = 0
        while max_batches is None or batches < max_batches:
            with self.engine.begin() as connection:
                events = retention.purge_inbox(connection, cutoff, now, limit=self.batch)
                bodies = retention.purge_deliveries(connection, cutoff, now, limit=self.batch)
            counts["inbox"] += events
            counts["webhook_deliveries"] += bodies
            batches += 1
            if events < self.batch and bodies < self.batch:
                break
        if any(counts.values()):
            log.info(
                "retention: purged %(inbox)d inbox payloads, %(webhook_deliveries)d webhook bodies", counts
            )
        return Purged(cutoff.isoformat(), counts)

    def tick(self) -> Purged:
        return self.purge(max_batches=self.max_batches)
