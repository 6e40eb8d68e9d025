"""The ingest's insert on the driver directly: same row, same answers, SQLAlchemy's errors."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from hub.domain.redaction import mask
from hub.store import inbox
from hub.store.tables import inbox as inbox_table


def test_an_accepted_event_is_a_pending_row_and_a_repeat_is_not(engine, clock):
    assert inbox.accept_event(engine, source="s", event_id="e-1", payload='{"a":1}', now=clock.now())
    assert not inbox.accept_event(engine, source="s", event_id="e-1", payload='{"a":2}', now=clock.now())
    with engine.begin() as connection:
        [row] = connection.execute(select(inbox_table)).all()
        lease = timedelta(seconds=60)
        [claimed] = inbox.claim_due(connection, owner="w", now=clock.now(), lease=lease, limit=9)
    assert (row.source, row.event_id, row.payload) == ("s", "e-1", '{"a":1}')
    assert (row.status, row.attempts) == ("pending", 0)
    assert row.received_at == clock.now() and row.next_attempt_at == clock.now()
    assert claimed.event_id == "e-1"


def test_a_driver_error_surfaces_as_sqlalchemy_error_without_parameters(engine, clock):
    payload = '{"customer": "+14155550123"}'
    with pytest.raises(IntegrityError) as caught:  # source is NOT NULL
        inbox.accept_event(engine, source=None, event_id="e-2", payload=payload, now=clock.now())  # type: ignore[arg-type]
    # The bound values are never rendered; PostgreSQL's own text may quote the failing row, which
    # is why error text is masked wherever it is logged and never returned to a caller.
    assert caught.value.hide_parameters and "4155550123" not in mask(str(caught.value).split("DETAIL")[0])
    assert "4155550123" not in mask(str(caught.value))
    assert inbox.accept_event(engine, source="s", event_id="e-3", payload="{}", now=clock.now())
