"""The sandbox's own tables (prefix ``sandbox_``, own ``MetaData``) and record storage.

Ids come from database autoincrement; uniqueness the real services enforce (Salesforce unique
External ID fields, Zendesk user emails and external ids, idempotency keys) is enforced here by
UNIQUE constraints, so two processes racing on the same key end with one row: the loser's
transaction fails with an ``IntegrityError`` and ``run_transaction`` replays the whole request,
which then finds the winner's row.

Every public function takes an open ``Connection``; one API request is one transaction.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable, Iterable
from typing import Any, TypeVar

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    Engine,
    Float,
    Integer,
    MetaData,
    String,
    Table,
    UniqueConstraint,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError, IntegrityError, OperationalError

T = TypeVar("T")

PREFIX = "sandbox_"

metadata = MetaData()

sf_records = Table(
    f"{PREFIX}sf_records",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("sobject", String(40), nullable=False, index=True),
    Column("data", JSON, nullable=False),
    sqlite_autoincrement=True,
)

# One row per (record, lookup field) for fields usable as upsert keys. ``slot`` is 0 for unique
# fields (so the UNIQUE constraint bites) and the record's pk for non-unique ones (never collides).
sf_keys = Table(
    f"{PREFIX}sf_keys",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("sobject", String(40), nullable=False),
    Column("field", String(80), nullable=False),
    Column("value", String(255), nullable=False),
    Column("record_pk", Integer, nullable=False, index=True),
    Column("slot", Integer, nullable=False),
    UniqueConstraint("sobject", "field", "value", "slot", name=f"{PREFIX}sf_keys_unique"),
    sqlite_autoincrement=True,
)

zd_users = Table(
    f"{PREFIX}zd_users",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("email", String(255), unique=True, nullable=True),
    Column("external_id", String(255), unique=True, nullable=True),
    Column("data", JSON, nullable=False),
    sqlite_autoincrement=True,
)

zd_tickets = Table(
    f"{PREFIX}zd_tickets",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("external_id", String(255), nullable=True, index=True),
    Column("requester_pk", Integer, nullable=True, index=True),
    Column("data", JSON, nullable=False),
    sqlite_autoincrement=True,
)

zd_comments = Table(
    f"{PREFIX}zd_comments",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("ticket_pk", Integer, nullable=False, index=True),
    Column("data", JSON, nullable=False),
    sqlite_autoincrement=True,
)

zd_audits = Table(
    f"{PREFIX}zd_audits",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("ticket_pk", Integer, nullable=False, index=True),
    Column("data", JSON, nullable=False),
    sqlite_autoincrement=True,
)

zd_jobs = Table(
    f"{PREFIX}zd_jobs",
    metadata,
    Column("pk", Integer, primary_key=True, autoincrement=True),
    Column("job_id", String(64), nullable=False, unique=True),
    Column("data", JSON, nullable=False),
    sqlite_autoincrement=True,
)

zd_idempotency = Table(
    f"{PREFIX}zd_idempotency",
    metadata,
    Column("key", String(255), primary_key=True),
    Column("fingerprint", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("response", JSON, nullable=False),
)

ALL_TABLES = (sf_keys, sf_records, zd_comments, zd_audits, zd_jobs, zd_idempotency, zd_tickets, zd_users)


class Rollback(Exception):
    """Raised inside a transaction to roll it back and still answer ``result``."""

    def __init__(self, result: Any) -> None:
        super().__init__("rollback")
        self.result = result


def _transient(exc: DBAPIError) -> bool:
    """Lock contention or serialization failures: the same request may succeed when replayed."""
    if isinstance(exc, IntegrityError):
        return True
    sqlstate = getattr(getattr(exc, "orig", None), "sqlstate", None)
    if sqlstate in ("40001", "40P01", "55P03"):
        return True
    text = str(getattr(exc, "orig", exc)).lower()
    return isinstance(exc, OperationalError) and ("locked" in text or "busy" in text)


def run_transaction(engine: Engine, fn: Callable[[Connection], T], *, attempts: int = 50) -> T:
    """Run ``fn`` in one transaction, replaying it on unique-key races and lock contention."""
    for attempt in range(attempts):
        try:
            with engine.begin() as conn:
                return fn(conn)
        except Rollback as rb:
            return rb.result
        except DBAPIError as exc:
            if attempt == attempts - 1 or not _transient(exc):
                raise
            if not isinstance(exc, IntegrityError):
                # Back off a little (with jitter) before competing for the lock again.
                time.sleep(min(0.05, 0.001 * (2 ** min(attempt, 6))) * (0.5 + random.random()))
    raise AssertionError("unreachable")


def ensure_schema(engine: Engine) -> None:
    """Create the sandbox tables that do not exist yet (safe to call from racing processes)."""
    for attempt in range(5):
        try:
            metadata.create_all(engine, checkfirst=True)
            return
        except DBAPIError:
            # Another process created a table between our check and our CREATE: look again.
            if attempt == 4:
                raise


def reset(conn: Connection) -> None:
    for table in ALL_TABLES:
        conn.execute(delete(table))


# --------------------------------------------------------------------------------------------
# Salesforce records
# --------------------------------------------------------------------------------------------


def sf_insert(conn: Connection, sobject: str, data: dict[str, Any]) -> int:
    result = conn.execute(insert(sf_records).values(sobject=sobject, data=data))
    return int(result.inserted_primary_key[0])


def sf_get(conn: Connection, pk: int) -> tuple[str, dict[str, Any]] | None:
    row = conn.execute(select(sf_records.c.sobject, sf_records.c.data).where(sf_records.c.pk == pk)).first()
    return (row.sobject, dict(row.data)) if row else None


def sf_update(conn: Connection, pk: int, data: dict[str, Any]) -> None:
    conn.execute(update(sf_records).where(sf_records.c.pk == pk).values(data=data))


def sf_delete(conn: Connection, pk: int) -> None:
    conn.execute(delete(sf_keys).where(sf_keys.c.record_pk == pk))
    conn.execute(delete(sf_records).where(sf_records.c.pk == pk))


def sf_all(conn: Connection, sobject: str) -> list[tuple[int, dict[str, Any]]]:
    rows = conn.execute(
        select(sf_records.c.pk, sf_records.c.data)
        .where(sf_records.c.sobject == sobject)
        .order_by(sf_records.c.pk)
    )
    return [(row.pk, dict(row.data)) for row in rows]


def sf_exists(conn: Connection, pk: int, sobjects: Iterable[str]) -> bool:
    row = conn.execute(
        select(sf_records.c.pk).where(sf_records.c.pk == pk, sf_records.c.sobject.in_(list(sobjects)))
    ).first()
    return row is not None


def sf_find_key(conn: Connection, sobject: str, field: str, value: str) -> list[int]:
    rows = conn.execute(
        select(sf_keys.c.record_pk)
        .where(sf_keys.c.sobject == sobject, sf_keys.c.field == field, sf_keys.c.value == _norm(value))
        .order_by(sf_keys.c.record_pk)
    )
    return [row.record_pk for row in rows]


def sf_set_key(conn: Connection, sobject: str, field: str, pk: int, value: Any, *, unique: bool) -> None:
    """Point ``field``'s lookup row for record ``pk`` at ``value`` (None removes it)."""
    conn.execute(delete(sf_keys).where(sf_keys.c.record_pk == pk, sf_keys.c.field == field))
    if value is None or value == "":
        return
    conn.execute(
        insert(sf_keys).values(
            sobject=sobject, field=field, value=_norm(str(value)), record_pk=pk, slot=0 if unique else pk
        )
    )


