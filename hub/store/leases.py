"""Named leases: which process holds a role (the scheduler's leadership) and until when.

A row per name; a process takes it when it is free or its lease ran out, and renews it while it
holds it. Used on SQLite, where there is no session-level lock that a dead process releases by
itself; on PostgreSQL the scheduler uses an advisory lock instead (``hub.services.leader``).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Column, Connection, String, Table, and_, case, delete, or_, select, update

from hub.store.sql import insert_ignoring_conflicts
from hub.store.tables import UTCDateTime, metadata

leases = Table(
    "leases",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("owner", String(200), nullable=False),
    Column("expires_at", UTCDateTime(), nullable=False),
    Column("acquired_at", UTCDateTime(), nullable=False),
)


def acquire(connection: Connection, name: str, *, owner: str, now: datetime, ttl: timedelta) -> bool:
    """Take or renew ``name`` for ``owner`` until ``now + ttl``; False when another owner holds it."""
    renewed = connection.execute(
        update(leases)
        .where(
            and_(leases.c.name == name, or_(leases.c.owner == owner, leases.c.expires_at <= now)),
        )
        # A takeover restarts acquired_at; a renewal keeps it (SET reads the row's old values).
        .values(
            owner=owner,
            expires_at=now + ttl,
            acquired_at=case((leases.c.owner == owner, leases.c.acquired_at), else_=now),
        )
    ).rowcount
    if renewed:
        return True
    inserted = insert_ignoring_conflicts(
        connection,
        leases,
        {"name": name, "owner": owner, "expires_at": now + ttl, "acquired_at": now},
        ["name"],
    )
    return inserted == 1


def release(connection: Connection, name: str, *, owner: str) -> None:
    connection.execute(delete(leases).where(and_(leases.c.name == name, leases.c.owner == owner)))


def holder(connection: Connection, name: str, *, now: datetime) -> str | None:
    row = connection.execute(
        select(leases.c.owner).where(and_(leases.c.name == name, leases.c.expires_at > now))
    ).first()
    return row.owner if row else None
