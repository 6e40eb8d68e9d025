"""Retention: payloads and webhook bodies older than CTIHUB_RETENTION_DAYS are purged; links,
statuses and what metrics read are kept. SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import timedelta

from sqlalchemy import select, update

from hub.services.clock import FixedClock
from hub.services.retention import RetentionService
from hub.store import deflection, inbox
from hub.store import webhook_deliveries as deliveries
from hub.store.tables import inbox as inbox_table
from hub.store.webhook_tables import webhook_deliveries
from tests.conftest import T0

PHONE = "+14155550100"


def event(event_id: str) -> str:
    return json.dumps(
        {
            "event_id": event_id,
            "source": "web-chat",
            "occurred_at": "2026-10-01T10:00:00Z",
            "channel": "chat",
            "customer": {"phone": PHONE, "name": "Jane Doe"},
            "intent": "billing",
            "outcome": "deflected",
            "summary": "charged twice",
            "transcript": [{"from": "customer", "text": "charged twice"}],
            "consent": {"sms": True, "evidence": "said yes"},
            "metadata": {"deflection_id": f"dfl_{event_id:0>24}", "crm_note": PHONE},
        }
    )


def seed(engine, at, prefix: str) -> None:
    with engine.begin() as connection:
        for status in ("linked", "dead", "pending", "failed"):
            event_id = f"{prefix}-{status}"
            inbox.add_event(connection, source="web-chat", event_id=event_id, payload=event(event_id), now=at)
            connection.execute(
                update(inbox_table).where(inbox_table.c.event_id == event_id).values(status=status)
            )
        for status in ("processed", "failed"):
            stored = deliveries.store(
                connection,
                source="twilio-sms",
                provider_id=f"SM{prefix}{status}",
                kind="sms",
                received_at=at,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                body=f"From={PHONE}&Body=charged+twice",
                event={"sender": PHONE},
            )
            deliveries.finish(connection, stored.id, status=status, detail="done", now=at)


def rows(engine):
    with engine.connect() as connection:
        events = {r.event_id: r for r in connection.execute(select(inbox_table))}
        bodies = {r.provider_id: r for r in connection.execute(select(webhook_deliveries))}
    return events, bodies


def test_old_finished_payloads_and_settled_bodies_are_purged_and_nothing_else(engine):
    seed(engine, T0 - timedelta(days=31), "old")
    seed(engine, T0 - timedelta(days=29), "new")
    clock = FixedClock(T0)
    service = RetentionService(engine, clock, days=30)

    preview = service.purge(dry_run=True)
    assert preview.counts == {"inbox": 2, "webhook_deliveries": 1}
    assert rows(engine)[0]["old-linked"].purged_at is None  # a dry run changes nothing

    done = service.purge()
    assert done.counts == {"inbox": 2, "webhook_deliveries": 1}
    events, bodies = rows(engine)
    for event_id in ("old-linked", "old-dead"):
        kept = json.loads(events[event_id].payload)
        assert PHONE not in events[event_id].payload and "charged twice" not in events[event_id].payload
        assert kept["customer"] == {}
        assert kept["metadata"] == {"deflection_id": f"dfl_{event_id:0>24}"}
        assert (kept["intent"], kept["outcome"], kept["occurred_at"]) == (
            "billing",
            "deflected",
            "2026-10-01T10:00:00Z",
        )
        assert events[event_id].purged_at == T0
        assert events[event_id].status in ("linked", "dead")
    # still to be processed, or too recent: untouched
    for event_id in ("old-pending", "old-failed", "new-linked", "new-dead"):
        assert PHONE in events[event_id].payload and events[event_id].purged_at is None
    assert (bodies["SMoldprocessed"].body, bodies["SMoldprocessed"].event) == ("", "{}")
    assert PHONE in bodies["SMoldfailed"].body  # a failed delivery may still be processed again
    assert PHONE in bodies["SMnewprocessed"].body

    # metrics still find the deflection an event answered
    with engine.connect() as connection:
        cited = deflection.outcomes_citing(connection, f"dfl_{'old-linked':0>24}")
    assert [c["event_id"] for c in cited] == ["old-linked"]

    assert service.purge().counts == {"inbox": 0, "webhook_deliveries": 0}  # idempotent


def test_a_backlog_is_purged_in_bounded_batches(engine):
    seed(engine, T0 - timedelta(days=40), "a")
    seed(engine, T0 - timedelta(days=40), "b")
    service = RetentionService(engine, FixedClock(T0), days=30, batch=1, max_batches=2)
    assert service.tick().counts == {"inbox": 2, "webhook_deliveries": 2}
    assert service.tick().counts == {"inbox": 2, "webhook_deliveries": 0}
    assert service.tick().counts == {"inbox": 0, "webhook_deliveries": 0}


def test_the_scheduler_runs_retention_with_the_configured_days(sqlite_engine, clock):
    from hub.bootstrap import build_hub
    from tests.e2e.conftest import settings
    from tests.fakes import FakeCRM

    hub = build_hub(settings(retention_days=7), clock=clock, crm=FakeCRM(), engine=sqlite_engine)
    assert "retention" in hub.scheduled_ticks()
    assert hub.retention().days == 7
    seed(sqlite_engine, clock.now() - timedelta(days=8), "x")
    hub.scheduled_ticks()["retention"]()
    assert rows(sqlite_engine)[0]["x-linked"].purged_at == clock.now()