def _norm(value: str) -> str:
    return value.strip().lower()[:255]


# --------------------------------------------------------------------------------------------
# Zendesk records
# --------------------------------------------------------------------------------------------


def zd_user_insert(conn: Connection, data: dict[str, Any]) -> int:
    result = conn.execute(
        insert(zd_users).values(
            email=_norm_opt(data.get("email")), external_id=_norm_opt(data.get("external_id")), data=data
        )
    )
    return int(result.inserted_primary_key[0])


def zd_user_update(conn: Connection, pk: int, data: dict[str, Any]) -> None:
    conn.execute(
        update(zd_users)
        .where(zd_users.c.pk == pk)
        .values(email=_norm_opt(data.get("email")), external_id=_norm_opt(data.get("external_id")), data=data)
    )


def zd_user_get(conn: Connection, pk: int) -> dict[str, Any] | None:
    row = conn.execute(select(zd_users.c.data).where(zd_users.c.pk == pk)).first()
    return dict(row.data) if row else None


def zd_user_find(conn: Connection, *, email: str | None = None, external_id: str | None = None) -> int | None:
    if email:
        row = conn.execute(select(zd_users.c.pk).where(zd_users.c.email == _norm(email))).first()
        if row:
            return int(row.pk)
    if external_id:
        row = conn.execute(select(zd_users.c.pk).where(zd_users.c.external_id == _norm(external_id))).first()
        if row:
            return int(row.pk)
    return None


def zd_users_all(conn: Connection) -> list[tuple[int, dict[str, Any]]]:
    return [(row.pk, dict(row.data)) for row in conn.execute(select(zd_users).order_by(zd_users.c.pk))]


