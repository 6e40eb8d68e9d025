"""The agent panel's reads: everything is reached from one CRM record (a ticket or a case).

Each query is keyed by what the record leads to (its episodes, their customer, that customer's
problem), never by a free search, and each one uses an index (see ``panel_tables``), so assembling
a panel costs the same with a million events stored as with ten.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, func, or_, select

from hub.store.dedup_tables import ambiguous_matches, dedup_audit, dedup_links
from hub.store.deflection_tables import deflection_decisions
from hub.store.panel_tables import disposition_corrections, panel_actions
from hub.store.recovery_tables import recovery_attempts, recovery_audit, recovery_plans
from hub.store.sla_tables import sla_events
from hub.store.tables import customer_identifiers, customers, episode_cases, episodes, inbox

MAX_EPISODES = 50  # a customer's episodes listed beside the current one, newest first
MAX_TRAIL = 500  # events of one episode shown in the trail


@dataclass(frozen=True)
class TrailRow:
    inbox_id: int
    source: str
    event_id: str
    status: str
    disposition: str | None
    payload: dict[str, Any]


def episodes_of_record(connection: Connection, crm: str, case_id: str) -> list[Any]:
    """The episodes whose case/ticket in ``crm`` is this record, newest first (whole rows)."""
    return list(
        connection.execute(
            select(episodes)
            .select_from(episode_cases.join(episodes, episodes.c.id == episode_cases.c.episode_id))
            .where(episode_cases.c.crm == crm, episode_cases.c.case_id == case_id)
            .order_by(episodes.c.opened_at.desc(), episodes.c.id.desc())
        ).all()
    )


def customer_row(connection: Connection, key: str) -> Any:
    return connection.execute(select(customers).where(customers.c.key == key)).first()


def identifiers_of(connection: Connection, key: str) -> list[Any]:
    return list(
        connection.execute(
            select(customer_identifiers)
            .where(customer_identifiers.c.customer_key == key)
            .order_by(customer_identifiers.c.kind, customer_identifiers.c.value)
        ).all()
    )


def open_ambiguities(connection: Connection, key: str) -> list[dict[str, Any]]:
    """Unresolved ambiguous matches that gave an event to this customer."""
    rows = connection.execute(
        select(ambiguous_matches)
        .where(ambiguous_matches.c.assigned_key == key, ambiguous_matches.c.resolved_at.is_(None))
        .order_by(ambiguous_matches.c.id.desc())
        .limit(10)
    ).all()
    return [
        {"reason": r.reason, "at": r.at, "candidates": len(json.loads(r.candidates or "[]"))} for r in rows
    ]


def episodes_of_customer(connection: Connection, key: str) -> list[Any]:
    """The customer's episodes, newest first, each with its case/ticket per CRM (outer join)."""
    recent = (
        select(episodes)
        .where(episodes.c.customer_key == key)
        .order_by(episodes.c.opened_at.desc(), episodes.c.id.desc())
        .limit(MAX_EPISODES)
        .subquery()
    )
    return list(
        connection.execute(
            select(recent, episode_cases.c.crm, episode_cases.c.object, episode_cases.c.case_id)
            .select_from(recent.outerjoin(episode_cases, episode_cases.c.episode_id == recent.c.id))
            .order_by(recent.c.opened_at.desc(), recent.c.id.desc())
        ).all()
    )


def trail(connection: Connection, episode_id: str) -> list[TrailRow]:
    """The episode's linked events (the payload is the event as accepted)."""
    rows = connection.execute(
        select(
            inbox.c.id, inbox.c.source, inbox.c.event_id, inbox.c.status, inbox.c.disposition, inbox.c.payload
        )
        .where(inbox.c.episode_id == episode_id)
        .order_by(inbox.c.id)
        .limit(MAX_TRAIL)
    ).all()
    return [
        TrailRow(r.id, r.source, r.event_id, r.status, r.disposition, json.loads(r.payload)) for r in rows
    ]


def event_of_episode(connection: Connection, episode_id: str, inbox_id: int) -> TrailRow | None:
    row = connection.execute(
        select(
            inbox.c.id, inbox.c.source, inbox.c.event_id, inbox.c.status, inbox.c.disposition, inbox.c.payload
        ).where(inbox.c.id == inbox_id, inbox.c.episode_id == episode_id)
    ).first()
    return (
        TrailRow(row.id, row.source, row.event_id, row.status, row.disposition, json.loads(row.payload))
        if row
        else None
    )


def latest_event(connection: Connection, episode_id: str) -> TrailRow | None:
    inbox_id = connection.execute(
        select(func.max(inbox.c.id)).where(inbox.c.episode_id == episode_id)
    ).scalar()
    return event_of_episode(connection, episode_id, inbox_id) if inbox_id is not None else None


def decisions(connection: Connection, jtis: list[str]) -> dict[str, Any]:
    """Deflection decisions by their token id (what an outcome's ``metadata.deflection_id`` cites)."""
    if not jtis:
        return {}
    rows = connection.execute(
        select(deflection_decisions).where(deflection_decisions.c.jti.in_(sorted(set(jtis))))
    ).all()
    return {r.jti: r for r in rows}


def corrections_of_episode(connection: Connection, episode_id: str) -> dict[int, Any]:
    """The disposition in force for each corrected event of the episode: its latest correction."""
    rows = connection.execute(
        select(disposition_corrections)
        .where(disposition_corrections.c.episode_id == episode_id)
        .order_by(disposition_corrections.c.id)
    ).all()
    return {r.inbox_id: r for r in rows}


