"""Recovery persistence: plans, attempts and their claims, episode facts, the trail and the CRM outbox.

Claims are leases, as in ``hub.store.inbox``: on PostgreSQL due rows are selected ``FOR UPDATE SKIP
LOCKED`` so several schedulers never wait on (or claim) each other's rows; on SQLite (one writer at a
time) a plain transaction does the same job. A claim whose process died is claimed again once its
lease has passed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from hub.domain.consent import CRM_SOURCE_PREFIX, ConsentDecision, standing
from hub.store.consent import ledger_forms
from hub.store.recovery_tables import (
    recovery_attempts,
    recovery_audit,
    recovery_customers,
    recovery_episodes,
    recovery_plans,
    recovery_sms_status,
    recovery_writebacks,
)
from hub.store.sql import insert_ignoring_conflicts
from hub.store.tables import consent_ledger, episodes

LIVE = ("pending", "claimed")
# A paused plan (an agent's hold) is still open: the customer coming back, the case closing or an
# agent's cancel ends it like any other; its held attempts are "paused", which no claim picks.
OPEN_PLANS = ("recorded", "active", "paused")
WAITING = ("pending", "paused")  # attempts not yet made, whether due or held
# Attempts that count as a touch of the customer (a claimed one is being made now).
TOUCHED = ("claimed", "sent", "failed")


@dataclass(frozen=True)
class Plan:
    id: int
    trigger_key: str
    episode_id: str
    customer_key: str
    source: str
    event_id: str
    channel: str
    intent: str
    outcome: str
    occurred_at: datetime
    phone: str | None
    email: str | None
    postal_state: str | None
    customer_name: str | None
    external_ids: dict[str, str]
    status: str
    policy: str | None
    purpose: str | None
    steps: dict[str, Any] | None
    next_step: int
    expires_at: datetime | None
    close_reason: str | None = None


@dataclass(frozen=True)
class Attempt:
    id: int
    key: str
    plan_id: int
    episode_id: str
    customer_key: str
    step: int
    action: str
    channel: str
    address: str | None
    planned_for: datetime
    due_at: datetime
    status: str
    claims: int
    reschedules: int
    send_started: bool
    touched_at: datetime | None
    case_id: str | None = None  # a task ticket's id (Zendesk), once made


def _plan(row: Any) -> Plan:
    values = row._mapping
    return Plan(
        **{name: values[name] for name in Plan.__dataclass_fields__ if name not in ("external_ids", "steps")},
        external_ids=json.loads(values["external_ids"] or "{}"),
        steps=json.loads(values["steps"]) if values["steps"] else None,
    )


def _attempt(row: Any) -> Attempt:
    values = row._mapping
    return Attempt(**{name: values[name] for name in Attempt.__dataclass_fields__})


def _skip_locked(connection: Connection, query: Any) -> Any:
    return query.with_for_update(skip_locked=True) if connection.dialect.name == "postgresql" else query


# --- plans ------------------------------------------------------------------------------------------


def record_plan(connection: Connection, values: dict[str, Any]) -> bool:
    """Record a recovery-eligible outcome once (False for a replayed event)."""
    return insert_ignoring_conflicts(connection, recovery_plans, values, ["trigger_key"]) == 1


def ensure_customer(connection: Connection, customer_key: str, now: datetime) -> None:
    insert_ignoring_conflicts(
        connection, recovery_customers, {"customer_key": customer_key, "created_at": now}, ["customer_key"]
    )


def get_plan(connection: Connection, plan_id: int) -> Plan:
    return _plan(connection.execute(select(recovery_plans).where(recovery_plans.c.id == plan_id)).one())


def get_plans(connection: Connection, plan_ids: Iterable[int]) -> dict[int, Plan]:
    ids = sorted(set(plan_ids))
    rows = connection.execute(select(recovery_plans).where(recovery_plans.c.id.in_(ids))).all() if ids else []
    return {row.id: _plan(row) for row in rows}


def plans_of_episode(connection: Connection, episode_id: str) -> list[Plan]:
    rows = connection.execute(
        select(recovery_plans).where(recovery_plans.c.episode_id == episode_id).order_by(recovery_plans.c.id)
    ).all()
    return [_plan(row) for row in rows]


def claim_recorded(connection: Connection, limit: int) -> list[Plan]:
    """Plans recorded but not yet planned, oldest first (each ours alone on PostgreSQL)."""
    query = (
        select(recovery_plans)
        .where(recovery_plans.c.status == "recorded")
        .order_by(recovery_plans.c.id)
        .limit(limit)
    )
    return [_plan(row) for row in connection.execute(_skip_locked(connection, query)).all()]


def update_plan(connection: Connection, plan_id: int, **values: Any) -> None:
    if "steps" in values and not isinstance(values["steps"], str | None):
        values["steps"] = json.dumps(values["steps"])
    connection.execute(update(recovery_plans).where(recovery_plans.c.id == plan_id).values(**values))


def open_plans(connection: Connection, episode_id: str, before: datetime | None = None) -> list[Plan]:
    conditions = [recovery_plans.c.episode_id == episode_id, recovery_plans.c.status.in_(OPEN_PLANS)]
    if before is not None:
        conditions.append(recovery_plans.c.occurred_at < before)
    rows = connection.execute(select(recovery_plans).where(and_(*conditions)).order_by(recovery_plans.c.id))
    return [_plan(row) for row in rows.all()]


def done_plans(connection: Connection, episode_id: str, before: datetime | None = None) -> list[Plan]:
    conditions = [recovery_plans.c.episode_id == episode_id, recovery_plans.c.status == "done"]
    if before is not None:
        conditions.append(recovery_plans.c.occurred_at < before)
    rows = connection.execute(select(recovery_plans).where(and_(*conditions)).order_by(recovery_plans.c.id))
    return [_plan(row) for row in rows.all()]


# --- episode facts -------------------------------------------------------------------------------


@dataclass(frozen=True)
class EpisodeFacts:
    last_contact_at: datetime | None = None
    resolved_at: datetime | None = None
    closed_at: datetime | None = None
    closed_reason: str | None = None


def note_episode(connection: Connection, episode_id: str, **values: datetime | str | None) -> None:
    """Record a fact of an episode; a time only moves forward (``last_contact_at``, ``resolved_at``)."""
    dialect = postgresql if connection.dialect.name == "postgresql" else sqlite
    statement = dialect.insert(recovery_episodes).values(episode_id=episode_id, **values)
    table = recovery_episodes.c
    updates: dict[str, Any] = {}
    for name, value in values.items():
        if value is None:
            continue
        column = getattr(table, name)
        if name in ("last_contact_at", "resolved_at"):
            updates[name] = func.coalesce(
                func.max(column, statement.excluded[name])
                if connection.dialect.name == "sqlite"
                else func.greatest(column, statement.excluded[name]),
                statement.excluded[name],
            )
        else:
            updates[name] = func.coalesce(column, statement.excluded[name])
    if updates:
        statement = statement.on_conflict_do_update(index_elements=["episode_id"], set_=updates)
    else:
        statement = statement.on_conflict_do_nothing(index_elements=["episode_id"])
    connection.execute(statement)


def facts_of_episodes(connection: Connection, episode_ids: Iterable[str]) -> dict[str, EpisodeFacts]:
    """For each episode: its recovery facts, and whether the episode itself is open (``open``)."""
    ids = sorted(set(episode_ids))
    if not ids:
        return {}
    rows = connection.execute(select(recovery_episodes).where(recovery_episodes.c.episode_id.in_(ids))).all()
    found = {
        row.episode_id: EpisodeFacts(row.last_contact_at, row.resolved_at, row.closed_at, row.closed_reason)
        for row in rows
    }
    return {episode_id: found.get(episode_id, EpisodeFacts()) for episode_id in ids}


def open_episodes(connection: Connection, episode_ids: Iterable[str]) -> set[str]:
    ids = sorted(set(episode_ids))
    if not ids:
        return set()
    query = select(episodes.c.id).where(and_(episodes.c.id.in_(ids), episodes.c.status == "open"))
    return set(connection.execute(query).scalars())


def standing_consents(
    connection: Connection, pairs: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], ConsentDecision | None]:
    """The consent in force for each (channel, address) (``hub.domain.consent.standing``)."""
    wanted = set(pairs)
    if not wanted:
        return {}
    forms = ledger_forms({address for _, address in wanted})  # erased forms too (forgotten people)
    rows = connection.execute(select(consent_ledger).where(consent_ledger.c.address.in_(sorted(forms)))).all()
    decisions: dict[tuple[str, str], list[ConsentDecision]] = {}
    for r in rows:
        address = forms[r.address]
        if (r.channel, address) in wanted:
            decision = ConsentDecision(r.channel, address, r.granted, r.decided_at, r.source, r.evidence)
            decisions.setdefault((r.channel, address), []).append(decision)
    return {pair: standing(decisions.get(pair, ())) for pair in wanted}


def crm_flag_decisions(
    connection: Connection, pairs: Iterable[tuple[str, str]]
) -> dict[tuple[str, str], list[ConsentDecision]]:
    """Every CRM flag decision (source ``crm:...``) for each (channel, address), oldest first."""
    wanted = set(pairs)
    if not wanted:
        return {}
    rows = connection.execute(
        select(consent_ledger)
        .where(
            and_(
                consent_ledger.c.address.in_(sorted({address for _, address in wanted})),
                consent_ledger.c.source.like(f"{CRM_SOURCE_PREFIX}%"),
            )
        )
        .order_by(consent_ledger.c.decided_at, consent_ledger.c.id)
    ).all()
    found: dict[tuple[str, str], list[ConsentDecision]] = {pair: [] for pair in wanted}
    for r in rows:
        if (r.channel, r.address) in wanted:
            decision = ConsentDecision(r.channel, r.address, r.granted, r.decided_at, r.source, r.evidence)
            found[(r.channel, r.address)].append(decision)
    return found


def touches_by(
    connection: Connection, column: str, keys: Iterable[str], since: datetime | None = None
) -> dict[str, list[tuple[int, datetime]]]:
    """Touches (attempt id, when) per customer (``column="customer_key"``) or episode (``"episode_id"``)."""
    ids = sorted(set(keys))
    if not ids:
        return {}
    table = recovery_attempts.c
    key = getattr(table, column)
    conditions = [key.in_(ids), table.touched_at.is_not(None), table.status.in_(TOUCHED)]
    if since is not None:
        conditions.append(table.touched_at > since)
    out: dict[str, list[tuple[int, datetime]]] = {k: [] for k in ids}
    for row in connection.execute(select(key, table.id, table.touched_at).where(and_(*conditions))).all():
        out[row[0]].append((row[1], row[2]))
    return out


def episode_facts(connection: Connection, episode_id: str) -> EpisodeFacts:
    row = connection.execute(
        select(recovery_episodes).where(recovery_episodes.c.episode_id == episode_id)
    ).first()
    if row is None:
        return EpisodeFacts()
    return EpisodeFacts(row.last_contact_at, row.resolved_at, row.closed_at, row.closed_reason)


# --- attempts -------------------------------------------------------------------------------------


def insert_attempt(connection: Connection, values: dict[str, Any]) -> int | None:
    """Insert a pending attempt; None when the episode already has a live one (the unique index)."""
    savepoint = connection.begin_nested()
    try:
        result = connection.execute(recovery_attempts.insert().values(**values))
        savepoint.commit()
    except IntegrityError:
        savepoint.rollback()
        return None
    return int(result.inserted_primary_key[0])


def claim_due(
    connection: Connection, *, owner: str, now: datetime, until: datetime, limit: int
) -> list[Attempt]:
    """Lease up to ``limit`` attempts that are due, or whose claim expired (a dead process's)."""
    table = recovery_attempts.c
    due = select(table.id).where(and_(table.status == "pending", table.due_at <= now))
    ids = list(
        connection.execute(_skip_locked(connection, due.order_by(table.due_at).limit(limit))).scalars()
    )
    if len(ids) < limit:
        expired = select(table.id).where(and_(table.status == "claimed", table.lease_until < now))
        query = _skip_locked(connection, expired.order_by(table.lease_until).limit(limit - len(ids)))
        ids += list(connection.execute(query).scalars())
    if not ids:
        return []
    connection.execute(
        update(recovery_attempts)
        .where(table.id.in_(ids))
        .values(status="claimed", lease_owner=owner, lease_until=until, claims=table.claims + 1)
    )
    rows = connection.execute(
        select(recovery_attempts).where(table.id.in_(ids)).order_by(table.due_at, table.id)
    )
    return [_attempt(row) for row in rows.all()]


def still_claimed(connection: Connection, attempt_ids: Sequence[int], owner: str) -> list[Attempt]:
    """The attempts among ``attempt_ids`` that ``owner``'s claim still holds (locked on PostgreSQL)."""
    if not attempt_ids:
        return []
    table = recovery_attempts.c
    query = (
        select(recovery_attempts)
        .where(and_(table.id.in_(list(attempt_ids)), table.status == "claimed", table.lease_owner == owner))
        .order_by(table.due_at, table.id)
    )
    if connection.dialect.name == "postgresql":
        query = query.with_for_update()
    return [_attempt(row) for row in connection.execute(query).all()]


def lock_customers(connection: Connection, customer_keys: Iterable[str]) -> None:
    """Serialize cap checks per customer: lock their rows, in key order (no deadlock between ticks)."""
    keys = sorted(set(customer_keys))
    if not keys or connection.dialect.name != "postgresql":
        return
    connection.execute(
        select(recovery_customers.c.customer_key)
        .where(recovery_customers.c.customer_key.in_(keys))
        .order_by(recovery_customers.c.customer_key)
        .with_for_update()
    ).all()


def get_attempt(connection: Connection, attempt_id: int) -> Attempt:
    return _attempt(
        connection.execute(select(recovery_attempts).where(recovery_attempts.c.id == attempt_id)).one()
    )


def update_attempt(
    connection: Connection, attempt_id: int, *, owner: str | None = None, **values: Any
) -> bool:
    """Update an attempt; with ``owner``, only while that claim holds it (False when it was lost)."""
    if "guards" in values and not isinstance(values["guards"], str | None):
        values["guards"] = json.dumps(values["guards"])
    condition = recovery_attempts.c.id == attempt_id
    if owner is not None:
        condition = and_(
            condition, recovery_attempts.c.status == "claimed", recovery_attempts.c.lease_owner == owner
        )
    result = connection.execute(update(recovery_attempts).where(condition).values(**values))
    return (result.rowcount or 0) == 1


def episode_touches(connection: Connection, episode_id: str, *, exclude: int | None = None) -> list[datetime]:
    table = recovery_attempts.c
    conditions = [table.episode_id == episode_id, table.touched_at.is_not(None), table.status.in_(TOUCHED)]
    if exclude is not None:
        conditions.append(table.id != exclude)
    return list(connection.execute(select(table.touched_at).where(and_(*conditions))).scalars())


def customer_touches(
    connection: Connection, customer_key: str, since: datetime, *, exclude: int | None = None
) -> list[datetime]:
    table = recovery_attempts.c
    conditions = [
        table.customer_key == customer_key,
        table.touched_at > since,
        table.status.in_(TOUCHED),
    ]
    if exclude is not None:
        conditions.append(table.id != exclude)
    return list(connection.execute(select(table.touched_at).where(and_(*conditions))).scalars())


def pending_of_plans(connection: Connection, plan_ids: Sequence[int]) -> list[Attempt]:
    if not plan_ids:
        return []
    rows = connection.execute(
        select(recovery_attempts).where(
            and_(recovery_attempts.c.plan_id.in_(plan_ids), recovery_attempts.c.status.in_(WAITING))
        )
    )
    return [_attempt(row) for row in rows.all()]


def tasks_of_plans(connection: Connection, plan_ids: Sequence[int]) -> list[Attempt]:
    """Callback and email tasks already made for these plans (an agent may still act on them)."""
    if not plan_ids:
        return []
    table = recovery_attempts.c
    rows = connection.execute(
        select(recovery_attempts).where(
            and_(table.plan_id.in_(plan_ids), table.status == "sent", table.action.in_(("callback", "email")))
        )
    )
    return [_attempt(row) for row in rows.all()]


def attempts_of_plan(connection: Connection, plan_id: int) -> list[Attempt]:
    rows = connection.execute(
        select(recovery_attempts)
        .where(recovery_attempts.c.plan_id == plan_id)
        .order_by(recovery_attempts.c.step)
    )
    return [_attempt(row) for row in rows.all()]


def attempt_by_provider(connection: Connection, provider_id: str) -> Attempt | None:
    """The attempt whose provider message id (Twilio MessageSid) this is, if any."""
    row = connection.execute(
        select(recovery_attempts).where(recovery_attempts.c.provider_id == provider_id)
    ).first()
    return _attempt(row) if row is not None else None


# --- delivery statuses of texts -------------------------------------------------------------------


@dataclass(frozen=True)
class SmsStatus:
    message_sid: str
    status: str
    rank: int
    error_code: str | None
    updated_at: datetime


def record_sms_status(
    connection: Connection, message_sid: str, status: str, rank: int, error_code: str | None, *, at: datetime
) -> bool:
    """Keep ``status`` for the message when it moves it forward (a higher ``rank``); True when kept.

    Redeliveries and statuses that arrive out of order (a "sent" after "delivered") change nothing.
    """
    table = recovery_sms_status.c
    values = {"status": status, "rank": rank, "error_code": error_code, "updated_at": at}
    row = {"message_sid": message_sid, "first_at": at, **values}
    if insert_ignoring_conflicts(connection, recovery_sms_status, row, ["message_sid"]) == 1:
        return True
    result = connection.execute(
        update(recovery_sms_status)
        .where(and_(table.message_sid == message_sid, table.rank < rank))
        .values(**values)
    )
    return (result.rowcount or 0) == 1


def lock_message(connection: Connection, message_sid: str) -> None:
    """Serialize, until the transaction ends, whatever records one text's delivery (PostgreSQL;
    SQLite has one writer at a time anyway): see ``hub.services.recovery.delivery``."""
    if connection.dialect.name != "postgresql":
        return
    digest = hashlib.sha256(f"recovery_sms:{message_sid}".encode()).digest()
    connection.execute(select(func.pg_advisory_xact_lock(int.from_bytes(digest[:8], "big", signed=True))))


def sms_status(connection: Connection, message_sid: str) -> SmsStatus | None:
    row = connection.execute(
        select(recovery_sms_status).where(recovery_sms_status.c.message_sid == message_sid)
    ).first()
    if row is None:
        return None
    return SmsStatus(row.message_sid, row.status, row.rank, row.error_code, row.updated_at)


def all_attempts(connection: Connection) -> list[dict[str, Any]]:
    rows = connection.execute(select(recovery_attempts).order_by(recovery_attempts.c.id)).all()
    return [dict(row._mapping) for row in rows]


# --- the trail and the CRM outbox -------------------------------------------------------------------


def audit(
    connection: Connection,
    *,
    at: datetime,
    plan_id: int,
    episode_id: str,
    event: str,
    attempt_id: int | None = None,
    reason: str | None = None,
    detail: str | None = None,
    guards: list[dict[str, Any]] | None = None,
    actor: str | None = None,
) -> None:
    connection.execute(
        recovery_audit.insert().values(
            at=at,
            plan_id=plan_id,
            attempt_id=attempt_id,
            episode_id=episode_id,
            event=event,
            reason=reason,
            detail=detail,
            guards=json.dumps(guards) if guards is not None else None,
            actor=actor,
        )
    )


def trail(
    connection: Connection, *, episode_id: str | None = None, attempt_id: int | None = None
) -> list[dict]:
    query = select(recovery_audit).order_by(recovery_audit.c.id)
    if episode_id is not None:
        query = query.where(recovery_audit.c.episode_id == episode_id)
    if attempt_id is not None:
        query = query.where(recovery_audit.c.attempt_id == attempt_id)
    return [dict(row._mapping) for row in connection.execute(query).all()]


@dataclass(frozen=True)
class Writeback:
    id: int
    key: str
    attempt_id: int
    episode_id: str
    result: str
    disposition: str
    subject: str
    body: str
    tries: int


def add_writeback(connection: Connection, values: dict[str, Any]) -> bool:
    return insert_ignoring_conflicts(connection, recovery_writebacks, values, ["key"]) == 1


def has_writeback(connection: Connection, key: str) -> bool:
    query = select(recovery_writebacks.c.id).where(recovery_writebacks.c.key == key)
    return connection.execute(query).first() is not None


def claim_writebacks(
    connection: Connection, *, now: datetime, until: datetime, limit: int
) -> list[Writeback]:
    table = recovery_writebacks.c
    due = and_(
        table.status == "pending",
        table.due_at <= now,
        or_(table.lease_until.is_(None), table.lease_until < now),
    )
    ids = list(
        connection.execute(
            _skip_locked(connection, select(table.id).where(due).order_by(table.due_at).limit(limit))
        ).scalars()
    )
    if not ids:
        return []
    connection.execute(
        update(recovery_writebacks).where(table.id.in_(ids)).values(lease_until=until, tries=table.tries + 1)
    )
    rows = connection.execute(select(recovery_writebacks).where(table.id.in_(ids)).order_by(table.id)).all()
    return [
        Writeback(**{name: row._mapping[name] for name in Writeback.__dataclass_fields__}) for row in rows
    ]


def finish_writeback(connection: Connection, writeback_id: int, **values: Any) -> None:
    connection.execute(
        update(recovery_writebacks).where(recovery_writebacks.c.id == writeback_id).values(**values)
    )


def writebacks(connection: Connection, attempt_id: int | None = None) -> list[dict[str, Any]]:
    query = select(recovery_writebacks).order_by(recovery_writebacks.c.id)
    if attempt_id is not None:
        query = query.where(recovery_writebacks.c.attempt_id == attempt_id)
    return [dict(row._mapping) for row in connection.execute(query).all()]


# --- reading for status and metrics ---------------------------------------------------------------------


def count_by(connection: Connection, table: Any, *columns: str, where: Any = None) -> dict[Any, int]:
    cols = [getattr(table.c, name) for name in columns]
    query = select(*cols, func.count()).group_by(*cols)
    if where is not None:
        query = query.where(where)
    out: dict[Any, int] = {}
    for row in connection.execute(query).all():
        key = row[0] if len(cols) == 1 else tuple(row[: len(cols)])
        out[key] = row[-1]
    return out
