"""Retention: cut old inbox payloads down to what links and metrics need; erase old webhook bodies.

Rows are kept (event links, statuses, counters and metrics read them); only their personal content
goes. Each call handles one batch in the caller's transaction, oldest first, so a purge of a large
backlog never holds locks for long. ``purged_at IS NULL`` is a partial index, so a purge with
nothing to do reads nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, select, update

from hub.store.tables import inbox
from hub.store.webhook_tables import webhook_deliveries

# Inbox statuses whose payload nothing will read again: linked, or given up on.
FINISHED = ("linked", "dead")
# Delivery statuses that will not be processed again (a failed one still may be: kept until it is not).
SETTLED = ("processed", "ignored", "unmatched")
# What a purged payload keeps: what the deflection and dedup metrics and the status endpoint read.
KEPT_FIELDS = (
    "schema_version",
    "event_id",
    "source",
    "occurred_at",
    "channel",
    "direction",
    "intent",
    "outcome",
    "disposition",
    "priority",
    "attempts",
    "step",
    "sentiment",
)
KEPT_METADATA = ("deflection_id",)  # the deflection offer an event answers (a random id)


def purged_payload(payload: Mapping[str, Any], now: datetime) -> str:
    """The payload without the customer, summary, transcript, consent evidence or free metadata."""
    kept: dict[str, Any] = {k: payload[k] for k in KEPT_FIELDS if k in payload}
    metadata = payload.get("metadata") if isinstance(payload.get("metadata"), dict) else {}
    kept["customer"] = {}
    kept["metadata"] = {k: metadata[k] for k in KEPT_METADATA if k in metadata}
    kept["purged_at"] = now.isoformat()
    return json.dumps(kept, separators=(",", ":"), ensure_ascii=False)


def due(connection: Connection, cutoff: datetime) -> dict[str, int]:
    """How many inbox payloads and webhook deliveries a purge at ``cutoff`` would erase."""
    events = connection.execute(select(func.count()).select_from(inbox).where(_inbox_due(cutoff))).scalar()
    bodies = connection.execute(
        select(func.count()).select_from(webhook_deliveries).where(_deliveries_due(cutoff))
    ).scalar()
    return {"inbox": int(events or 0), "webhook_deliveries": int(bodies or 0)}


def purge_inbox(connection: Connection, cutoff: datetime, now: datetime, *, limit: int) -> int:
    rows = connection.execute(
        select(inbox.c.id, inbox.c.payload)
        .where(_inbox_due(cutoff))
        .order_by(inbox.c.received_at)
        .limit(limit)
    ).all()
    for row in rows:
        purge_event(connection, row.id, row.payload, now)
    return len(rows)


def purge_event(connection: Connection, inbox_id: int, payload: str, now: datetime) -> None:
    try:
        parsed = json.loads(payload)
    except ValueError:
        parsed = {}
    connection.execute(
        update(inbox)
        .where(inbox.c.id == inbox_id)
        .values(payload=purged_payload(parsed if isinstance(parsed, dict) else {}, now), purged_at=now)
    )


def purge_deliveries(connection: Connection, cutoff: datetime, now: datetime, *, limit: int) -> int:
    ids = (
        connection.execute(
            select(webhook_deliveries.c.id)
            .where(_deliveries_due(cutoff))
            .order_by(webhook_deliveries.c.received_at)
            .limit(limit)
        )
        .scalars()
        .all()
    )
    if ids:
        connection.execute(
            update(webhook_deliveries)
            .where(webhook_deliveries.c.id.in_(ids))
            .values(body="", headers="{}", event="{}", purged_at=now)
        )
    return len(ids)


def _inbox_due(cutoff: datetime) -> Any:
    return and_(inbox.c.purged_at.is_(None), inbox.c.received_at < cutoff, inbox.c.status.in_(FINISHED))


def _deliveries_due(cutoff: datetime) -> Any:
    return and_(
        webhook_deliveries.c.purged_at.is_(None),
        webhook_deliveries.c.received_at < cutoff,
        webhook_deliveries.c.status.in_(SETTLED),
    )
