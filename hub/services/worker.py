"""The link worker: claim due inbox rows, link each, and decide retry or dead-letter in one place.

What each failure costs (``docs/reliability.md`` has the table):

- the CRM rejected the record itself (``CrmRecordRejected``), or the configuration cannot write
  it: dead at once, the dead-letter saying ``rejected: ...``;
- a transient failure of the CRM (429, 5xx, timeout, a write of unknown fate, an expired session):
  retried with backoff (never before Retry-After, at least every ``max_retry_delay``) until
  ``transient_budget`` has passed since the event was accepted; then dead, saying ``retry budget
  ... spent: ...``. A count of attempts never dead-letters it;
- nothing was sent (``CrmWriteNotSent``: another record's failure stopped the batch first) or the
  episode's case is being created by another event: released, no attempt charged;
- the API quota is spent: the worker pauses, no attempt charged;
- an unexpected exception (a bug): retried visibly, dead after ``max_attempts``.
"""

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

from hub.domain.errors import ConfigError, CrmAction, CrmError, CrmWriteNotSent
from hub.domain.retry import retry_delay
from hub.ports import Clock
from hub.services.link import CaseBeingCreated, Linked, Linker
from hub.services.log_context import log_ids
from hub.services.telemetry import worker_gave_up
from hub.store import inbox

log = logging.getLogger(__name__)
QUOTA_PAUSE_SECONDS = 900.0
CASE_WAIT_SECONDS = 1.0  # how soon an event waiting for its episode's case is tried again
NOT_SENT_WAIT_SECONDS = 5.0  # how soon a write its batch never sent is tried again (Retry-After wins)


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident() % 100000}"


def _batch_ids(rows: list[inbox.InboxRow]) -> dict[str, object]:
    """The log ids of a claimed batch: the event itself when alone, else the inbox id range."""
    if len(rows) == 1:
        return {"event": f"{rows[0].source}:{rows[0].event_id}", "inbox_id": rows[0].id}
    ids = [row.id for row in rows]
    return {"batch": f"inbox {min(ids)}..{max(ids)} ({len(ids)} events)"}


