"""Webhook deliveries: store each item once, lock it while it is processed, record what happened.

Also the two look-ups the channel webhooks need from other areas' tables, read-only: which episode a
CRM case/ticket belongs to, and which customer an identifier belongs to.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, select, update

from hub.domain.identity import ASSERTED
from hub.store.sql import insert_ignoring_conflicts
from hub.store.tables import customer_identifiers, episode_cases
from hub.store.webhook_tables import webhook_deliveries

RECEIVED = "received"
PROCESSED = "processed"
IGNORED = "ignored"
UNMATCHED = "unmatched"
FAILED = "failed"
FINAL = frozenset({PROCESSED, IGNORED, UNMATCHED})


@dataclass(frozen=True)
class Delivery:
    id: int
    source: str
    provider_id: str
    kind: str
    status: str
    event: str  # canonical JSON
    attempts: int
    received_at: datetime
    detail: str | None = None
    inserted: bool = False  # True when this call stored it (False: the provider sent it before)


_COLUMNS = (
    webhook_deliveries.c.id,
    webhook_deliveries.c.source,
    webhook_deliveries.c.provider_id,
    webhook_deliveries.c.kind,
    webhook_deliveries.c.status,
    webhook_deliveries.c.event,
    webhook_deliveries.c.attempts,
    webhook_deliveries.c.received_at,
    webhook_deliveries.c.detail,
)


def _locked(connection: Connection, query: Any) -> Any:
    return query.with_for_update() if connection.dialect.name == "postgresql" else query


def store(
    connection: Connection,
    *,
    source: str,
    provider_id: str,
    kind: str,
    received_at: datetime,
    headers: Mapping[str, str],
    body: str,
    event: Mapping[str, Any],
) -> Delivery:
    """Insert the item unless (source, provider_id) is there; return its row, locked on PostgreSQL.

    The lock makes a concurrent redelivery wait until this transaction ends, so it sees the final
    status instead of processing the item a second time.
    """
    inserted = insert_ignoring_conflicts(
        connection,
        webhook_deliveries,
        {
            "source": source,
            "provider_id": provider_id,
            "kind": kind[:100],
            "received_at": received_at,
            "headers": json.dumps(dict(headers), ensure_ascii=False, sort_keys=True),
            "body": body,
            "event": json.dumps(event, ensure_ascii=False, sort_keys=True),
            "status": RECEIVED,
            "attempts": 0,
        },
        ["source", "provider_id"],
    )
    row = connection.execute(
        _locked(
            connection,
            select(*_COLUMNS).where(
                and_(webhook_deliveries.c.source == source, webhook_deliveries.c.provider_id == provider_id)
            ),
        )
    ).one()
    return Delivery(**row._mapping, inserted=inserted == 1)


def finish(
    connection: Connection, delivery_id: int, *, status: str, detail: str | None, now: datetime
) -> None:
    """Record the outcome of one processing attempt."""
    connection.execute(
        update(webhook_deliveries)
        .where(webhook_deliveries.c.id == delivery_id)
        .values(
            status=status,
            detail=detail,
            processed_at=now,
            attempts=webhook_deliveries.c.attempts + 1,
        )
    )


def claim_failed(connection: Connection, *, limit: int, max_attempts: int) -> list[Delivery]:
    """Failed deliveries tried fewer than ``max_attempts`` times, oldest first (SKIP LOCKED on PG)."""
    query = (
        select(*_COLUMNS)
        .where(and_(webhook_deliveries.c.status == FAILED, webhook_deliveries.c.attempts < max_attempts))
        .order_by(webhook_deliveries.c.received_at, webhook_deliveries.c.id)
        .limit(limit)
    )
    if connection.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    return [Delivery(**row._mapping) for row in connection.execute(query).all()]


def get(connection: Connection, source: str, provider_id: str) -> dict[str, Any] | None:
    row = connection.execute(
        select(webhook_deliveries).where(
            and_(webhook_deliveries.c.source == source, webhook_deliveries.c.provider_id == provider_id)
        )
    ).first()
    return dict(row._mapping) if row else None


def episode_of_case(connection: Connection, crm: str, case_id: str) -> str | None:
    """The episode whose case/ticket in ``crm`` is ``case_id``, if the hub linked one."""
    return connection.execute(
        select(episode_cases.c.episode_id)
        .where(and_(episode_cases.c.crm == crm, episode_cases.c.case_id == case_id))
        .order_by(episode_cases.c.linked_at.desc())
        .limit(1)
    ).scalar()


def customer_with(connection: Connection, kind: str, value: str) -> str | None:
    """The customer a normalized identifier belongs to, if known."""
    return connection.execute(
        select(customer_identifiers.c.customer_key).where(
            and_(
                customer_identifiers.c.kind == kind,
                customer_identifiers.c.value == value,
                customer_identifiers.c.proof != ASSERTED,  # an asserted identifier names no one
            )
        )
    ).scalar()
