"""Dedup records: ambiguous identity matches, the audit log of repair plans, the hub-side duplicate
links (and the episode/event links they re-point, kept so ``ctihub dedup undo`` can restore them),
and the counters read by ``hub.services.dedup_metrics``."""

from __future__ import annotations

import json
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, and_, delete, func, select, update

from hub.store.customers import Resolution
from hub.store.dedup_tables import ambiguous_matches, dedup_audit, dedup_links
from hub.store.sql import insert_ignoring_conflicts
from hub.store.tables import episode_cases, event_links

PLANNED, APPLIED, FAILED, SKIPPED, UNDONE, UNDO_FAILED = (
    "planned",
    "applied",
    "failed",
    "skipped",
    "undone",
    "undo_failed",
)


# -- ambiguous matches ------------------------------------------------------------------------------


def record_ambiguous(
    connection: Connection, resolution: Resolution, *, event_ref: str, inbox_id: int | None, now: datetime
) -> bool:
    """Record that this event's identity was ambiguous (once per event, even when retried)."""
    return bool(
        insert_ignoring_conflicts(
            connection,
            ambiguous_matches,
            {
                "event_ref": event_ref[:310],
                "inbox_id": inbox_id,
                "reason": resolution.reason,
                "identifiers": json.dumps(
                    [{"kind": i.kind, "value": i.value} for i in resolution.identifiers]
                ),
                "candidates": json.dumps(list(resolution.candidates)),
                "assigned_key": resolution.key,
                "at": now,
            },
            ["event_ref"],
        )
    )


def ambiguous(
    connection: Connection, *, include_resolved: bool = False, limit: int = 100
) -> list[dict[str, Any]]:
    query = select(ambiguous_matches).order_by(ambiguous_matches.c.id).limit(limit)
    if not include_resolved:
        query = query.where(ambiguous_matches.c.resolved_at.is_(None))
    return [
        {
            **row._mapping,
            "identifiers": json.loads(row.identifiers),
            "candidates": json.loads(row.candidates),
        }
        for row in connection.execute(query)
    ]


# -- audit ----------------------------------------------------------------------------------------


def audit(
    connection: Connection,
    *,
    plan_id: str,
    state: str,
    crm: str,
    customer_key: str,
    intent_family: str,
    policy: str,
    master_id: str,
    duplicate_ids: Iterable[str],
    irreversible: bool,
    reason: str,
    details: dict[str, Any] | None = None,
    actor: str | None = None,
    now: datetime,
) -> None:
    connection.execute(
        dedup_audit.insert().values(
            plan_id=plan_id,
            state=state,
            crm=crm,
            customer_key=customer_key,
            intent_family=intent_family,
            policy=policy,
            master_id=master_id,
            duplicate_ids=json.dumps(list(duplicate_ids)),
            irreversible=irreversible,
            reason=reason,
            details=json.dumps(details or {}, default=str),
            actor=actor,
            at=now,
        )
    )


def audit_rows(connection: Connection, plan_id: str | None = None) -> list[dict[str, Any]]:
    query = select(dedup_audit).order_by(dedup_audit.c.id)
    if plan_id is not None:
        query = query.where(dedup_audit.c.plan_id == plan_id)
    return [
        {**row._mapping, "duplicate_ids": json.loads(row.duplicate_ids), "details": json.loads(row.details)}
        for row in connection.execute(query)
    ]


def plan_state(connection: Connection, plan_id: str) -> str | None:
    """The latest state recorded for a plan."""
    return connection.execute(
        select(dedup_audit.c.state)
        .where(dedup_audit.c.plan_id == plan_id)
        .order_by(dedup_audit.c.id.desc())
        .limit(1)
    ).scalar()


# -- hub-side links ---------------------------------------------------------------------------------


