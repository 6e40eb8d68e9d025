"""What the hub wrote to the CRM: the case of each episode and the records of each event."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, and_, select

from hub.ports import LinkResult, RecordRef
from hub.store.sql import insert_ignoring_conflicts
from hub.store.tables import episode_cases, event_links


def episode_case(connection: Connection, episode_id: str, crm: str) -> RecordRef | None:
    row = connection.execute(
        select(episode_cases).where(
            and_(episode_cases.c.episode_id == episode_id, episode_cases.c.crm == crm)
        )
    ).first()
    return (
        RecordRef(crm=row.crm, object=row.object, id=row.case_id, created=row.created_by_hub) if row else None
    )


def record_episode_case(connection: Connection, episode_id: str, case: RecordRef, now: datetime) -> RecordRef:
    """Remember the episode's case; if another worker recorded one first, theirs is returned."""
    insert_ignoring_conflicts(
        connection,
        episode_cases,
        {
            "episode_id": episode_id,
            "crm": case.crm,
            "object": case.object,
            "case_id": case.id,
            "created_by_hub": case.created,
            "linked_at": now,
        },
        ["episode_id", "crm"],
    )
    recorded = episode_case(connection, episode_id, case.crm)
    assert recorded is not None
    return recorded


def record_event_links(connection: Connection, inbox_id: int, result: LinkResult, now: datetime) -> None:
    insert_ignoring_conflicts(
        connection,
        event_links,
        {
            "inbox_id": inbox_id,
            "crm": result.case.crm,
            "case_object": result.case.object,
            "case_id": result.case.id,
            "case_created": result.case.created,
            "activity_object": result.activity.object,
            "activity_id": result.activity.id,
            "activity_created": result.activity.created,
            "linked_at": now,
        },
        ["inbox_id", "crm"],
    )