@dataclass
class Worker:
    engine: Engine
    linker: Linker
    clock: Clock
    lease: timedelta = timedelta(seconds=120)
    max_attempts: int = 10  # unexpected failures (bugs) only: a CRM's transient faults run on time
    # A transient CRM failure is retried until this long after the event was accepted.
    transient_budget: timedelta = timedelta(hours=24)
    # The longest wait between two tries of a transient failure (a Retry-After may be longer), so
    # a backlog drains within minutes of the CRM coming back.
    max_retry_delay: float = 300.0
    batch_size: int = 20
    # After a batch that did not fill up, claim again no sooner than this long after it was claimed,
    # so the events of a burst gather into one batch (one CRM round trip) instead of trickling out
    # one by one. The time the batch took counts: events gathered while it was written.
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
            with log_ids(**_batch_ids(rows)):
                results = self.linker.link_batch(rows, owner=self.owner)
            for row, result in zip(rows, results, strict=True):
                episode = result.episode_id if isinstance(result, Linked) else None
                with log_ids(event=f"{row.source}:{row.event_id}", inbox_id=row.id, episode_id=episode):
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
        last_batch: datetime | None = None
        while not stop.is_set():
            started = self.clock.now()
            try:
                claimed = self.run_once()
            except Exception:
                log.exception("worker %s: claiming failed; retrying after a pause", self.owner)
                claimed = 0
            if claimed:
                last_batch = started
            if claimed >= self.batch_size:
                continue  # more are waiting: no reason to linger
            if claimed == 0:
                wake.wait(poll_seconds)
                wake.clear()
            pause = self.gather_pause(last_batch)
            if pause > 0:
                stop.wait(pause)
        log.info("worker %s stopped", self.owner)

    def gather_pause(self, last_batch: datetime | None) -> float:
        """How long to let events gather before the next claim: what is left of ``batch_window``
        since the last batch was claimed. None after a quiet spell: the first event of a burst (or
        of a trickle) goes at once, and the rest of the burst gathers behind it."""
        if self.batch_window <= 0 or last_batch is None:
            return 0.0
        elapsed = (self.clock.now() - last_batch).total_seconds()
        return max(0.0, min(self.batch_window, self.batch_window - elapsed))

    def _settle(self, row: inbox.InboxRow, result: Linked | Exception) -> None:
        """Mark one row's outcome: linked already, or retry/dead-letter by what failed."""
        if isinstance(result, CaseBeingCreated):  # another event is creating the case: soon, for free
            self._release(row, result.describe(), CASE_WAIT_SECONDS)
        elif isinstance(result, CrmWriteNotSent):  # never left: nothing to charge
            self._release(row, result.describe(), max(result.retry_after or 0.0, NOT_SENT_WAIT_SECONDS))
        elif isinstance(result, CrmError):
            self._failed(row, result.describe(), result.action, result.retry_after)
        elif isinstance(result, ConfigError):
            self._failed(row, f"configuration: {result.message}", CrmAction.FAIL_RECORD, None)
        elif isinstance(result, Exception):  # a bug or unclassified failure: retry visibly, then dead-letter
            log.error("linking %s:%s failed unexpectedly", row.source, row.event_id, exc_info=result)
            if row.attempts >= self.max_attempts:
                self._dead(row, f"unexpected {type(result).__name__} {row.attempts} times: {result}")
            else:
                self._retry(row, f"unexpected {type(result).__name__}: {result}", None)
        elif not result.recorded:
            log.warning("lost the lease on %s:%s; another worker finishes it", row.source, row.event_id)

    def _release(self, row: inbox.InboxRow, error: str, wait: float) -> None:
        """Back to the queue after ``wait`` seconds without charging an attempt (nothing failed)."""
        with self.engine.begin() as connection:
            inbox.mark_retry(
                connection,
                row.id,
                owner=self.owner,
                error=error,
                at=self.clock.now() + timedelta(seconds=wait),
                count_attempt=False,
                status="pending",
            )

    def _failed(self, row: inbox.InboxRow, error: str, action: CrmAction, retry_after: float | None) -> None:
        now = self.clock.now()
        system = self.linker.crm.name
        if action is CrmAction.FAIL_RECORD:
            worker_gave_up(action, dead=True, system=system, configuration=error.startswith("configuration"))
            self._dead(row, f"rejected: {error}")
            return
        if action is CrmAction.PAUSE_FOR_QUOTA:
            worker_gave_up(action, dead=False, system=system)
            pause = retry_after or QUOTA_PAUSE_SECONDS
            self.paused_until = now + timedelta(seconds=pause)
            log.warning("CRM API quota exhausted; pausing this worker for %.0f s", pause)
            with self.engine.begin() as connection:
                inbox.mark_retry(
                    connection,
                    row.id,
                    owner=self.owner,
                    error=error,
                    at=self.paused_until,
                    count_attempt=False,
                )
            return
        received = row.received_at or now
        if now - received >= self.transient_budget:
            hours = self.transient_budget.total_seconds() / 3600
            worker_gave_up(action, dead=True, system=system)
            self._dead(row, f"retry budget of {hours:g} h spent after {row.attempts} attempts: {error}")
            return
        self._retry(row, error, retry_after)

    def _retry(self, row: inbox.InboxRow, error: str, retry_after: float | None) -> None:
        """Charged an attempt; tried again after a backoff that never undercuts Retry-After."""
        delay = retry_delay(row.attempts, retry_after=retry_after, cap=self.max_retry_delay, rng=self.rng)
        with self.engine.begin() as connection:
            inbox.mark_retry(
                connection,
                row.id,
                owner=self.owner,
                error=error,
                at=self.clock.now() + timedelta(seconds=delay),
            )

    def _dead(self, row: inbox.InboxRow, error: str) -> None:
        log.warning(
            "dead-lettered %s:%s after %d attempts: %s", row.source, row.event_id, row.attempts, error
        )
        with self.engine.begin() as connection:
            inbox.mark_dead(connection, row.id, owner=self.owner, error=error)
