"""Disposition corrections made by agents in the panel, as the metrics read them.

The ``disposition_corrections`` table belongs to the agent panel (issue "agent panel": ``id,
inbox_id, episode_id, crm, record_id, original_code, corrected_code, corrected_by, reason,
corrected_at``). It is read here by name, through one query, so the metrics work before and after
that table exists: without it, accuracy is unknown (``None``), not 100 %.
"""

from __future__ import annotations

from sqlalchemy import Connection, column, func, inspect, select, table

from hub.store.metrics_tables import metric_inquiries

TABLE = "disposition_corrections"


def corrected_activities(
    connection: Connection, first: str, last: str, *, channel: str | None = None, intent: str | None = None
) -> int | None:
    """Activities (events) of the inquiries first contacted in [first, last] whose disposition an
    agent corrected, each counted once; ``None`` when the corrections table does not exist."""
    if not inspect(connection).has_table(TABLE):
        return None
    corrections = table(TABLE, column("inbox_id"), column("episode_id"))
    i = metric_inquiries.c
    query = (
        select(func.count(func.distinct(corrections.c.inbox_id)))
        .select_from(corrections.join(metric_inquiries, i.episode_id == corrections.c.episode_id))
        .where(i.day >= first, i.day <= last)
    )
    if channel:
        query = query.where(i.channel == channel)
    if intent:
        query = query.where(i.intent == intent)
    return int(connection.execute(query).scalar_one())