def record_correction(connection: Connection, values: dict[str, Any]) -> int:
    result = connection.execute(disposition_corrections.insert().values(**values))
    return int(result.inserted_primary_key[0])


def recovery_plans_of(connection: Connection, episode_id: str) -> list[Any]:
    return list(
        connection.execute(
            select(recovery_plans)
            .where(recovery_plans.c.episode_id == episode_id)
            .order_by(recovery_plans.c.id)
        ).all()
    )


def recovery_attempts_of(connection: Connection, episode_id: str) -> list[Any]:
    return list(
        connection.execute(
            select(recovery_attempts)
            .where(recovery_attempts.c.episode_id == episode_id)
            .order_by(recovery_attempts.c.id)
        ).all()
    )


BLOCK_EVENTS = ("blocked", "rescheduled", "cancelled", "paused", "resumed")


def recovery_blocks(connection: Connection, episode_id: str) -> list[Any]:
    """Every trail row of the episode's recovery that held a follow-up back, with its reason."""
    return list(
        connection.execute(
            select(recovery_audit)
            .where(recovery_audit.c.episode_id == episode_id, recovery_audit.c.event.in_(BLOCK_EVENTS))
            .order_by(recovery_audit.c.id)
            .limit(200)
        ).all()
    )


def duplicates_linked(connection: Connection, crm: str, case_id: str) -> list[tuple[str, str]]:
    """(other case id, relation) for cases ``ctihub dedup`` linked to this one, either way."""
    rows = connection.execute(
        select(dedup_links.c.duplicate_id, dedup_links.c.master_id).where(
            dedup_links.c.crm == crm,
            or_(dedup_links.c.master_id == case_id, dedup_links.c.duplicate_id == case_id),
        )
    ).all()
    return [
        (r.duplicate_id, "duplicate") if r.master_id == case_id else (r.master_id, "master") for r in rows
    ]


def scan_findings(connection: Connection, crm: str, customer_key: str, family: str) -> list[Any]:
    """What ``ctihub dedup scan`` recorded for this customer and problem (latest plan first)."""
    return list(
        connection.execute(
            select(dedup_audit)
            .where(
                dedup_audit.c.customer_key == customer_key,
                dedup_audit.c.intent_family == family,
                dedup_audit.c.crm == crm,
            )
            .order_by(dedup_audit.c.id.desc())
            .limit(20)
        ).all()
    )


def sibling_cases(
    connection: Connection, crm: str, customer_key: str, family: str, exclude_case: str
) -> list[Any]:
    """Other cases/tickets of the same customer and intent family (their other episodes)."""
    return list(
        connection.execute(
            select(
                episode_cases.c.case_id,
                episode_cases.c.object,
                episode_cases.c.created_by_hub,
                episodes.c.status,
            )
            .select_from(episodes.join(episode_cases, episode_cases.c.episode_id == episodes.c.id))
            .where(
                episodes.c.customer_key == customer_key,
                episodes.c.intent_family == family,
                episode_cases.c.crm == crm,
                episode_cases.c.case_id != exclude_case,
            )
            .order_by(episodes.c.opened_at.desc())
            .limit(20)
        ).all()
    )


def version(connection: Connection, episode_ids: list[str], customer_key: str | None) -> str:
    """A cheap fingerprint of what the panel shows: it changes whenever something new is recorded
    for these episodes (an event, an SLA history entry, a recovery step, an agent's action) or the
    customer's open episodes change. Two statements, each answered from indexes."""
    if not episode_ids:
        return "none"
    latest = [
        select(func.max(table.c.id)).where(column.in_(episode_ids)).scalar_subquery()
        for table, column in (
            (inbox, inbox.c.episode_id),
            (sla_events, sla_events.c.episode_id),
            (recovery_audit, recovery_audit.c.episode_id),
            (panel_actions, panel_actions.c.episode_id),
            (disposition_corrections, disposition_corrections.c.episode_id),
        )
    ]
    parts: list[object] = list(connection.execute(select(*latest)).one())
    listed = episodes.c.id.in_(episode_ids)
    if customer_key:
        listed = or_(listed, and_(episodes.c.customer_key == customer_key, episodes.c.status == "open"))
    states = connection.execute(
        select(episodes.c.id, episodes.c.status, episodes.c.last_event_at).where(listed)
    ).all()
    parts += sorted((s.id, s.status, _text(s.last_event_at)) for s in states)
    return json.dumps(parts, default=str, separators=(",", ":"))


def _text(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


# --- screen pop -----------------------------------------------------------------------------------


def customer_by_identifier(connection: Connection, kind: str, value: str) -> str | None:
    return connection.execute(
        select(customer_identifiers.c.customer_key).where(
            customer_identifiers.c.kind == kind,
            customer_identifiers.c.value == value,
            customer_identifiers.c.valid.is_(True),
        )
    ).scalar()


def current_episode_case(connection: Connection, customer_key: str, crm: str) -> list[Any]:
    """The customer's open episodes that have a case/ticket in ``crm``, latest activity first."""
    return list(
        connection.execute(
            select(
                episodes.c.id,
                episodes.c.intent,
                episodes.c.last_event_at,
                episode_cases.c.object,
                episode_cases.c.case_id,
            )
            .select_from(episodes.join(episode_cases, episode_cases.c.episode_id == episodes.c.id))
            .where(
                episodes.c.customer_key == customer_key,
                episodes.c.status == "open",
                episode_cases.c.crm == crm,
            )
            .order_by(episodes.c.last_event_at.desc())
        ).all()
    )
