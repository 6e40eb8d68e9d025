"""The link worker: claim due inbox rows, link each, and decide retry or dead-letter in one place."""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine

from hub.domain.errors import ConfigError, CrmAction, CrmError
from hub.domain.retry import retry_delay
from hub.ports import Clock
from hub.services.link import CaseBeingCreated, Linked, Linker
from hub.store import inbox

log = logging.getLogger(__name__)
QUOTA_PAUSE_SECONDS = 900.0
CASE_WAIT_SECONDS = 1.0  # how soon an event waiting for its episode's case is tried again


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"


@dataclass
class Worker:
    engine: Engine
    linker: Linker
    clock: Clock
    lease: timedelta = timedelta(seconds=120)
    max_attempts: int = 10
    batch_size: int = 20
    # After a batch that did not fill up, wait this long before claiming again, so the events of a
    # burst gather into one batch (one CRM round trip) instead of trickling out one by one.
    batch_window: float = 0.0
    owner: str = field(default_factory=worker_name)
    rng: random.Random = field(default_factory=random.Random)
    paused_until: datetime | None = None  # set when the CRM says its API quota is spent
    # Answers the linker for the batch just claimed: the published configuration's (one SELECT).
    refresh: Callable[[], Linker] | None = None

    def run_once(self) -> int:
        """Claim and process one batch; returns how many rows were claimed."""
        now = self.clock.now()
        if self.paused_until and now < self.paused_until:
            return 0
        with self.engine.begin() as connection:
            rows = inbox.claim_due(
                connection, owner=self.owner, now=now, lease=self.lease, limit=self.batch_size
            )
        if rows:
            if self.refresh is not None:  # a version published before this claim links these rows
                self.linker = self.refresh()
            results = self.linker.link_batch(rows, owner=self.owner)
            for row, result in zip(rows, results, strict=True):
                self._settle(row, result)
        return len(rows)

    def drain(self, limit: int = 1_000_000) -> int:
        """Process until nothing is due (tests, `ctihub worker --once`)."""
        total = 0
        while total < limit:
            claimed = self.run_once()
            if claimed == 0:
                return total
            total += claimed
        return total

    def run(self, stop: threading.Event, wake: threading.Event, poll_seconds: float) -> None:
        log.info("worker %s started", self.owner)
        while not stop.is_set():
            try:
                claimed = self.run_once()
            except Exception:
                log.exception("worker %s: claiming failed; retrying after a pause", self.owner)
                claimed = 0
            if claimed >= self.batch_size:
                continue  # more are waiting: no reason to linger
            if claimed == 0:
                wake.wait(poll_seconds)
                wake.clear()
            if self.batch_window > 0:
                stop.wait(self.batch_window)
        log.info("worker %s stopped", self.owner)

    def _settle(self, row: inbox.InboxRow, result: Linked | Exception) -> None:
        """Mark one row's outcome: linked already, or retry/dead-letter by what failed."""
        if isinstance(result, CaseBeingCreated):  # another event is creating the case: soon, for free
            with self.engine.begin() as connection:
                inbox.mark_retry(
                    connection,
                    row.id,
                    owner=self.owner,
                    error=result.describe(),
                    at=self.clock.now() + timedelta(seconds=CASE_WAIT_SECONDS),
                    count_attempt=False,
                    status="pending",
                )
        elif isinstance(result, CrmError):
            self._failed(row, result.describe(), result.action, result.retry_after)
        elif isinstance(result, ConfigError):
            self._failed(row, f"configuration: {result.message}", CrmAction.FAIL_RECORD, None)
        elif isinstance(result, Exception):  # a bug or unclassified failure: retry visibly, then dead-letter
            log.error("linking %s:%s failed unexpectedly", row.source, row.event_id, exc_info=result)
            self._failed(row, f"unexpected {type(result).__name__}: {result}", CrmAction.RETRY, None)
        elif not result.recorded:
            log.warning("lost the lease on %s:%s; another worker finishes it", row.source, row.event_id)

    def _failed(self, row: inbox.InboxRow, error: str, action: CrmAction, retry_after: float | None) -> None:
        now = self.clock.now()
        with self.engine.begin() as connection:
            if action is CrmAction.FAIL_RECORD or (
                action is CrmAction.RETRY and row.attempts >= self.max_attempts
            ):
                log.warning(
                    "dead-lettered %s:%s after %d attempts: %s", row.source, row.event_id, row.attempts, error
                )
                inbox.mark_dead(connection, row.id, owner=self.owner, error=error)
                return
            if action is CrmAction.PAUSE_FOR_QUOTA:
                pause = retry_after or QUOTA_PAUSE_SECONDS
                self.paused_until = now + timedelta(seconds=pause)
                log.warning("CRM API quota exhausted; pausing this worker for %.0f s", pause)
                inbox.mark_retry(
                    connection,
                    row.id,
                    owner=self.owner,
                    error=error,
                    at=self.paused_until,
                    count_attempt=False,
                )
                return
            delay = retry_delay(row.attempts, retry_after=retry_after, rng=self.rng)
            inbox.mark_retry(
                connection, row.id, owner=self.owner, error=error, at=now + timedelta(seconds=delay)
            )