def link_duplicates(
    connection: Connection,
    *,
    crm: str,
    master_id: str,
    duplicate_ids: Iterable[str],
    plan_id: str,
    now: datetime,
) -> dict[str, Any]:
    """Make ``master_id`` the case of record for each duplicate inside the hub.

    Adds a ``dedup_links`` row per duplicate and re-points the episodes and events linked to a
    duplicate at the master. Returns what was there before, for ``restore``.
    """
    duplicates = [d for d in duplicate_ids if d != master_id]
    before: dict[str, Any] = {"links": [], "episode_cases": [], "event_links": []}
    if not duplicates:
        return before
    before["links"] = [
        dict(row._mapping)
        for row in connection.execute(
            select(dedup_links).where(dedup_links.c.crm == crm, dedup_links.c.duplicate_id.in_(duplicates))
        )
    ]
    connection.execute(
        delete(dedup_links).where(dedup_links.c.crm == crm, dedup_links.c.duplicate_id.in_(duplicates))
    )
    connection.execute(
        dedup_links.insert(),
        [
            {"crm": crm, "duplicate_id": d, "master_id": master_id, "plan_id": plan_id, "linked_at": now}
            for d in duplicates
        ],
    )
    # Anything already pointing at a duplicate follows it to the master (chains stay one level deep).
    connection.execute(
        update(dedup_links)
        .where(dedup_links.c.crm == crm, dedup_links.c.master_id.in_(duplicates))
        .values(master_id=master_id)
    )
    before["episode_cases"] = [
        {"episode_id": row.episode_id, "case_id": row.case_id}
        for row in connection.execute(
            select(episode_cases.c.episode_id, episode_cases.c.case_id).where(
                episode_cases.c.crm == crm, episode_cases.c.case_id.in_(duplicates)
            )
        )
    ]
    connection.execute(
        update(episode_cases)
        .where(episode_cases.c.crm == crm, episode_cases.c.case_id.in_(duplicates))
        .values(case_id=master_id)
    )
    before["event_links"] = [
        {"inbox_id": row.inbox_id, "case_id": row.case_id}
        for row in connection.execute(
            select(event_links.c.inbox_id, event_links.c.case_id).where(
                event_links.c.crm == crm, event_links.c.case_id.in_(duplicates)
            )
        )
    ]
    connection.execute(
        update(event_links)
        .where(event_links.c.crm == crm, event_links.c.case_id.in_(duplicates))
        .values(case_id=master_id)
    )
    return before


def restore(connection: Connection, *, crm: str, plan_id: str, before: dict[str, Any]) -> None:
    """Undo ``link_duplicates``: the plan's links go, the episode and event links point back."""
    connection.execute(delete(dedup_links).where(dedup_links.c.crm == crm, dedup_links.c.plan_id == plan_id))
    for link in before.get("links", ()):
        insert_ignoring_conflicts(
            connection,
            dedup_links,
            {**link, "linked_at": datetime.fromisoformat(link["linked_at"])}
            if isinstance(link.get("linked_at"), str)
            else link,
            ["crm", "duplicate_id"],
        )
    for row in before.get("episode_cases", ()):
        connection.execute(
            update(episode_cases)
            .where(and_(episode_cases.c.episode_id == row["episode_id"], episode_cases.c.crm == crm))
            .values(case_id=row["case_id"])
        )
    for row in before.get("event_links", ()):
        connection.execute(
            update(event_links)
            .where(and_(event_links.c.inbox_id == row["inbox_id"], event_links.c.crm == crm))
            .values(case_id=row["case_id"])
        )


# -- counters ---------------------------------------------------------------------------------------


def counters(connection: Connection) -> dict[str, Any]:
    """Duplicates prevented at creation, repaired (by policy), and ambiguous matches.

    prevented: events that found their episode's case/ticket already there and were attached to it
    instead of creating one (``event_links.case_created`` false). repaired: duplicates of applied
    plans not undone since. ambiguous: matches still waiting for an agent, by reason.
    """
    prevented = connection.execute(
        select(func.count()).select_from(event_links).where(event_links.c.case_created.is_(False))
    ).scalar_one()
    repaired: dict[str, int] = {"attach": 0, "link_only": 0, "merge": 0}
    latest = (
        select(dedup_audit.c.plan_id, func.max(dedup_audit.c.id).label("last"))
        .where(dedup_audit.c.state.in_((APPLIED, UNDONE)))
        .group_by(dedup_audit.c.plan_id)
        .subquery()
    )
    rows = connection.execute(
        select(dedup_audit.c.policy, dedup_audit.c.duplicate_ids, dedup_audit.c.details)
        .join(latest, dedup_audit.c.id == latest.c.last)
        .where(dedup_audit.c.state == APPLIED)
    ).all()
    for row in rows:
        done = json.loads(row.details).get("done")
        count = len(done) if isinstance(done, list) else len(json.loads(row.duplicate_ids))
        repaired[row.policy] = repaired.get(row.policy, 0) + count
    by_reason = dict(
        connection.execute(
            select(ambiguous_matches.c.reason, func.count())
            .where(ambiguous_matches.c.resolved_at.is_(None))
            .group_by(ambiguous_matches.c.reason)
        ).all()
    )
    return {
        "duplicates_prevented": int(prevented),
        "duplicates_repaired": repaired,
        "duplicates_merged": repaired.get("merge", 0),
        "ambiguous": int(sum(by_reason.values())),
        "ambiguous_by_reason": {k: int(v) for k, v in by_reason.items()},
    }
