"""The inbox: every accepted event, its processing state, and the claim that hands it to a worker.

Claims are leases: a worker that dies leaves its rows to be claimed again once the lease ends.
On PostgreSQL rows are claimed with ``FOR UPDATE SKIP LOCKED`` so workers never wait on each other;
on SQLite (one writer at a time) a plain transaction does the same job.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, and_, func, or_, select, update

from hub.store.db import driver_datetime, write_transaction
from hub.store.sql import insert_ignoring_conflicts
from hub.store.tables import event_links, inbox

# What /v1 reports for each stored status.
PUBLIC_STATUS = {
    "pending": "pending",
    "processing": "pending",
    "failed": "failed",
    "linked": "linked",
    "dead": "dead",
}


@dataclass(frozen=True)
class InboxRow:
    id: int
    source: str
    event_id: str
    payload: str
    attempts: int
    status: str
    received_at: datetime | None = None  # when the event was accepted: the retry budget runs from it


def add_event(connection: Connection, *, source: str, event_id: str, payload: str, now: datetime) -> bool:
    """Store an accepted event. False when (source, event_id) is already there (a repeat)."""
    inserted = insert_ignoring_conflicts(
        connection,
        inbox,
        {
            "source": source,
            "event_id": event_id,
            "payload": payload,
            "received_at": now,
            "next_attempt_at": now,
            "status": "pending",
            "attempts": 0,
        },
        ["source", "event_id"],
    )
    return inserted == 1


_ACCEPT = (
    "INSERT INTO inbox (source, event_id, payload, received_at, next_attempt_at, status, attempts) "
    "VALUES ({p}, {p}, {p}, {p}, {p}, 'pending', 0) ON CONFLICT (source, event_id) DO NOTHING"
)
_ACCEPT_SQL = {"sqlite": _ACCEPT.format(p="?"), "postgresql": _ACCEPT.format(p="%s")}


def accept_event(engine: Engine, *, source: str, event_id: str, payload: str, now: datetime) -> bool:
    """``add_event`` in a transaction of its own, committed, on the driver directly (the ingest path:
    ``hub.store.db.write_transaction`` says why). False for a repeat."""
    sql = _ACCEPT_SQL[engine.dialect.name]
    stamp = driver_datetime(now, engine.dialect.name)
    with write_transaction(engine, sql, single=True) as connection:
        cursor = connection.cursor()
        try:
            cursor.execute(sql, (source, event_id, payload, stamp, stamp))
            return cursor.rowcount == 1
        finally:
            cursor.close()


def claim_due(
    connection: Connection, *, owner: str, now: datetime, lease: timedelta, limit: int
) -> list[InboxRow]:
    """Lease up to ``limit`` rows that are due (new, retry due, or abandoned by a dead worker)."""
    due = or_(
        and_(inbox.c.status.in_(("pending", "failed")), inbox.c.next_attempt_at <= now),
        and_(inbox.c.status == "processing", inbox.c.lease_until < now),
    )
    query = select(inbox.c.id).where(due).order_by(inbox.c.next_attempt_at, inbox.c.id).limit(limit)
    if connection.dialect.name == "postgresql":
        query = query.with_for_update(skip_locked=True)
    ids = list(connection.execute(query).scalars())
    if not ids:
        return []
    connection.execute(
        update(inbox)
        .where(inbox.c.id.in_(ids))
        .values(
            status="processing", lease_owner=owner, lease_until=now + lease, attempts=inbox.c.attempts + 1
        )
    )
    rows = connection.execute(
        select(
            inbox.c.id,
            inbox.c.source,
            inbox.c.event_id,
            inbox.c.payload,
            inbox.c.attempts,
            inbox.c.status,
            inbox.c.received_at,
        )
        .where(inbox.c.id.in_(ids))
        .order_by(inbox.c.id)
    ).all()
    return [InboxRow(**row._mapping) for row in rows]


def _owned(row_id: int, owner: str) -> Any:
    return and_(inbox.c.id == row_id, inbox.c.lease_owner == owner, inbox.c.status == "processing")


def mark_linked(
    connection: Connection,
    row_id: int,
    *,
    owner: str,
    now: datetime,
    customer_key: str,
    episode_id: str,
    disposition: str,
    config_version: int | None = None,
) -> bool:
    """Finish a row. False when the lease was lost meanwhile (another worker owns it now)."""
    result = connection.execute(
        update(inbox)
        .where(_owned(row_id, owner))
        .values(
            status="linked",
            linked_at=now,
            lease_owner=None,
            lease_until=None,
            last_error=None,
            customer_key=customer_key,
            episode_id=episode_id,
            disposition=disposition,
            config_version=config_version,
        )
    )
    return result.rowcount == 1


def mark_retry(
    connection: Connection,
    row_id: int,
    *,
    owner: str,
    error: str,
    at: datetime,
    count_attempt: bool = True,
    status: str = "failed",
) -> None:
    """Release the row for another try at ``at``. ``status`` stays "pending" for a wait that is no
    failure (the episode's case is being created by another worker)."""
    values: dict[str, Any] = {
        "status": status,
        "next_attempt_at": at,
        "lease_owner": None,
        "lease_until": None,
        "last_error": error,
    }
    if not count_attempt:
        values["attempts"] = inbox.c.attempts - 1
    connection.execute(update(inbox).where(_owned(row_id, owner)).values(**values))


def mark_dead(connection: Connection, row_id: int, *, owner: str, error: str) -> None:
    connection.execute(
        update(inbox)
        .where(_owned(row_id, owner))
        .values(status="dead", lease_owner=None, lease_until=None, last_error=error)
    )


def replay_dead(
    connection: Connection, *, now: datetime, source: str | None = None, event_id: str | None = None
) -> int:
    """Put dead-lettered rows back in the queue (after the cause was fixed). Returns how many."""
    conditions = [inbox.c.status == "dead", inbox.c.purged_at.is_(None)]  # a purged one has no content
    if source:
        conditions.append(inbox.c.source == source)
    if event_id:
        conditions.append(inbox.c.event_id == event_id)
    result = connection.execute(
        update(inbox).where(and_(*conditions)).values(status="pending", attempts=0, next_attempt_at=now)
    )
    return result.rowcount or 0


def event_status(connection: Connection, source: str, event_id: str) -> dict[str, Any] | None:
    row = connection.execute(
        select(inbox).where(and_(inbox.c.source == source, inbox.c.event_id == event_id))
    ).first()
    if row is None:
        return None
    links = connection.execute(select(event_links).where(event_links.c.inbox_id == row.id)).all()
    return {
        "event_id": row.event_id,
        "source": row.source,
        "status": PUBLIC_STATUS[row.status],
        "customer_key": row.customer_key,
        "episode_id": row.episode_id,
        "disposition": row.disposition,
        "config_version": row.config_version,  # the admin configuration version it was linked with
        "attempts": row.attempts,
        "last_error": row.last_error,
        "received_at": row.received_at.isoformat(),
        "linked_at": row.linked_at.isoformat() if row.linked_at else None,
        "links": [
            item
            for link in links
            for item in (
                {
                    "crm": link.crm,
                    "object": link.case_object,
                    "id": link.case_id,
                    "created": link.case_created,
                },
                {
                    "crm": link.crm,
                    "object": link.activity_object,
                    "id": link.activity_id,
                    "created": link.activity_created,
                },
            )
        ],
    }


def counts_by_status(connection: Connection) -> dict[str, int]:
    rows = connection.execute(select(inbox.c.status, func.count()).group_by(inbox.c.status)).all()
    return {status: count for status, count in rows}


def dead_letters(connection: Connection, limit: int = 100) -> list[dict[str, Any]]:
    rows = connection.execute(
        select(inbox.c.source, inbox.c.event_id, inbox.c.attempts, inbox.c.last_error, inbox.c.received_at)
        .where(inbox.c.status == "dead")
        .order_by(inbox.c.id)
        .limit(limit)
    ).all()
    return [dict(row._mapping) for row in rows]
