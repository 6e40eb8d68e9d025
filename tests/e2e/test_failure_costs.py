"""What a failure costs an event in the worker (issue 11.12): writes never sent are free, Retry-After
is never undercut, and a batch of retries stops at the first failure that is not a record's own."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from adapters.http import one_by_one
from hub.domain.errors import CrmRecordRejected, CrmRetryable, CrmWriteNotSent
from hub.store.tables import inbox


def row_of(hub, event_id: str):
    with hub.engine.connect() as connection:
        return connection.execute(select(inbox).where(inbox.c.event_id == event_id)).one()


def test_a_write_never_sent_is_released_without_an_attempt(post, hub, fake_crm, clock) -> None:
    stopped = CrmWriteNotSent.stopped_by(CrmRetryable("503", crm="zendesk", status=503))
    fake_crm.fail_next.append(stopped)
    post(event_id="a")
    worker = hub.new_worker()

    assert worker.run_once() == 1

    row = row_of(hub, "a")
    assert (row.status, row.attempts) == ("pending", 0)
    assert row.last_error.startswith("zendesk 503: not sent: the batch stopped at another record's failure")
    assert row.next_attempt_at == clock.now() + timedelta(seconds=5)
    clock.advance(seconds=5)
    assert worker.drain() == 1
    assert (row_of(hub, "a").status, row_of(hub, "a").attempts) == ("linked", 1)


@pytest.mark.parametrize("retry_after", [30.0, 7200.0])
def test_the_next_try_is_never_before_retry_after(post, hub, fake_crm, clock, retry_after: float) -> None:
    fake_crm.fail_next.append(CrmRetryable("429", crm="zendesk", status=429, retry_after=retry_after))
    post(event_id="a")
    hub.new_worker().run_once()

    row = row_of(hub, "a")
    assert row.status == "failed" and row.attempts == 1
    wait = row.next_attempt_at - clock.now()
    assert wait >= timedelta(seconds=retry_after)
    assert wait <= timedelta(seconds=max(retry_after, 2 * 1.25))  # Retry-After exactly when it is longer


def test_a_transient_failure_is_retried_at_least_every_few_minutes(post, hub, fake_crm, clock) -> None:
    fake_crm.fail_next.extend(CrmRetryable("503", crm="zendesk", status=503) for _ in range(20))
    post(event_id="a")
    worker = hub.new_worker()
    waits: list[timedelta] = []
    for _ in range(20):
        worker.run_once()
        row = row_of(hub, "a")
        waits.append(row.next_attempt_at - clock.now())
        clock.advance(seconds=waits[-1].total_seconds())
    assert max(waits) <= timedelta(seconds=300 * 1.25)
    assert waits[-1] >= timedelta(seconds=300)  # the cap reached, not a count running out
    assert row_of(hub, "a").status == "failed"


def test_a_rejection_is_dead_at_once_and_says_so(post, hub, fake_crm) -> None:
    fake_crm.fail_next.append(
        CrmRecordRejected("bad value", crm="zendesk", status=422, crm_code="RecordInvalid")
    )
    post(event_id="a")
    hub.new_worker().run_once()
    row = row_of(hub, "a")
    assert (row.status, row.attempts) == ("dead", 1)
    assert row.last_error == "rejected: zendesk 422 RecordInvalid: bad value"


def test_one_by_one_stops_at_a_failure_not_the_records_own_and_sends_nothing_after() -> None:
    sent: list[int] = []

    def write(n: int) -> str:
        sent.append(n)
        if n == 1:
            raise CrmRecordRejected("its own", crm="zendesk", status=422)
        if n == 2:
            raise CrmRetryable("down", crm="zendesk", status=503, retry_after=9.0)
        return f"ok {n}"

    results = one_by_one([0, 1, 2, 3, 4], write)

    assert sent == [0, 1, 2]
    assert results[0] == "ok 0"
    assert type(results[1]) is CrmRecordRejected and type(results[2]) is CrmRetryable
    assert [type(r) for r in results[3:]] == [CrmWriteNotSent, CrmWriteNotSent]
    assert all(r.retry_after == 9.0 and r.status == 503 for r in results[3:])  # type: ignore[union-attr]