def zd_ticket_insert(conn: Connection, data: dict[str, Any], requester_pk: int | None) -> int:
    result = conn.execute(
        insert(zd_tickets).values(external_id=data.get("external_id"), requester_pk=requester_pk, data=data)
    )
    return int(result.inserted_primary_key[0])


def zd_ticket_update(conn: Connection, pk: int, data: dict[str, Any], requester_pk: int | None) -> None:
    conn.execute(
        update(zd_tickets)
        .where(zd_tickets.c.pk == pk)
        .values(external_id=data.get("external_id"), requester_pk=requester_pk, data=data)
    )


def zd_ticket_get(conn: Connection, pk: int) -> dict[str, Any] | None:
    row = conn.execute(select(zd_tickets.c.data).where(zd_tickets.c.pk == pk)).first()
    return dict(row.data) if row else None


def zd_tickets_where(
    conn: Connection,
    *,
    external_id: str | None = None,
    requester_pk: int | None = None,
    pks: list[int] | None = None,
) -> list[tuple[int, dict[str, Any]]]:
    query = select(zd_tickets.c.pk, zd_tickets.c.data).order_by(zd_tickets.c.pk)
    if external_id is not None:
        query = query.where(zd_tickets.c.external_id == external_id)
    if requester_pk is not None:
        query = query.where(zd_tickets.c.requester_pk == requester_pk)
    if pks is not None:
        query = query.where(zd_tickets.c.pk.in_(pks))
    return [(row.pk, dict(row.data)) for row in conn.execute(query)]


def zd_comment_insert(conn: Connection, ticket_pk: int, data: dict[str, Any]) -> int:
    result = conn.execute(insert(zd_comments).values(ticket_pk=ticket_pk, data=data))
    return int(result.inserted_primary_key[0])


def zd_comments_for(conn: Connection, ticket_pk: int | None) -> list[tuple[int, int, dict[str, Any]]]:
    query = select(zd_comments).order_by(zd_comments.c.pk)
    if ticket_pk is not None:
        query = query.where(zd_comments.c.ticket_pk == ticket_pk)
    return [(row.pk, row.ticket_pk, dict(row.data)) for row in conn.execute(query)]


def zd_audit_insert(conn: Connection, ticket_pk: int, data: dict[str, Any]) -> int:
    result = conn.execute(insert(zd_audits).values(ticket_pk=ticket_pk, data=data))
    return int(result.inserted_primary_key[0])


def zd_audit_set(conn: Connection, pk: int, data: dict[str, Any]) -> None:
    conn.execute(update(zd_audits).where(zd_audits.c.pk == pk).values(data=data))


def zd_audits_for(conn: Connection, ticket_pk: int | None) -> list[tuple[int, int, dict[str, Any]]]:
    query = select(zd_audits).order_by(zd_audits.c.pk)
    if ticket_pk is not None:
        query = query.where(zd_audits.c.ticket_pk == ticket_pk)
    return [(row.pk, row.ticket_pk, dict(row.data)) for row in conn.execute(query)]


def zd_job_insert(conn: Connection, job_id: str, data: dict[str, Any]) -> None:
    conn.execute(insert(zd_jobs).values(job_id=job_id, data=data))


def zd_job_get(conn: Connection, job_id: str) -> dict[str, Any] | None:
    row = conn.execute(select(zd_jobs.c.data).where(zd_jobs.c.job_id == job_id)).first()
    return dict(row.data) if row else None


def zd_jobs_all(conn: Connection) -> list[dict[str, Any]]:
    return [dict(row.data) for row in conn.execute(select(zd_jobs.c.data).order_by(zd_jobs.c.pk))]


def zd_idempotency_get(conn: Connection, key: str) -> tuple[str, float, dict[str, Any]] | None:
    row = conn.execute(select(zd_idempotency).where(zd_idempotency.c.key == key)).first()
    return (row.fingerprint, row.created_at, dict(row.response)) if row else None


def zd_idempotency_put(
    conn: Connection,
    key: str,
    fingerprint: str,
    created_at: float,
    response: dict[str, Any],
    *,
    expired_before: float,
) -> None:
    conn.execute(
        delete(zd_idempotency).where(
            zd_idempotency.c.key == key, zd_idempotency.c.created_at < expired_before
        )
    )
    conn.execute(
        insert(zd_idempotency).values(
            key=key, fingerprint=fingerprint, created_at=created_at, response=response
        )
    )


def _norm_opt(value: Any) -> str | None:
    if value is None or str(value).strip() == "":
        return None
    return _norm(str(value))
