"""Writing each recovery result back to the case/ticket: the outbox ``recovery_writebacks``.

Every result (sent, blocked and by which guard, rescheduled, cancelled, failed) was queued as a note
in the transaction that decided it; here each is appended to the episode's case/ticket with its
RECOVERY_* disposition code, idempotent by its key, retried with backoff, failed after
``writeback_max_tries`` (or at once when the CRM rejects the record).
"""

from __future__ import annotations

import logging
import random
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import Engine

from hub.domain.errors import CrmAction, CrmError
from hub.domain.retry import retry_delay
from hub.ports import CRM
from hub.store import links
from hub.store import recovery as store

from .crm_values import CrmValues
from .settings import RecoverySettings

log = logging.getLogger(__name__)


@dataclass
class WriteBack:
    engine: Engine
    crm: CRM
    values: CrmValues
    settings: RecoverySettings
    rng: random.Random

    def run(self, now: datetime) -> int:
        """Write every due note (a batch at a time); returns how many were written."""
        until = now + timedelta(seconds=self.settings.lease_seconds)
        written = 0
        for _ in range(self.settings.max_batches):
            with self.engine.begin() as connection:
                batch = store.claim_writebacks(connection, now=now, until=until, limit=self.settings.batch)
            for item in batch:
                written += self._write_one(item, now)
            if len(batch) < self.settings.batch:
                break
        return written

    def _write_one(self, item: store.Writeback, now: datetime) -> int:
        with self.engine.connect() as connection:
            case = links.episode_case(connection, item.episode_id, self.crm.name)
            attempt = store.get_attempt(connection, item.attempt_id)
            plan = store.get_plan(connection, attempt.plan_id)
        if case is None:
            self._retry_writeback(
                item, now, f"no {self.crm.name} case linked yet", self.settings.missing_case_retry_seconds
            )
            return 0
        target = case.id
        activity = self.values.activity(
            item.key, item.subject, item.body, item.disposition, plan, attempt, now
        )
        if item.result == "task_cancelled" and self.crm.name != "salesforce" and attempt.case_id:
            target = attempt.case_id  # the task ticket
            case_fields = self.values.case_fields(
                plan, attempt, item.disposition, item.subject, item.body, now, creating=False
            )
            activity = replace(activity, case_fields=case_fields)
        try:
            result = self.crm.append_activity(target, activity, retrying=item.tries > 1)
        except CrmError as exc:
            if exc.action == CrmAction.FAIL_RECORD or item.tries >= self.settings.writeback_max_tries:
                with self.engine.begin() as connection:
                    store.finish_writeback(
                        connection, item.id, status="failed", last_error=exc.describe()[:2000]
                    )
                log.error("recovery note %s could not be written: %s", item.key, exc.describe())
                return 0
            self._retry_writeback(item, now, exc.describe(), exc.retry_after)
            return 0
        with self.engine.begin() as connection:
            store.finish_writeback(
                connection,
                item.id,
                status="done",
                done_at=now,
                lease_until=None,
                case_id=target,
                activity_id=result.activity.id,
                last_error=None,
            )
        return 1

    def _retry_writeback(
        self, item: store.Writeback, now: datetime, error: str, retry_after: float | None
    ) -> None:
        delay = retry_delay(item.tries, retry_after=retry_after, base=30.0, rng=self.rng)
        with self.engine.begin() as connection:
            store.finish_writeback(
                connection,
                item.id,
                due_at=now + timedelta(seconds=delay),
                lease_until=None,
                last_error=error[:2000],
            )
